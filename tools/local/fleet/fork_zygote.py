"""SnapStart, locally: initialise the function once, then start each environment by forking it.

Run by the fleet under the function's own interpreter and environment (the runtime venv,
the code directory as working directory), never imported by the tools:

    python fork_zygote.py --socket PATH --handler app.handler

It imports the handler's module (Lambda's init: the model is loaded, verified and warmed)
and runs the before-snapshot hooks, as Lambda does before it takes the snapshot; then it
listens on a Unix socket. Each environment's emulator starts ``fork_shim.py`` as its
runtime; the shim sends its environment (``AWS_LAMBDA_RUNTIME_API`` is that emulator's)
and its stdin, stdout and stderr, and this process forks a child that takes them and runs
awslambdaric's loop against that emulator. awslambdaric sees ``snap-start`` and does what
it does after a restore: asks for ``/runtime/restore/next``, runs the after-restore hooks
(a new instance id, the cold-start flag set again, fresh random state), then serves.

Why it is safe here: the fork happens from this single thread, with no request running.
ONNX Runtime's intra-op thread pool does not survive a fork (the child has only the
forking thread: measured, the session still runs, but its work falls back to the calling
thread), so the fleet sets ``ORT_INTRA_OP_THREADS=1`` (no pool at all) unless told
otherwise, and ``TOKENIZERS_PARALLELISM=false`` (the tokenizers library would disable its
own pool in a forked child anyway). This process reports how many OS threads it had when
it began forking, so a pool that appears is seen.

The parent tells the shim the child's pid, and its exit status when it ends; a child whose
shim goes away (its emulator was killed) ends itself, so no child outlives its environment.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from typing import Any

MAX_FDS = 3


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _thread_names() -> list[str]:
    names = []
    for task in sorted(os.listdir("/proc/self/task")):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                names.append(comm.read().strip())
        except OSError:
            pass
    return names


def initialise(handler: str) -> dict[str, Any]:
    """Lambda's init, once: import the handler's module, then run the before-snapshot hooks."""
    started = time.perf_counter()
    sys.path.insert(0, os.getcwd())
    # Only the hooks runner: awslambdaric's client is imported in each child (see run_child).
    from awslambdaric import lambda_runtime_hooks_runner

    module, _, _ = handler.rpartition(".")
    importlib.import_module(module)
    lambda_runtime_hooks_runner.run_before_snapshot()
    # Objects allocated so far stay shared with every child instead of being copied on write
    # when the collector touches them.
    gc.collect()
    gc.freeze()
    return {"event": "snapshot", "init_ms": round((time.perf_counter() - started) * 1000, 1),
            "python_threads": threading.active_count(), "os_threads": _os_threads(), "thread_names": _thread_names()}


def run_child(connection: socket.socket, environment: dict[str, str], fds: list[int], handler: str) -> None:
    """In the forked child: become the environment's runtime; never returns."""
    os.setpgid(0, 0)
    for target, fd in enumerate(fds[:MAX_FDS]):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.environ.clear()
    os.environ.update(environment)

    def orphaned() -> None:
        # The shim holds the other end; it goes when its emulator goes, and so must this runtime.
        try:
            while connection.recv(1):
                pass
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=orphaned, name="shim-watch", daemon=True).start()
    # Imported here, not in the zygote: importing it sets up the native runtime client (libcurl)
    # for the AWS_LAMBDA_RUNTIME_API of the moment, which is this environment's emulator.
    # Made in the zygote and re-made here, it answered nothing ("No Response from endpoint").
    from awslambdaric import bootstrap
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    client = LambdaRuntimeClient(environment["AWS_LAMBDA_RUNTIME_API"], False)
    # The emulator has no /runtime/restore/next (it answers 404): the restore is this fork, so
    # the child does not ask for one. The rest of awslambdaric's snap-start path runs as on
    # Lambda: the after-restore hooks, then the invocation loop.
    client.restore_next = lambda: None
    try:
        bootstrap.run(handler, client)
    finally:
        os._exit(1)


def receive(connection: socket.socket) -> tuple[dict[str, str], list[int]]:
    message, fds, _, _ = socket.recv_fds(connection, 1 << 20, MAX_FDS)
    return json.loads(message), list(fds)


def serve(listener: socket.socket, handler: str) -> None:
    children: dict[int, socket.socket] = {}

    def stop(*_: object) -> None:
        for pid in list(children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        readable, _, _ = select.select([listener], [], [], 0.1)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                connection = children.pop(pid)
                try:
                    connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                except OSError:
                    pass
                connection.close()
        if not readable:
            continue
        connection, _ = listener.accept()
        try:
            environment, fds = receive(connection)
        except (OSError, ValueError) as exc:
            print(json.dumps({"event": "fork_refused", "error": str(exc)}), flush=True)
            connection.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other in children.values():
                other.close()
            run_child(connection, environment, fds, handler)
        for fd in fds:
            os.close(fd)
        children[pid] = connection
        connection.sendall(f"pid {pid}\n".encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="initialise once, then fork an environment per request")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--handler", required=True)
    args = parser.parse_args(argv)
    report = initialise(args.handler)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(args.socket)
    listener.listen(64)
    print(json.dumps({**report, "socket": args.socket, "pid": os.getpid()}), flush=True)
    serve(listener, args.handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
