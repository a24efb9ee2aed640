"""Dispatch an Application Load Balancer event to a route, and build the ALB's answer.

Why not Powertools' ``ALBResolver``: importing ``aws_lambda_powertools.event_handler``
costs 35-80 ms of init that holds the GIL (it imports every resolver it has), on the
critical path of every cold start. The routing this service needs is small: exact paths
(``table.ROUTE_SPECS``), the method, one error handler per exception type (the most
specific registered class wins), and the ALB's response shape (a status line, and
``multiValueHeaders`` when the target group sends them). The standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

JSON_CONTENT_TYPE = "application/json"


class Response:
    """A route's answer when a dict or list is not enough: a status, headers, a body."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status: int, body: Any, *, headers: dict[str, str] | None = None,
                 content_type: str = JSON_CONTENT_TYPE) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type


class Request:
    """The parts of an ALB event the routes read; ``headers`` by lower-case name.

    With multi-value headers on, the last value of a repeated one is taken, as the ALB
    itself does in single-value mode. Query values are as sent, not URL-decoded.
    """

    __slots__ = ("context", "event", "headers", "method", "path", "query")

    def __init__(self, event: dict[str, Any], context: dict[str, Any] | None = None) -> None:
        self.event = event
        #: what the caller of ``resolve`` tells the routes about this request (its cold start)
        self.context = context or {}
        self.method = event["httpMethod"].upper()
        self.path = event["path"]
        self.headers = {k.lower(): v for k, v in _single_values(event, "headers", "multiValueHeaders").items()}
        self.query = _single_values(event, "queryStringParameters", "multiValueQueryStringParameters")

    @property
    def multi_value(self) -> bool:
        """Whether the target group sends multi-value fields (and so expects them back)."""
        return self.event.get("multiValueHeaders") is not None


def _single_values(event: dict[str, Any], single: str, multi: str) -> dict[str, str]:
    values = event.get(multi)
    if values is not None:
        return {key: items[-1] for key, items in values.items() if items}
    return dict(event.get(single) or {})


RouteHandler = Callable[[Request], Any]
ErrorHandler = Callable[[Request, Exception], Response]


class Router:
    """Exact-path routes by method, error handlers by exception class, one ``resolve``."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], RouteHandler] = {}
        self._error_handlers: dict[type[Exception], ErrorHandler] = {}
        self._not_found: Callable[[Request], Response] | None = None

    def route(self, path: str, method: str) -> Callable[[RouteHandler], RouteHandler]:
        def register(handler: RouteHandler) -> RouteHandler:
            self._routes[(method.upper(), path)] = handler
            return handler
        return register

    def not_found(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """The answer for a method and path no route has (404 or 405 is the handler's choice)."""
        self._not_found = handler
        return handler

    def exception_handler(self, kind: type[Exception]) -> Callable[[ErrorHandler], ErrorHandler]:
        def register(handler: ErrorHandler) -> ErrorHandler:
            self._error_handlers[kind] = handler
            return handler
        return register

    @property
    def routes(self) -> list[tuple[str, str]]:
        """The registered (method, path) pairs."""
        return list(self._routes)

    def resolve(self, event: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ALB response for ``event`` (already checked to have an ALB event's shape).

        ``context`` reaches the routes as ``request.context``.
        """
        request = Request(event, context)
        try:
            handler = self._routes.get((request.method, request.path))
            if handler is None:
                if self._not_found is None:
                    raise LookupError(f"no route {request.method} {request.path}")
                answer = self._not_found(request)
            else:
                answer = handler(request)
            response = answer if isinstance(answer, Response) else Response(200, answer)
        except Exception as error:  # every route's error goes to its handler, by class
            response = self._handle(request, error)
        return to_alb_result(response, multi_value=request.multi_value)

    def _handle(self, request: Request, error: Exception) -> Response:
        for kind in type(error).__mro__:
            handler = self._error_handlers.get(kind)
            if handler is not None:
                return handler(request, error)
        raise error


def to_alb_result(response: Response, *, multi_value: bool = False) -> dict[str, Any]:
    """An ALB target's answer: status line, headers (multi-value when the event had them), body."""
    body = response.body
    if not isinstance(body, str):
        # Compact, as Powertools' serializer; ensure_ascii keeps any lone surrogate escaped.
        body = json.dumps(body, separators=(",", ":"))
    headers = {"Content-Type": response.content_type, **response.headers}
    status = HTTPStatus(response.status)
    result: dict[str, Any] = {"statusCode": status.value, "statusDescription": f"{status.value} {status.phrase}",
                              "isBase64Encoded": False, "body": body}
    if multi_value:
        result["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
    else:
        result["headers"] = headers
    return result
