"""Every lifecycle event of the fleet, in one log and one summary.

An event is one JSON line: ``init`` (an environment, or one worker of it, finished its init),
``invocation`` (an invocation ended: its caller, or the warm-up that ran it, has the answer),
``reclaim`` (idle past the time drawn for it), ``recycle`` (older than the maximum age),
``death`` (its process exited or timed out, during a request or while idle), ``ended`` (the
processes of an environment taken out of service by a reclaim, a recycle or a death have been
stopped; ``after`` says which), ``throttle`` (a request refused at the concurrency limit) and
``stop`` (the fleet shut it down).

Each carries ``seq``, its place in the log (1, 2, ...: the order the fleet recorded them, one
lock), ``t``, the seconds since the fleet started on its own clock, so a log reads the same
whatever the time-compression factor, and the wall-clock ``time``. Tests assert what must
come before what on ``seq`` (a refusal before the busy request ends, a dead environment's
answer before its processes are stopped), never on elapsed seconds: an order does not
depend on how loaded the machine is.

``summary()`` counts them per function: what a reader of ``make serve``'s output, the
replay's report and the tests all look at, so each of them counts the same way.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVENT_KINDS = ("init", "invocation", "reclaim", "recycle", "death", "ended", "throttle", "stop")


class LifecycleLog:
    """A thread-safe list of lifecycle events, mirrored to a JSON-lines file when given a path."""

    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._started = clock()
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def record(self, event: str, function: str, environment: str, **details: Any) -> dict[str, Any]:
        if event not in EVENT_KINDS:
            raise ValueError(f"unknown lifecycle event {event!r}; one of {', '.join(EVENT_KINDS)}")
        with self._lock:
            # Numbered and timed under the lock, so ``seq`` and ``t`` never disagree on the order.
            entry = {"seq": len(self._events) + 1, "t": round(self._clock() - self._started, 3),
                     "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "event": event, "function": function, "environment": environment, **details}
            self._events.append(entry)
            if self.path is not None:
                with self.path.open("a") as out:
                    out.write(json.dumps(entry) + "\n")
        return dict(entry)

    def events(self, event: str | None = None, function: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._events
                    if (event is None or e["event"] == event) and (function is None or e["function"] == function)]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per function: how many of each event, environments started, cold starts, init times."""
        by_function: dict[str, dict[str, Any]] = {}
        for function in sorted({e["function"] for e in self.events()}):
            events = self.events(function=function)
            counts = Counter(e["event"] for e in events)
            inits = [e for e in events if e["event"] == "init"]
            init_ms = [e["init_ms"] for e in inits if isinstance(e.get("init_ms"), (int, float))]
            by_function[function] = {
                **{kind: counts.get(kind, 0) for kind in EVENT_KINDS},
                "environments_started": len({e["environment"] for e in inits}),
                # An init paid by a caller's request, not by provisioning or a background start.
                "cold_starts": sum(1 for e in inits if e.get("during") == "request"),
                "init_ms_median": round(statistics.median(init_ms), 1) if init_ms else None,
                "init_ms_max": round(max(init_ms), 1) if init_ms else None,
                "deaths_by_cause": dict(Counter(e.get("cause", "?") for e in events if e["event"] == "death")),
            }
        return by_function
