"""Send a plan's requests through the front door at their times, and record every answer.

An open-loop sender: each request leaves at its planned time whether or not earlier ones
have been answered (a closed loop would wait, and hide the very queueing and cold starts
it is meant to show). A pool of sender threads, each with its own keep-alive connection,
does the sending; a request is timed from its planned time, so a sender that fell behind
shows in its latency and in ``lag_ms``. Every planned request ends as one record: an
answer, or the error that stood in for it; none is left out.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from .trace import PlannedRequest, text_for

CLIENT_TIMEOUT_S = 60.0


@dataclass
class Record:
    index: int
    tier: str
    tokens: int
    at_s: float
    trace_s: float
    status: int = 0  # 0: no HTTP answer (the error says why)
    latency_ms: float | None = None
    lag_ms: float | None = None
    cold_start: bool | None = None
    instance: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Sender:
    """One keep-alive connection per sender thread."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._local = threading.local()

    def post(self, body: bytes, tier: str) -> tuple[int, bytes]:
        # No retry: a request that gets no answer is recorded as such, never sent twice.
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(self._host, self._port,
                                                                             timeout=CLIENT_TIMEOUT_S)
        try:
            connection.request("POST", "/predict", body=body, headers={
                "Content-Type": "application/json", "X-Latency-Tier": tier})
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            self._local.connection = None
            raise ConnectionError(f"no answer from the front door: {exc}") from exc


def run_plan(url: str, requests: list[PlannedRequest], *, seed: int = 0, senders: int = 64) -> list[Record]:
    """Send every request at its time; return one record per request, in plan order."""
    sender = _Sender(url)
    records = [Record(r.index, r.tier, r.tokens, r.at_s, r.trace_s) for r in requests]
    bodies = [json.dumps({"inputs": [text_for(r, seed)]}).encode() for r in requests]
    start = time.perf_counter()

    def send(position: int) -> None:
        record, request = records[position], requests[position]
        due = start + request.at_s
        sent = time.perf_counter()
        record.lag_ms = round((sent - due) * 1000, 3)
        try:
            status, payload = sender.post(bodies[position], request.tier)
        except (OSError, ConnectionError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            return
        record.latency_ms = round((time.perf_counter() - due) * 1000, 3)
        record.status = status
        try:
            answer = json.loads(payload)
        except ValueError:
            record.error = f"HTTP {status}, not JSON: {payload[:200]!r}"
            return
        if status == 200:
            record.cold_start, record.instance = answer.get("cold_start"), answer.get("instance")
        else:
            error = answer.get("error") if isinstance(answer, dict) else None
            record.error = f"HTTP {status}: {error.get('code') if isinstance(error, dict) else answer}"

    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="replay") as pool:
        for position, request in enumerate(requests):
            delay = start + request.at_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, position)
    return records
