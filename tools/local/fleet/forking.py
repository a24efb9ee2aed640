"""The SnapStart-like fleet: environments start by forking one initialised process.

Lambda SnapStart initialises a version once, snapshots it, and resumes every new
environment from the snapshot, running the after-restore hooks in each. Locally the
snapshot is a live process, the zygote (fork_zygote.py), initialised when the fleet
starts; each environment is still its own emulator, whose runtime is a shim
(fork_shim.py) that has the zygote fork a child for it. A cold start then costs the
shim's start, the fork and the after-restore hooks instead of the whole init.

The environments' init type is ``snap-start`` (what ``AWS_LAMBDA_INITIALIZATION_TYPE`` says
on Lambda), and ONNX Runtime runs without an intra-op thread pool (``ORT_INTRA_OP_THREADS=1``,
unless the caller sets it): the pool's threads would not survive the fork. Configuration
the function resolved during init (``MODEL_CACHE_DIR`` among it) is the snapshot's, as on
Lambda. The zygote's init is logged as an ``init`` event of the environment ``snapshot``.
"""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404 (fixed argument lists, never a shell)
import tempfile
import time
from pathlib import Path
from typing import Any

from ..emulator import EmulatedFunction, FunctionSpec, InvokeError, runtime_python
from ..processes import stop_process_group
from .environment import Worker
from .fleet import Fleet, FleetConfig

HERE = Path(__file__).resolve().parent
ZYGOTE, SHIM = HERE / "fork_zygote.py", HERE / "fork_shim.py"
SNAPSHOT_TIMEOUT_S = 120.0
FORK_SAFE = {"ORT_INTRA_OP_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


class SnapStartFleet(Fleet):
    """A Fleet whose environments' runtimes are forked from one initialised zygote."""

    def __init__(self, spec: FunctionSpec, config: FleetConfig | None = None, *,
                 env: dict[str, str] | None = None, **kwargs: Any) -> None:
        variables = {**FORK_SAFE, **(env or {}), "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
        super().__init__(spec, config, env=variables, worker_factory=self._forked_worker, **kwargs)
        # A Unix socket's path is limited to ~100 bytes: a short directory of its own.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="zygote-"))
        self.socket_path = self._socket_dir / "fork.sock"
        self._zygote: subprocess.Popen[bytes] | None = None
        self.snapshot: dict[str, Any] = {}

    def _forked_worker(self, environment_id: str, index: int, env: dict[str, str], log_path: Path) -> Worker:
        shim = [runtime_python(), "-I", "-S", str(SHIM), str(self.socket_path)]
        return EmulatedFunction(self.spec, env=env, log_path=log_path, runtime_command=shim)

    def start(self) -> SnapStartFleet:
        self._start_zygote()
        super().start()
        return self

    def _start_zygote(self) -> None:
        log_path = self.run_dir / "snapshot" / "zygote.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        cache = {"MODEL_CACHE_DIR": str(self.run_dir / "snapshot" / "tmp" / "model-cache")}
        environment = EmulatedFunction(self.spec, env={**cache, **self._env}, log_path=log_path).environment()
        command = [runtime_python(), str(ZYGOTE), "--socket", str(self.socket_path), "--handler", self.spec.handler]
        with log_path.open("ab") as log:
            self._zygote = subprocess.Popen(command, cwd=self.spec.code_dir, env=environment,  # nosec B603
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
        while time.monotonic() < deadline:
            report = _snapshot_line(log_path)
            if report is not None and self.socket_path.exists():
                self.snapshot = report
                self.log.record("init", self.name, "snapshot", kind="snapshot", during="snapshot",
                                init_ms=report["init_ms"], os_threads=report["os_threads"])
                return
            if self._zygote.poll() is not None:
                break
            time.sleep(0.02)
        tail = log_path.read_text(errors="replace")[-3000:]
        self._stop_zygote()
        raise InvokeError(f"{self.name}: the SnapStart-like snapshot did not initialise; {log_path}:\n{tail}")

    def stop(self) -> None:
        super().stop()
        self._stop_zygote()

    def _stop_zygote(self) -> None:
        stop_process_group(self._zygote, grace_s=5)
        self._zygote = None
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _snapshot_line(log_path: Path) -> dict[str, Any] | None:
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith('{"event": "snapshot"'):
            return json.loads(line)
    return None

