"""A local Lambda service: the Invoke API on loopback, in front of one fleet per function.

Each fleet (``tools.local.fleet``) gives a function Lambda's lifecycle with real emulator
processes: an idle environment is reused, a new one pays its cold start, one more than
the concurrency limit allows is refused at once. This server speaks the Invoke API over
HTTP for them, so boto3's Lambda client (``endpoint_url``) and the keep-warm function talk
to it unchanged, and gets Lambda's answers:

- 200 with the function's payload; ``X-Amz-Function-Error: Unhandled`` when the function
  failed, including an environment that died mid-invocation (``Runtime.ExitError``) or
  timed out (``Sandbox.Timedout``): the caller learns at once, the fleet replaces it;
- 429 ``TooManyRequestsException`` (reason ``ReservedFunctionConcurrentInvocationLimitExceeded``)
  when every environment is busy and no more may start;
- 404 ``ResourceNotFoundException`` for a function it does not serve, 400
  ``InvalidRequestContentException`` for a payload that is not JSON, 400
  ``InvalidParameterValueException`` for an invocation type other than RequestResponse or DryRun.

The error type is in the ``X-Amzn-ErrorType`` header, as Lambda sends it (botocore reads it
from there). ``GET /local/fleet`` answers every fleet's lifecycle summary (not a Lambda API).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from .emulator import InvokeError
from .fleet import Fleet, ThrottledError
from .loopback import LoopbackServer, QuietHandler

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
FLEET_SUMMARY_PATH = "/local/fleet"


def function_name_from(path_name: str) -> str:
    """``StandardFunction``, an alias ARN or a ``name:qualifier`` -> the function's name."""
    name = unquote(path_name)
    if name.startswith("arn:"):
        # arn:aws:lambda:region:account:function:NAME[:QUALIFIER]
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else name
    return name.split(":")[0]


def _error(error_type: str, message: str, **extra: Any) -> tuple[dict[str, Any], dict[str, str]]:
    return {"Type": "User", "message": message, **extra}, {"X-Amzn-ErrorType": error_type}


class LambdaService(LoopbackServer):
    """The Lambda Invoke API on 127.0.0.1 for a set of fleets, by function name."""

    def __init__(self, fleets: dict[str, Fleet], port: int = 0) -> None:
        self.fleets = fleets
        service = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.split("?")[0] == FLEET_SUMMARY_PATH:
                    return self._reply(200, {name: fleet.summary() for name, fleet in service.fleets.items()})
                body, headers = _error("ResourceNotFoundException", f"no such API: GET {self.path}")
                self._reply(404, body, headers)

            def do_POST(self) -> None:  # noqa: N802
                match = _INVOKE_PATH.match(self.path.split("?")[0])
                payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not match:
                    body, headers = _error("ResourceNotFoundException", f"no such API: POST {self.path}")
                    return self._reply(404, body, headers)
                name = function_name_from(match["name"])
                fleet = service.fleets.get(name)
                if fleet is None:
                    body, headers = _error("ResourceNotFoundException", f"Function not found: {name}; this local "
                                           f"service serves {', '.join(sorted(service.fleets))}")
                    return self._reply(404, body, headers)
                invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
                if invocation_type not in ("RequestResponse", "DryRun"):
                    body, headers = _error("InvalidParameterValueException", f"InvocationType {invocation_type!r} is "
                                           "not emulated here; use RequestResponse (or DryRun)")
                    return self._reply(400, body, headers)
                try:
                    json.loads(payload or b"{}")
                except ValueError as exc:
                    body, headers = _error("InvalidRequestContentException",
                                           f"Could not parse request body into json: {exc}; send a JSON document")
                    return self._reply(400, body, headers)
                if invocation_type == "DryRun":
                    return self.reply(204, {}, b"")
                self._invoke(fleet, payload or b"{}")

            def _invoke(self, fleet: Fleet, payload: bytes) -> None:
                try:
                    invocation = fleet.invoke_raw(payload)
                except ThrottledError as exc:
                    body, headers = _error("TooManyRequestsException", str(exc), Reason=ThrottledError.REASON)
                    return self._reply(429, body, headers)
                except InvokeError as exc:
                    body, headers = _error("ServiceException", str(exc))
                    return self._reply(500, body, headers)
                headers = {"X-Amz-Executed-Version": "$LATEST",
                           # Not Lambda's: where it ran, for local tools and tests.
                           "X-Local-Environment": invocation.environment,
                           "X-Local-Cold-Start": str(invocation.cold).lower()}
                if invocation.function_error:
                    headers["X-Amz-Function-Error"] = invocation.function_error
                self._reply(200, invocation.payload, headers)

            def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.reply(status, {"Content-Type": "application/json", **(headers or {})}, data)

        super().__init__(Handler, port)

    @property
    def endpoint_url(self) -> str:
        return self.url

    def __enter__(self) -> LambdaService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
