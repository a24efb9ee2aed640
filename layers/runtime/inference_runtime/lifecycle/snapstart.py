"""SnapStart runtime hooks (``snapshot-restore-py``, part of Lambda's Python runtimes).

SnapStart runs init once, when a version is published, snapshots the environment and
resumes every new environment from that snapshot. So:

- before the snapshot: the model must be loaded and warm, or every restored copy
  would load it again on its first request;
- after each restore: whatever must be unique per environment is made anew: the
  instance id (and the cold-start flag, since this copy has served nothing yet),
  random state (every copy would otherwise draw the same numbers), and clients or
  credentials created before the snapshot (the restore work a model source registers
  with ``on_restore``: the S3 client). The
  trace records the restore, so /warm, /health and the logs tell it apart from an
  ordinary init.

Hooks are registered only where the library is present; on an image or locally
without it, registering is a no-op and the functions below can be called directly.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..log import logger
from .environment import init_type, instance_id, new_instance
from .phases import RestorePhase

if TYPE_CHECKING:
    from .trace import PhaseTrace


class InferenceService(Protocol):
    """What the hooks need of the service (``inference_runtime.service``), without importing it:
    lifecycle sits below the service and never imports upward."""

    trace: PhaseTrace

    def wait_ready(self) -> None: ...

    def load(self) -> Any: ...


_restore_work: list[Callable[[], None]] = []
_restore_lock = threading.Lock()


def on_restore(work: Callable[[], None]) -> None:
    """Run ``work`` in this environment after each SnapStart restore (a source dropping its client).

    Registered by whoever holds what a snapshot must not share (``cache.source_for``), so
    the service carries no callbacks for it.
    """
    with _restore_lock:
        _restore_work.append(work)


def run_restore_work() -> int:
    """Run the registered restore work, in registration order; how many ran."""
    with _restore_lock:
        work = list(_restore_work)
    for callback in work:
        callback()
    return len(work)


def before_snapshot(service: InferenceService) -> None:
    """Make sure the snapshot holds a loaded, warmed model."""
    service.wait_ready()
    service.load()  # raises if the model cannot be loaded: better a failed publish than a broken snapshot
    logger.info("snapshot ready", extra={"event": "before_snapshot", "instance": instance_id()})


def after_restore(service: InferenceService) -> None:
    """Give this restored copy its own identity, randomness and clients."""
    started = service.trace.now_ms()
    previous = instance_id()
    new_instance()
    seed = int.from_bytes(os.urandom(16), "big")
    # Only modules already imported hold state from before the snapshot; one imported
    # later seeds itself from os.urandom in this copy (and init need not import random).
    random = sys.modules.get("random")
    if random is not None:
        random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
    refreshed = run_restore_work()
    service.trace.mark_restore()
    service.trace.record(RestorePhase.AFTER_RESTORE_HOOKS, started, service.trace.now_ms() - started,
                         previous_instance=previous, restore_work=refreshed, at=time.time())
    # Lambda itself reports the restore's duration (RestoreDuration); the init phases in
    # the trace are the snapshot's, so no init metrics are emitted again here.
    logger.info("restored from snapshot", extra={"event": "after_restore", "instance": instance_id(),
                                                 "previous_instance": previous, "init_type": init_type()})


def register_hooks(service: InferenceService) -> bool:
    """Register both hooks with the Lambda runtime; False when SnapStart hooks are unavailable."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, service)
    register_after_restore(after_restore, service)
    return True
