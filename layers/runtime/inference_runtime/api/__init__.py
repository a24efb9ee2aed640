"""The HTTP surface of the inference function: routes, validation, error responses, events."""

from .errors import (
    ApiError,
    BadRequestError,
    InternalError,
    MethodNotAllowedError,
    ModelUnavailableError,
    PayloadTooLargeError,
    RouteNotFoundError,
    UnprocessableError,
)
from .events import alb_request_event, warm_event

__all__ = [
    "ApiError",
    "BadRequestError",
    "InternalError",
    "MethodNotAllowedError",
    "ModelUnavailableError",
    "PayloadTooLargeError",
    "RouteNotFoundError",
    "UnprocessableError",
    "alb_request_event",
    "warm_event",
]
