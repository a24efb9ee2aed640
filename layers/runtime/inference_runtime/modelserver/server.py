"""The model server: one process per execution environment holding the one session, batching for all.

Started by the first worker that finds none (``client.ServerSession``), in its own session
so it outlives that worker's invocation: a Managed-Instances environment runs continuously
between invocations, so a child process keeps running, and the environment's end (SIGTERM,
then SIGKILL) ends it with the workers. It loads with the runtime's one loader (the registry,
the cache, every file checked against its sha256, the backend, warm-up), exactly as an
in-process worker would; it verifies nothing else itself.

Its socket appears only once the model is warm (bound under a temporary name, then renamed),
so a worker that connects gets a ready model or nothing. Connections are read by one thread
each; batch loops (one per core on the CPU, one on a GPU) take the batches (``batching.BatchQueue``),
run them, and route the rows back. A request that finds nothing queued and a loop idle is run by
the thread that read it, on that loop's core (``BatchQueue.claim``): a lone request is never
handed from thread to thread. It exits on SIGTERM, or when its socket or directory is removed
(the local fleet deletes an environment's /tmp with it), answering what is queued with
``model_server_stopping``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..log import logger
from .batching import BatchQueue, Request, max_batch_tokens_for, merge, split
from .endpoint import Endpoint
from .errors import ProtocolError
from .protocol import recv_frame, send_frame

if TYPE_CHECKING:
    from ..config import RuntimeConfig

#: the graph inputs a request may carry (what the tokenizer gives)
GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class ModelServer:
    """Serves one loaded session to the environment's workers over a Unix socket."""

    def __init__(self, *, session: Any, input_names: list[str], output_name: str, pad_token_id: int,
                 model: str, queue: BatchQueue, endpoint: Endpoint, providers: list[str]) -> None:
        self.session = session
        self.input_names = input_names
        self.output_name = output_name
        self.pad_token_id = pad_token_id
        self.model = model
        self.queue = queue
        self.endpoint = endpoint
        self.providers = providers
        self.stopping = threading.Event()
        self.batches = 0
        self._listener: socket.socket | None = None

    # --- serving --------------------------------------------------------------------
    def listen(self) -> None:
        """Bind under a temporary name, then rename onto the socket's path: it appears ready, or not at all."""
        path = self.endpoint.socket
        temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(temporary))
        listener.listen(256)
        os.replace(temporary, path)
        self._listener = listener
        self._inode = path.stat().st_ino

    def serve(self) -> None:
        assert self._listener is not None  # nosec B101 (listen() first)
        for index in range(batch_loops(self.providers)):
            threading.Thread(target=self._batch_loop, name=f"batches-{index}", daemon=True).start()
        threading.Thread(target=self._watch_socket, name="watch", daemon=True).start()
        self._listener.settimeout(0.5)  # so a stop is noticed between connections
        while not self.stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self.stopping.is_set():
                    break
                raise
            threading.Thread(target=self._connection, args=(connection,), name="conn", daemon=True).start()

    def stop(self, reason: str) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        for request in self.queue.close():
            request.reply(None, RuntimeError(f"model_server_stopping: {reason}"))
        try:
            if self.endpoint.socket.exists() and self.endpoint.socket.stat().st_ino == self._inode:
                self.endpoint.socket.unlink()
        except OSError:
            pass
        self.endpoint.record("stopped", reason=reason, batches=self.batches)
        logger.info("model server stopped", extra={"event": "model_server_stopped", "reason": reason})

    def _watch_socket(self) -> None:
        # Our socket gone or replaced: the environment's /tmp was removed, or another server took
        # over after we were thought dead. Either way nobody can reach us any more.
        while not self.stopping.wait(1.0):
            try:
                if self.endpoint.socket.stat().st_ino != self._inode or not self.endpoint.directory.is_dir():
                    break
            except OSError:
                break
        self.stop("socket removed")
        os._exit(0)

    def _connection(self, connection: socket.socket) -> None:
        lock = threading.Lock()

        def send(header: dict[str, Any], arrays: dict[str, Any] | None = None) -> None:
            with lock:
                try:
                    send_frame(connection, header, arrays)
                except OSError:
                    pass  # the worker went away; its request's answer has nowhere to go

        with connection:
            while not self.stopping.is_set():
                try:
                    header, arrays = recv_frame(connection)
                except (EOFError, OSError, ProtocolError):
                    return
                op, request_id = header.get("op"), header.get("id")
                if op == "hello":
                    send({"ok": True, "inputs": self.input_names, "output": self.output_name, "pid": os.getpid(),
                          "model": self.model, "providers": self.providers})
                elif op == "run":
                    problem = self._check(arrays)
                    if problem:
                        send({"id": request_id, "ok": False, "code": "bad_request", "message": problem})
                        continue
                    mask = arrays["attention_mask"]
                    request = Request(rows=int(mask.shape[0]), length=int(mask.sum(axis=1).max(initial=0)),
                                      feeds=arrays, reply=self._replier(send, request_id))
                    if self.queue.claim():  # nothing queued, a core idle: run it here, no hand-off
                        try:
                            self._run_batch([request])
                        finally:
                            self.queue.release()
                    else:
                        self.queue.put(request)
                else:
                    send({"id": request_id, "ok": False, "code": "bad_request", "message": f"unknown op {op!r}"})

    def _check(self, arrays: dict[str, Any]) -> str | None:
        missing = [name for name in self.input_names if name not in arrays]
        if missing or "attention_mask" not in arrays:
            return f"the request lacks input(s) {', '.join(missing or ['attention_mask'])}"
        shapes = {tuple(array.shape) for array in arrays.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            return f"the inputs must be 2-D arrays of one shape (rows, tokens), got {sorted(shapes)}"
        return None

    @staticmethod
    def _replier(send: Any, request_id: Any) -> Any:
        def reply(output: Any, error: BaseException | None) -> None:
            if error is None:
                send({"id": request_id, "ok": True}, {"output": output})
            else:
                code = "model_server_stopping" if str(error).startswith("model_server_stopping") else "run_failed"
                send({"id": request_id, "ok": False, "code": code, "message": str(error)})
        return reply

    def _batch_loop(self) -> None:
        while not self.stopping.is_set():
            batch = self.queue.take()
            if batch:
                self._run_batch(batch)

    def _run_batch(self, batch: list[Request]) -> None:
        """Run one batch and answer each of its requests with its rows (or the error)."""
        import numpy as np

        try:
            feeds = merge(batch, self.input_names, self.pad_token_id)
            output = self.session.run([self.output_name], feeds)[0]
            output = np.ascontiguousarray(output, dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            for request in batch:
                request.reply(None, exc)
            return
        self.batches += 1
        for request, rows in zip(batch, split(output, batch), strict=True):
            request.reply(np.ascontiguousarray(rows), None)


def server_config(config: RuntimeConfig) -> RuntimeConfig:
    """The worker's configuration as the server loads with it: in-process (it IS the session), one
    intra-op thread per run, prepacking on (one process holds the weights: the packed copy is the only one).

    One thread per run, and one batch loop per core (``batch_loops``) rather than one run over
    every core: ONNX Runtime's intra-op threads spin between runs, taking the CPU from the
    workers' tokenizing (measured on 2 cores: a lone request's p50 13.9 ms with 2 intra-op
    threads against 12.6 ms with one and 12.7 ms in process). Warm-up runs unless set to 0: the
    server starts for many workers' requests, none of which should pay the first run.
    """
    warmup = 1 if config.warmup_iterations is None else config.warmup_iterations
    return replace(config, model_server="off", intra_op_threads=1, prepacking=True, warmup_iterations=warmup)


def batch_loops(providers: list[str]) -> int:
    """Batches run at once: one per core on the CPU (a session runs concurrent calls safely);
    one on a GPU, whose one stream would only interleave them."""
    if providers and providers[0] != "CPUExecutionProvider":
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def run_server(config: RuntimeConfig) -> int:
    """Load, listen, serve until SIGTERM; the exit status."""
    from ..lifecycle import PhaseTrace
    from ..loading import ModelLoader

    endpoint = Endpoint.for_config(config)
    endpoint.directory.mkdir(parents=True, exist_ok=True)
    endpoint.record("loading")
    trace = PhaseTrace()
    try:
        loaded = ModelLoader(server_config(config), trace).load()
    except Exception as exc:  # noqa: BLE001 - the reason goes to the workers through the event file
        endpoint.record("load_failed", error=f"{type(exc).__name__}: {exc}")
        logger.error("model server load failed", extra={"event": "model_server_load_failed", "error": str(exc)})
        return 1
    backend: Any = loaded.backend
    # The ONNX backend's session, inputs and output (what it feeds the graph); the server runs
    # the graph on token ids the workers send, not on texts.
    providers = list(backend._session.get_providers())
    server = ModelServer(session=backend._session, input_names=list(backend._input_names),
                         output_name=backend._output_name,
                         pad_token_id=backend.manifest.model.tokenizer.pad_token_id,
                         model=backend.manifest.name,
                         queue=BatchQueue(max_batch_tokens=max_batch_tokens_for(config.max_batch_tokens, providers),
                                          max_wait_s=config.max_batch_wait_ms / 1000.0),
                         endpoint=endpoint, providers=providers)
    server.listen()

    def on_term(signum: int, frame: Any) -> None:
        server.stop(f"signal {signum}")
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    endpoint.record("ready", model=server.model, init_ms=round(trace.total_ms(), 1), socket=str(endpoint.socket),
                    max_batch_tokens=server.queue.max_batch_tokens, batch_loops=batch_loops(providers))
    logger.info("model server ready", extra={"event": "model_server_ready", "socket": str(endpoint.socket),
                                             "trace": trace.to_dict()})
    server.serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    from ..config import RuntimeConfig

    parser = argparse.ArgumentParser(description="The execution environment's model server (started by a worker).")
    parser.parse_args(argv)
    # numpy here only builds and splits arrays; ONNX Runtime has its own threads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    return run_server(RuntimeConfig.from_env())


if __name__ == "__main__":
    sys.exit(main())
