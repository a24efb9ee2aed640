"""One execution environment of the fleet: one worker process, or N of them as on Lambda Managed Instances.

A worker is one Runtime Interface Emulator process with its runtime: it serves one
invocation at a time. An environment holds ``workers`` of them, sharing one ``/tmp``
(``MODEL_CACHE_DIR``) and one lifecycle: they start together, are reclaimed together once
all are idle, and are replaced together when one dies. With one worker (the default) this
is a Lambda execution environment; with N, an LMI execution environment whose Python
runtime runs N worker processes, each with its own init.

The fleet changes these objects under its lock only; they hold state, not policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Worker(Protocol):
    """What the fleet needs of one worker process (``EmulatedFunction`` is one)."""

    log_path: Path

    def start(self) -> object: ...

    def post_invocation(self, payload: bytes, timeout_s: float = ...) -> tuple[int, bytes]: ...

    def alive(self) -> bool: ...

    def runtime_pids(self) -> list[int]: ...

    def init_report_ms(self) -> list[float]: ...

    def stop(self) -> None: ...


STARTING, READY, RETIRING, STOPPED = "starting", "ready", "retiring", "stopped"
ON_DEMAND, PROVISIONED = "on-demand", "provisioned"


@dataclass
class Slot:
    """One worker of an environment and whether it is serving (or initialising) right now."""

    index: int
    worker: Worker
    busy: bool = True
    initialised: bool = False
    dead: bool = False


@dataclass
class Environment:
    id: str
    kind: str
    created_at: float
    cache_dir: Path
    slots: list[Slot] = field(default_factory=list)
    state: str = STARTING
    last_used: float = 0.0
    idle_since: float | None = None
    reclaim_at: float | None = None
    reclaim_drawn_s: float | None = None
    invocations: int = 0

    def idle_slot(self) -> Slot | None:
        return next((s for s in self.slots if not s.busy and not s.dead), None)

    @property
    def fully_idle(self) -> bool:
        return bool(self.slots) and not any(s.busy for s in self.slots)

    @property
    def live(self) -> bool:
        return self.state in (STARTING, READY, RETIRING)

    def workers(self) -> list[Worker]:
        return [s.worker for s in self.slots]
