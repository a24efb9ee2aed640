"""Dispatch an Application Load Balancer event to a route, and build the ALB's answer.

Why not Powertools' ``ALBResolver``: importing ``aws_lambda_powertools.event_handler``
costs 35-80 ms of init that holds the GIL (it imports every resolver it has), on the
critical path of every cold start. The routing this service needs is small: exact paths
(``table.ROUTE_SPECS``) by method, one error handler, and the ALB's response shape (a
status line, and ``multiValueHeaders`` when the target group sends them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(slots=True)
class Response:
    """A route's answer when a dict or list is not enough: a status, headers, a body."""
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Request:
    """The parts of an ALB event the routes read; ``headers`` by lower-case name.

    With multi-value headers on, the last value of a repeated one is taken, as the ALB
    itself does in single-value mode. Query values are as sent, not URL-decoded.
    """

    __slots__ = ("context", "event", "headers", "method", "model", "path", "query", "route_path")

    def __init__(self, event: dict[str, Any], context: dict[str, Any] | None = None) -> None:
        self.event = event
        #: what the caller of ``resolve`` tells the routes about this request (its cold start)
        self.context = context or {}
        self.method = event["httpMethod"].upper()
        self.path = event["path"]
        #: the path without a ``/models/<name>`` prefix, and that name (None: no prefix)
        self.model, self.route_path = split_model_prefix(self.path)
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


#: Where a load balancer serving several models puts each one's routes: /models/<name>/v1/embeddings...
MODELS_PREFIX = "/models/"


def split_model_prefix(path: str) -> tuple[str | None, str]:
    """(name, the rest) for ``/models/<name>/rest`` (the rest ``/`` when empty), else (None, path).

    The name is one path segment: a model named ``org/name`` is routed by the load balancer
    under the name it has in models.json, which has no slash."""
    if not path.startswith(MODELS_PREFIX):
        return None, path
    name, _, rest = path[len(MODELS_PREFIX):].partition("/")
    return (name, "/" + rest) if name else (None, path)


RouteHandler = Callable[[Request], Any]


class Router:
    """Exact-path routes by method; ``not_found`` answers any other, ``on_error`` any route's exception."""

    def __init__(self, routes: dict[tuple[str, str], RouteHandler], *, not_found: Callable[[Request], Response],
                 on_error: Callable[[Request, Exception], Response],
                 served: Callable[[str], None] = lambda name: None) -> None:
        self._routes, self._not_found, self._on_error, self._served = routes, not_found, on_error, served

    @property
    def routes(self) -> list[tuple[str, str]]:
        return list(self._routes)

    def resolve(self, event: dict[str, Any], context: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ALB response for ``event`` (already checked to have an ALB event's shape); ``context``
        reaches the routes as ``request.context``, and gets ``serialize_ms``. A ``/models/<name>`` prefix
        is ``served``'s to accept (the route then answers as without it) or refuse."""
        request = Request(event, context)
        try:
            if request.model is not None:
                self._served(request.model)
            answer = self._routes.get((request.method, request.route_path), self._not_found)(request)
            response = answer if isinstance(answer, Response) else Response(200, answer)
        except Exception as error:  # every route's error is answered, by on_error
            response = self._on_error(request, error)
        started = time.perf_counter()
        result = to_alb_result(response, multi_value=request.multi_value)
        request.context["serialize_ms"] = (time.perf_counter() - started) * 1000.0
        return result


def to_alb_result(response: Response, *, multi_value: bool = False) -> dict[str, Any]:
    """An ALB target's answer: status line, headers (multi-value when the event had them), body."""
    body = response.body
    if not isinstance(body, str):
        # Compact, as Powertools' serializer; ensure_ascii keeps any lone surrogate escaped.
        body = json.dumps(body, separators=(",", ":"))
    headers = {"Content-Type": "application/json", **response.headers}
    status = HTTPStatus(response.status)
    result: dict[str, Any] = {"statusCode": status.value, "statusDescription": f"{status.value} {status.phrase}",
                              "isBase64Encoded": False, "body": body}
    if multi_value:
        result["multiValueHeaders"] = {key: [value] for key, value in headers.items()}
    else:
        result["headers"] = headers
    return result


def add_header(result: dict[str, Any], name: str, value: str) -> None:
    """Add a header to an ALB result, in whichever shape (single- or multi-value) it has."""
    if "multiValueHeaders" in result:
        result["multiValueHeaders"][name] = [value]
    else:
        result.setdefault("headers", {})[name] = value
