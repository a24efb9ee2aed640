"""Pre-warming policies compared on traces: the simulator, the traces, the report.

``python -m tools.prewarm.report`` replays every trace class against every policy of
``policies.py``: keep-warm's own (``keepwarm/warming``, the classes keep-warm runs) and the
research ones only studied here (``histogram.py``, ``learned.py``), on the lifecycle model of
``tools/lifecycle_model.py``, and writes the comparison and the chosen policy.
"""
