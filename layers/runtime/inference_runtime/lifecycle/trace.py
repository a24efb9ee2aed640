"""The cold-start trace: one record per init phase, relative to the process start.

Phases are recorded with ``with TRACE.phase(InitPhase.NAME):`` (names: ``phases.py``). Times are milliseconds since
the runtime process was created (read from /proc, so the interpreter start and the
imports before this module count too), which lets a waterfall show where the whole
init went, not just the part our code saw.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


def _process_start_wall() -> float:
    """Wall-clock time the current process started, from /proc; falls back to now."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            # Field 22 (starttime, in clock ticks since boot) follows the ")" of the comm field.
            fields = handle.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
        return time.time() - uptime + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


@dataclass
class Phase:
    name: str
    start_ms: float
    duration_ms: float
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        record = {"name": self.name, "start_ms": round(self.start_ms, 3),
                  "duration_ms": round(self.duration_ms, 3)}
        if self.attributes:
            record["attributes"] = self.attributes
        return record


class PhaseTrace:
    """An ordered list of timed phases on one clock."""

    def __init__(self, origin_wall: float | None = None) -> None:
        # perf_counter is monotonic and precise; anchor it to the process start once.
        self._origin = time.perf_counter() - (time.time() - (origin_wall or _process_start_wall()))
        self.phases: list[Phase] = []
        #: True once this environment was restored from a SnapStart snapshot
        self.restored = False

    def now_ms(self) -> float:
        return (time.perf_counter() - self._origin) * 1000.0

    def record(self, name: str, start_ms: float, duration_ms: float, **attributes: Any) -> Phase:
        phase = Phase(str(name), start_ms, duration_ms, dict(attributes))
        self.phases.append(phase)
        return phase

    @contextmanager
    def phase(self, name: str, **attributes: Any) -> Iterator[dict[str, Any]]:
        """Time the block; the yielded dict collects attributes the block wants to attach."""
        start = self.now_ms()
        try:
            yield attributes
        finally:
            self.record(name, start, self.now_ms() - start, **attributes)

    def total_ms(self) -> float:
        return max((p.start_ms + p.duration_ms for p in self.phases), default=0.0)

    def mark_restore(self) -> None:
        """Note a SnapStart restore: phases before it ran when the snapshot was taken."""
        self.restored = True

    def to_dict(self) -> dict[str, Any]:
        return {"phases": [p.to_dict() for p in self.phases], "total_ms": round(self.total_ms(), 3),
                "restored_from_snapshot": self.restored}
