"""Stopping the local servers: each runs in its own process group (start_new_session).

The emulator starts the function's runtime in a process group of its own (same session),
so ending an emulator's group leaves its runtime; ``children_of`` finds it first.
"""

from __future__ import annotations

import contextlib
import os
import signal

# Local tools start their own servers and runtimes with fixed argument lists, never a shell.
import subprocess  # nosec B404
from pathlib import Path


def stop_process_group(process: subprocess.Popen[bytes] | None, *, grace_s: float) -> None:
    """SIGTERM the process and everything it started; SIGKILL what is left after ``grace_s``."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def children_of(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc: a Go program starts them from any of its threads)."""
    found: list[int] = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(child) for child in tasks.read_text().split())
    return sorted(set(found))


def kill_process_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid``, or the process alone; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
