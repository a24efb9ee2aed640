"""The runtime an emulator starts in SnapStart-like mode: it asks the zygote for a forked runtime.

    python -I -S fork_shim.py SOCKET

The emulator starts its runtime as a child process and treats that child's exit as the
runtime's. This shim is that child: it hands its environment and its stdin, stdout and
stderr to the zygote (fork_zygote.py) over the Unix socket, which forks an initialised
runtime that takes them over; the shim then forwards the signals the emulator sends and
exits when the forked runtime does, with its status. It dies with its emulator
(PR_SET_PDEATHSIG), and the forked runtime ends when the shim is gone. Standard library
only, and ``-S``: it starts in a few milliseconds.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: fork_shim.py SOCKET", file=sys.stderr)
        return 2
    try:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the runtime still ends when this shim does
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(argv[1])
        socket.send_fds(connection, [json.dumps(dict(os.environ)).encode()], [0, 1, 2])
    except OSError as exc:
        print(f"fork_shim: the zygote at {argv[1]} cannot be reached ({exc}); is the SnapStart-like fleet "
              "running?", file=sys.stderr)
        return 1
    replies = connection.makefile("r")
    first = replies.readline().split()
    if len(first) != 2 or first[0] != "pid":
        print(f"fork_shim: the zygote did not fork a runtime (it said {first!r})", file=sys.stderr)
        return 1
    child = int(first[1])

    def forward(signum: int, _: object) -> None:
        try:
            os.kill(child, signum)
        except OSError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    last = replies.readline().split()
    if len(last) == 2 and last[0] == "exit":
        code = int(last[1])
        return code if code >= 0 else 128 - code
    forward(signal.SIGKILL, None)  # the zygote is gone: so must its child be
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
