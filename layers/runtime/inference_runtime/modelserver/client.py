"""The worker's side: a session whose graph runs in the environment's model server.

``ServerSession`` answers what the ONNX backend asks of an ONNX Runtime session
(``get_inputs``, ``get_outputs``, ``run``), so a worker keeps its tokenizer and task code
and sends only token ids. Connecting starts the server if none runs:

1. connect to the socket; it exists only while a ready server listens on it;
2. else, under the start lock (flock), look at the pid file: if that server is alive (loading),
   wait; if not, start one (a child in its own session, so it outlives this invocation), write its pid;
3. wait, lock released, until the socket accepts, the server dies (pid gone: start again, once),
   or MODEL_SERVER_START_TIMEOUT_S passes.

A request whose connection breaks (the server died) reconnects, which restarts the server,
and is sent once more; if that fails too, or no answer comes within MODEL_SERVER_TIMEOUT_S,
it raises ``ModelServerUnavailableError`` (a ModelNotReadyError: the API answers 503 with
its code). Nothing waits without a deadline.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess  # nosec B404 - the model server is started with a fixed argument list
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..log import logger
from .endpoint import Endpoint, process_alive
from .errors import ModelServerUnavailableError, ProtocolError, RemoteRunError
from .protocol import recv_frame, send_frame

if TYPE_CHECKING:
    from ..config import RuntimeConfig

#: How often a worker looks again while a server loads (a poll of a local socket: cheap).
POLL_S = 0.02
#: Servers one connect may start: the first, and one restart when that one dies loading.
MAX_STARTS = 2


class _Node(NamedTuple):
    """What ``get_inputs``/``get_outputs`` give, as ONNX Runtime's NodeArg does: a name."""

    name: str


class ServerSession:
    """A connection to the environment's model server, shaped like an ONNX Runtime session."""

    def __init__(self, config: RuntimeConfig, *, endpoint: Endpoint | None = None) -> None:
        self.config = config
        self.endpoint = endpoint or Endpoint.for_config(config)
        self.timeout_s = float(config.model_server_timeout_s)
        self.start_timeout_s = float(config.model_server_start_timeout_s)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._next_id = 0
        self.hello: dict[str, Any] = {}
        #: what this session did to reach a server: started, restarted, retried (tests and the trace read it)
        self.events: list[dict[str, Any]] = []
        with self._lock:
            self._ensure_connected()

    # --- what the ONNX backend asks of a session ------------------------------------------
    def get_inputs(self) -> list[_Node]:
        return [_Node(name) for name in self.hello["inputs"]]

    def get_outputs(self) -> list[_Node]:
        return [_Node(self.hello["output"])]

    def get_providers(self) -> list[str]:
        return list(self.hello.get("providers", []))

    @property
    def server_pid(self) -> int:
        return int(self.hello["pid"])

    def run(self, output_names: Sequence[str], feeds: Mapping[str, Any]) -> list[Any]:
        """The graph's output for ``feeds``, run in the server (batched with other workers' requests)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    sock = self._ensure_connected()
                    self._next_id += 1
                    send_frame(sock, {"op": "run", "id": self._next_id}, dict(feeds))
                    header, arrays = recv_frame(sock)
                except TimeoutError as exc:
                    # Not retried: a server that is slow, not dead, would only get more work.
                    self._drop()
                    raise ModelServerUnavailableError(
                        f"the model server gave no answer in {self.timeout_s:.0f} s (MODEL_SERVER_TIMEOUT_S); "
                        "it is overloaded or stuck; try again, or raise the timeout",
                        code="model_server_timeout") from exc
                except (OSError, EOFError, ProtocolError) as exc:
                    self._drop()
                    if attempt == 2:
                        raise ModelServerUnavailableError(
                            f"the model server failed twice for one request ({type(exc).__name__}: {exc}); "
                            "try again: the next request starts a new one") from exc
                    self._event("retried", error=f"{type(exc).__name__}: {exc}")
                    continue
                if header.get("ok"):
                    return [arrays["output"]]
                if header.get("code") == "model_server_stopping" and attempt == 1:
                    self._drop()
                    self._event("retried", error=str(header.get("message")))
                    continue
                raise RemoteRunError(f"the model server could not run the batch: {header.get('message')}")
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- reaching a server -------------------------------------------------------------
    def _ensure_connected(self) -> socket.socket:
        if self._sock is None:
            self._sock = self._connect()
        return self._sock

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.start_timeout_s
        started = 0
        self.endpoint.directory.mkdir(parents=True, exist_ok=True)
        while True:
            sock = self._try_connect()
            if sock is not None:
                return sock
            with self._start_lock():
                pid = self.endpoint.read_pid()
                if pid is None or not process_alive(pid):
                    if started >= MAX_STARTS:
                        raise ModelServerUnavailableError(
                            f"the model server died {started} time(s) before it was ready"
                            f"{self._last_failure()}; the next request tries again")
                    pid = self._start_server(restart=pid is not None)
                    started += 1
            while True:  # wait, lock released, for it to listen, or die
                sock = self._try_connect()
                if sock is not None:
                    return sock
                if not process_alive(pid):
                    break
                if time.monotonic() >= deadline:
                    raise ModelServerUnavailableError(
                        f"the model server (pid {pid}) was not ready in {self.start_timeout_s:.0f} s "
                        "(MODEL_SERVER_START_TIMEOUT_S)", code="model_server_timeout")
                time.sleep(POLL_S)

    def _try_connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(str(self.endpoint.socket))
            send_frame(sock, {"op": "hello"})
            hello, _ = recv_frame(sock)
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError, EOFError,
                ProtocolError):
            sock.close()
            return None
        except OSError:
            sock.close()
            raise
        self.hello = hello
        return sock

    def _start_lock(self) -> Any:
        endpoint = self.endpoint

        class _Held:
            def __enter__(self) -> None:
                self.handle = os.open(endpoint.start_lock, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self.handle, fcntl.LOCK_EX)  # held for a check and a fork only, never a load

            def __exit__(self, *exc: object) -> None:
                fcntl.flock(self.handle, fcntl.LOCK_UN)
                os.close(self.handle)

        return _Held()

    def _start_server(self, *, restart: bool) -> int:
        self.endpoint.socket.unlink(missing_ok=True)  # a dead server's: connecting to it is refused anyway
        env = {**os.environ, **server_environment(self.config)}
        # The server imports this runtime as the worker did, whatever put it on the worker's path.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        process = subprocess.Popen(  # nosec B603 - our own module, a fixed argument list
            [sys.executable, "-m", "inference_runtime.modelserver"], env=env, stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL,
            stderr=sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        # Reap it when it ends, so it never lingers as a zombie that looks alive to this worker.
        threading.Thread(target=process.wait, name="modelserver-reaper", daemon=True).start()
        self.endpoint.write_pid(process.pid)
        self._event("restarted" if restart else "started", server_pid=process.pid)
        return process.pid

    def _last_failure(self) -> str:
        failures = [e for e in self.endpoint.read_events() if e.get("event") == "load_failed"]
        return f" (its last load failed: {failures[-1].get('error')})" if failures else ""

    def _event(self, kind: str, **fields: Any) -> None:
        event = {"event": f"model_server_{kind}", "worker_pid": os.getpid(), **fields}
        self.events.append(event)
        logger.info(f"model server {kind}", extra=event)


def server_environment(config: RuntimeConfig) -> dict[str, str]:
    """The worker's settings that make the server the same model at the same place: the server reads
    its configuration from the environment, and a worker's may have come as explicit arguments."""
    from lambda_shared import env as names

    return {
        names.MODEL_ARTIFACT_DIR: str(config.artifact_dir), names.MODEL_NAME: config.model_name,
        names.MODEL_REGISTRY: str(config.model_registry), names.MODEL_CACHE_DIR: str(config.cache_dir),
        names.MODEL_CACHE_MAX_MB: str(config.cache_max_mb), names.ORT_EXECUTION_PROVIDER: config.execution_provider,
        names.MAX_BATCH_TOKENS: _or_auto(config.max_batch_tokens),
        names.MAX_BATCH_WAIT_MS: str(config.max_batch_wait_ms),
        names.WARMUP_ITERATIONS: _or_auto(config.warmup_iterations),
        names.WARMUP_BATCH_SIZES: ",".join(map(str, config.warmup_batch_sizes)),
        names.WARMUP_SEQUENCE_LENGTHS: ",".join(map(str, config.warmup_sequence_lengths)),
    }


def _or_auto(setting: int | None) -> str:
    return "auto" if setting is None else str(setting)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True
