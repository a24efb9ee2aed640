"""Where one request's time went, for ``Server-Timing`` and the request's log line.

The backend adds what it spends tokenising and running the graph; the API adds its own
serialise time and, on a cold environment's first request, the init phases. Plain
floats in milliseconds, added to (``+=``) rather than set, because one request may call
the backend more than once (a batch split by the tokenizer's limit).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RequestTimings:
    tokenize_ms: float = 0.0
    infer_ms: float = 0.0
