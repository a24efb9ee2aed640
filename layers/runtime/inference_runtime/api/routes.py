"""The HTTP surface behind an Application Load Balancer: /predict, /warm, /health, the
OpenAI- and TEI-shaped routes and /openapi.json, registered from ``table.ROUTE_SPECS``.

The front door in ``template.yaml`` is an ALB whose listener rules send each tier's
``X-Latency-Tier`` to that tier's function, so the functions receive ALB target-group
events and answer through ``router.Router`` (the standard library only: Powertools'
resolver costs tens of milliseconds of init, see ``router.py``).

Every failure becomes ``{"error": {"code", "message"}}`` with a 4xx (or 503 while the
model is unavailable); under ``/v1/`` in OpenAI's error shape, which holds both fields
too. Nothing a client sends can raise out of the handler, so a bad request never costs
the environment its loaded model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..lifecycle import consume_cold_start
from ..loading.errors import ModelNotReadyError
from ..log import logger, set_request_id
from . import native
from .errors import ApiError, InternalError, MethodNotAllowedError, ModelUnavailableError, RouteNotFoundError, quote
from .events import check_alb_event
from .model import Limits, Model
from .router import Request, Response, Router, to_alb_result
from .table import ROUTE_SPECS, ROUTES, is_openai_path

if TYPE_CHECKING:
    from ..service import InferenceService

__all__ = ["ROUTES", "build_app", "build_handler", "handler_for"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def error_response(error: ApiError, *, openai: bool = False) -> Response:
    """The error as JSON: this project's shape, or OpenAI's for the OpenAI-shaped routes."""
    return Response(error.status, error.openai_body() if openai else error.body(), headers=error.headers)


def _openai(request: Request, model: Model, limits: Limits) -> Any:
    from .openai import create_embeddings  # the ecosystem's modules load with their routes' first request

    return create_embeddings(native.inference_body(request), model, limits)


def _tei(name: str) -> Callable[[Request, Model, Limits], Any]:
    def route(request: Request, model: Model, limits: Limits) -> Any:
        from . import tei

        return getattr(tei, name)(native.inference_body(request), model, limits)
    return route


def _openapi(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    from .openapi import openapi_document

    # Before the model is loaded: the generic document, rather than a 503.
    return openapi_document(limits, model.describe() if model.ready else None)


_HANDLERS: dict[str, Callable[[Request, Model, Limits], Any]] = {
    "predict": native.predict, "warm": native.warm, "health": native.health, "openapi": _openapi,
    "openai_embeddings": _openai, "tei_embed": _tei("embed"), "tei_rerank": _tei("rerank"), "tei_root": _tei("root"),
}


def _bound(handle: Callable[[Request, Model, Limits], Any], model: Model, limits: Limits) -> Callable[[Request], Any]:
    return lambda request: handle(request, model, limits)


def build_app(model: Model, limits: Limits) -> Router:
    """Wire the routes to ``model``; the router is built once per environment."""
    app = Router()
    for spec in ROUTE_SPECS:
        app.route(spec.path, spec.method)(_bound(_HANDLERS[spec.operation], model, limits))

    @app.not_found
    def not_found(request: Request) -> Response:
        method, path = request.method, request.path
        allowed = ROUTES.get(path)
        # Method and path are the client's: quoted, so that no control character or lone
        # surrogate is echoed into the response.
        if allowed:
            return error_response(MethodNotAllowedError(
                f"method {quote(method)} is not allowed on {path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)}), openai=is_openai_path(path))
        return error_response(RouteNotFoundError(
            f"no route {quote(path)}; the routes are {', '.join(f'{m} {p}' for p, ms in ROUTES.items() for m in ms)}"
        ), openai=is_openai_path(path))

    @app.exception_handler(ApiError)
    def api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)  # nosec B101 (registered for ApiError)
        if error.status >= 500:
            logger.warning("request refused", extra={"code": error.code, "error": error.message})
        return error_response(error, openai=is_openai_path(request.path))

    @app.exception_handler(ModelNotReadyError)
    def model_not_ready(request: Request, error: Exception) -> Response:
        # The model layer says why it is not ready; the HTTP layer says 503 model_not_ready.
        return api_error(request, ModelUnavailableError(str(error)))

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> Response:
        # A bug of ours, not the client's: log the traceback, answer without it.
        logger.exception("unhandled error")
        return error_response(InternalError("internal error; the details are in the function's logs"),
                              openai=is_openai_path(request.path))

    return app


def build_handler(service: InferenceService) -> Handler:
    """The Lambda handler for ``service``: the one place that reads its configuration and metrics."""
    return handler_for(service, Limits.from_config(service.config), metrics=service.metrics)


def handler_for(model: Model, limits: Limits, *, metrics: Any = None) -> Handler:
    """The Lambda handler: flips the cold-start flag, routes, and never raises."""
    app = build_app(model, limits)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        cold = consume_cold_start()
        set_request_id(getattr(context, "aws_request_id", None))
        try:
            result = _route(event, cold)
        finally:
            set_request_id(None)
        if metrics is not None:
            path = event.get("path") if isinstance(event, dict) else None
            route = path if isinstance(path, str) and path in ROUTES else "other"  # any event, even a malformed one
            metrics.emit_request(route=route, status=result["statusCode"],
                                 latency_ms=(time.perf_counter() - started) * 1000.0, cold=cold)
        return result

    def _route(event: Any, cold: bool) -> dict[str, Any]:
        try:
            check_alb_event(event)
        except ApiError as error:
            return to_alb_result(error_response(error))
        try:
            return app.resolve(event, {"cold_start": cold})
        except Exception:
            # Routes' errors are answered inside resolve(); this is the router itself
            # failing (an answer it cannot serialise, say). Raising would cost the client a
            # 502 from the ALB and the environment nothing, but the answer would say
            # nothing: log it, answer 500.
            logger.exception("unhandled error outside the routes")
            return to_alb_result(error_response(InternalError("internal error; the details are in the function's "
                                                              "logs")))

    return handler
