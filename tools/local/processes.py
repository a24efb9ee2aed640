"""Stopping the local servers: each runs in its own process group (start_new_session)."""

from __future__ import annotations

import os
import signal

# Local tools start their own servers and runtimes with fixed argument lists, never a shell.
import subprocess  # nosec B404


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
