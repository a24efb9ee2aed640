"""What one invocation of one worker came to, in Lambda's terms.

The emulator reports a runtime that exited mid-invocation as HTTP 502 with a
``Runtime.ExitError`` document, and one that ran past its timeout as a bare
``Task timed out after N seconds``; a worker whose emulator itself is gone cannot be
reached at all. Lambda answers all three with a function error (HTTP 200 and
``X-Amz-Function-Error: Unhandled``) and replaces the environment. ``classify`` maps
each to that answer and says why the environment is done (``death``), so the caller gets
a clear error at once and the fleet starts another environment next time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..emulator import function_error

UNHANDLED = "Unhandled"


@dataclass(frozen=True)
class Outcome:
    """The payload the caller gets, whether it is a function error, and why the environment died (if it did)."""

    payload: bytes
    function_error: str | None = None
    death: str | None = None


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def classify(status: int, body: bytes, *, function: str) -> Outcome:
    """The outcome of an invocation the emulator answered with ``status`` and ``body``."""
    if status == 200 and body.startswith(b"Task timed out"):
        message = body.decode(errors="replace").strip()
        return Outcome(_error("Sandbox.Timedout", f"{function}: {message}; the environment is replaced"),
                       UNHANDLED, death="timeout")
    if status >= 300:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and document.get("errorType") == "Runtime.ExitError":
            return Outcome(body, UNHANDLED, death="exit")
        text = body[:300].decode(errors="replace")
        return Outcome(_error("Runtime.Unknown", f"{function}: the emulator answered HTTP {status}: {text}"),
                       UNHANDLED, death="emulator error")
    return Outcome(body, UNHANDLED if function_error(body) is not None else None)


def unreachable(function: str, reason: str) -> Outcome:
    """The outcome when the environment's process is gone mid-invocation (killed, crashed)."""
    return Outcome(_error("Runtime.ExitError", f"{function}: Runtime exited without providing a reason ({reason}); "
                                               "the environment is replaced: retry the request"),
                   UNHANDLED, death="killed")
