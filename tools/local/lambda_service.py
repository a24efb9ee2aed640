"""A local Lambda service: the Invoke API on loopback, backed by pools of emulator environments.

One Runtime Interface Emulator process is one execution environment, and it serves
one invocation at a time (a second concurrent invocation crashes it). Lambda itself
places concurrent invocations on distinct environments, reusing an idle one when it
can and initialising a new one when none is idle. ``FunctionPool`` does the same with
emulator processes, so locally, as in the cloud:

- N overlapping invocations land on N distinct environments (what keep-warm relies on);
- an idle environment is reused, and stays warm;
- a new environment pays the cold start on its first invocation.

``LambdaService`` serves the Lambda Invoke API over HTTP for these pools, so boto3's
Lambda client (``endpoint_url``) and the keep-warm function talk to it unchanged.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import unquote

from .emulator import FUNCTIONS, EmulatedFunction, InvokeError, decode_result, function_error
from .loopback import LoopbackServer, QuietHandler

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


class FunctionPool:
    """Execution environments of one function; grows on concurrency up to a limit."""

    def __init__(self, logical_id: str, *, max_environments: int = 4,
                 env: dict[str, str] | None = None) -> None:
        self.spec = FUNCTIONS[logical_id]
        self.max_environments = max_environments
        self._env = env or {}
        self._idle: list[EmulatedFunction] = []
        self._all: list[EmulatedFunction] = []
        self._available = threading.Condition()

    def _acquire(self, timeout_s: float) -> EmulatedFunction:
        with self._available:
            while True:
                if self._idle:
                    # Most recently used first, as Lambda prefers a warm environment.
                    return self._idle.pop()
                if len(self._all) < self.max_environments:
                    environment = EmulatedFunction(self.spec, env=self._env)
                    self._all.append(environment)
                    break
                if not self._available.wait(timeout=timeout_s):
                    raise InvokeError(f"{self.spec.logical_id}: all {self.max_environments} "
                                      "environments stayed busy (TooManyRequestsException in Lambda)")
        try:
            return environment.start()
        except BaseException:
            with self._available:
                self._all.remove(environment)
                self._available.notify()
            raise

    def _release(self, environment: EmulatedFunction) -> None:
        with self._available:
            self._idle.append(environment)
            self._available.notify()

    def invoke_raw(self, payload: bytes, timeout_s: float = 120.0) -> bytes:
        environment = self._acquire(timeout_s)
        try:
            return environment.invoke_raw(payload, timeout_s)
        finally:
            self._release(environment)

    def invoke(self, event: dict[str, Any], timeout_s: float = 120.0) -> dict[str, Any]:
        return decode_result(self.spec.logical_id, self.invoke_raw(json.dumps(event).encode(), timeout_s))

    def prewarm(self, event: dict[str, Any]) -> dict[str, Any]:
        """Initialise one environment before traffic, as provisioned concurrency does."""
        return self.invoke(event)

    @property
    def environments(self) -> list[EmulatedFunction]:
        return list(self._all)

    def stop(self) -> None:
        with self._available:
            environments, self._all, self._idle = self._all, [], []
        for environment in environments:
            environment.stop()


def function_name_from(path_name: str) -> str:
    """``StandardFunction``, an alias ARN or a ``name:qualifier`` -> the function's name."""
    name = unquote(path_name)
    if name.startswith("arn:"):
        # arn:aws:lambda:region:account:function:NAME[:QUALIFIER]
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else name
    return name.split(":")[0]


class LambdaService(LoopbackServer):
    """The Lambda Invoke API on 127.0.0.1 for a set of function pools."""

    def __init__(self, pools: dict[str, FunctionPool], port: int = 0) -> None:
        self.pools = pools
        service = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                match = _INVOKE_PATH.match(self.path.split("?")[0])
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not match:
                    return self._reply(404, {"Type": "User", "message": f"no such API {self.path}"})
                name = function_name_from(match["name"])
                pool = service.pools.get(name)
                if pool is None:
                    return self._reply(404, {"Type": "User", "__type": "ResourceNotFoundException",
                                             "message": f"Function not found: {name}"})
                try:
                    result = pool.invoke_raw(body)
                except InvokeError as exc:
                    return self._reply(429, {"Type": "User", "__type": "TooManyRequestsException",
                                             "message": str(exc)})
                unhandled = function_error(result) is not None
                self._reply(200, result, {"X-Amz-Function-Error": "Unhandled"} if unhandled else None)

            def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.reply(status, {"Content-Type": "application/json", **(headers or {})}, data)

        super().__init__(Handler, port)

    @property
    def endpoint_url(self) -> str:
        return self.url

    def stop(self) -> None:
        super().stop()
        for pool in self.pools.values():
            pool.stop()

    def __enter__(self) -> LambdaService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
