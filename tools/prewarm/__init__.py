"""Pre-warming policies compared on traces: the simulator, the traces, the report.

``python -m tools.prewarm.report`` replays every trace class against every policy of
``inference_runtime.prewarm`` (the classes keep-warm runs) on the lifecycle model of
``tools/lifecycle_model.py``, and writes the comparison and the chosen policy.
"""
