"""The HTTP surface of the inference function: routes, validation, error responses, events.

``spec`` defines every route once (the resolver's registration and the OpenAPI document
come from it); ``openai`` and ``tei`` serve the ecosystem's shapes, imported by their
routes' first request.
"""

from .errors import (
    ApiError,
    BadRequestError,
    InternalError,
    MethodNotAllowedError,
    ModelNotFoundError,
    ModelUnavailableError,
    PayloadTooLargeError,
    RouteNotFoundError,
    TaskNotServedError,
    UnprocessableError,
)
from .events import alb_request_event, warm_event

__all__ = [
    "ApiError",
    "BadRequestError",
    "InternalError",
    "MethodNotAllowedError",
    "ModelNotFoundError",
    "ModelUnavailableError",
    "PayloadTooLargeError",
    "RouteNotFoundError",
    "TaskNotServedError",
    "UnprocessableError",
    "alb_request_event",
    "warm_event",
]
