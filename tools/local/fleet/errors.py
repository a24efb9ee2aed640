"""The fleet's errors, in Lambda's terms: the caller learns what happened and what to do."""

from __future__ import annotations

from ..emulator import InvokeError


class FleetConfigError(ValueError):
    """Raised when a fleet is configured with values it cannot run (a limit below 1, more provisioned than allowed)."""


class ThrottledError(InvokeError):
    """Raised when an invocation finds no idle environment and the function is at its concurrency limit.

    Lambda answers such an invocation at once with 429 ``TooManyRequestsException``; it never
    queues it behind a busy environment, and neither does the fleet.
    """

    #: The reason Lambda gives when a function's own concurrency limit is reached.
    REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function: str, limit: int, workers: int) -> None:
        self.function = function
        self.limit = limit
        slots = f"{limit} environments" if workers == 1 else f"{limit} environments of {workers} workers"
        super().__init__(
            f"Rate Exceeded. {function} is at its concurrency limit: all {slots} are busy, and the fleet may "
            f"start no more ({self.REASON}). Retry later, send fewer requests at once, or raise the limit "
            "(--max-environments)."
        )
