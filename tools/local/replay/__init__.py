"""Replay real traffic through the local front door: ``python -m tools.local.replay``.

The Azure LLM inference trace's arrival times (tools/data/azure-llm-inference-2023, CC-BY
4.0) drive requests to both tiers of a local deployment (a fleet per tier, with Lambda's
lifecycle, its times divided by the same compression factor as the traffic's). ``trace``
makes the plan, ``runner`` sends it open-loop and records every answer, ``report`` writes
results.json, results.md and latency.png.
"""
