"""The HTTP surface behind an Application Load Balancer: /predict, /warm, /health, the
OpenAI- and TEI-shaped routes and /openapi.json, registered from ``spec.ROUTE_SPECS``.

The front door in ``template.yaml`` is an ALB whose listener rule sends
``X-Latency-Tier: premium`` to the premium function and everything else to the
standard one, so the functions receive ALB target-group events and answer through
``router.Router`` (the standard library only:
Powertools' resolver costs tens of milliseconds of init, see ``router.py``).

Every failure becomes ``{"error": {"code", "message"}}`` with a 4xx (or 503 while the
model is unavailable); under ``/v1/`` in OpenAI's error shape, which holds both fields
too. Nothing a client sends can raise out of the handler, so a bad request never costs
the environment its loaded model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..lifecycle import consume_cold_start, init_type, instance_id
from ..loading.errors import ModelNotReadyError
from ..log import logger, set_request_id
from .errors import (
    ApiError,
    InternalError,
    MethodNotAllowedError,
    ModelUnavailableError,
    RouteNotFoundError,
    quote,
)
from .events import check_alb_event
from .router import Request, Response, Router, to_alb_result
from .spec import ROUTE_SPECS, ROUTES, is_openai_path
from .validation import parse_hold_ms, parse_predict_body, request_body, requested_tier

if TYPE_CHECKING:
    from ..service import InferenceService

# ROUTES (path -> allowed methods, from spec.py): 404 vs 405 and the metrics' route names
# come from it; build_app registers exactly spec.ROUTE_SPECS (tests/unit/test_api_spec.py).
__all__ = ["ROUTES", "build_app", "build_handler"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def error_response(error: ApiError, *, openai: bool = False) -> Response:
    """The error as JSON: this project's shape, or OpenAI's for the OpenAI-shaped routes."""
    return Response(error.status, error.openai_body() if openai else error.body(), headers=error.headers)


def alb_error_result(error: ApiError) -> dict[str, Any]:
    """An ALB response for errors raised before the router could run (a malformed event)."""
    return to_alb_result(error_response(error))


def build_app(service: InferenceService) -> Router:
    """Wire the routes to ``service``; the router is built once per environment."""
    app = Router()
    config = service.config

    def request_context(request: Request) -> dict[str, Any]:
        return {"instance": instance_id(), "cold_start": request.context.get("cold_start", False),
                "tier": config.tier}

    def predict(request: Request) -> dict[str, Any]:
        # The native route takes the body shape of the loaded model's task:
        #   embeddings      {"inputs": [...]}                        -> [[float, ...], ...]
        #   classification  {"inputs": [...], "top_k": k?}          -> [[{"label", "score"}, ...], ...]
        #   reranking       {"query", "documents": [...], "top_n"?}  -> [{"index", "score"}, ...], best first
        from ..tasks import TaskMismatchError
        from .errors import UnprocessableError
        from .validation import parse_classify_body, parse_rerank_body

        requested_tier(request.headers)
        raw = _raw_body(request.event)
        task = service.task  # loads the model if needed: 503 with the reason when it cannot
        started = time.perf_counter()
        outputs: list[Any]
        try:
            if task == "classification":
                texts, top_k = parse_classify_body(raw, config)
                outputs = service.classify(texts, top_k=top_k)
            elif task == "reranking":
                query, texts, top_n = parse_rerank_body(raw, config)
                scores = service.rerank(query, texts)
                best_first = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top_n]
                outputs = [{"index": i, "score": scores[i]} for i in best_first]
            else:
                texts = parse_predict_body(raw, config)
                outputs = service.embed(texts)
        except TaskMismatchError as exc:
            raise UnprocessableError(str(exc), code="task_not_supported") from exc
        logger.debug("predict", extra={"task": task, "inputs": len(texts),
                                       "inference_ms": round((time.perf_counter() - started) * 1000, 3)})
        return {"outputs": outputs, **service.model_identity(), **request_context(request)}

    def warm(request: Request) -> dict[str, Any]:
        # Cheap by design: no inference. keep-warm passes hold_ms so that its N
        # concurrent pings overlap and land on N distinct environments.
        hold_ms = parse_hold_ms(request.query.get("hold_ms"), config)
        if not service.ready:
            service.load()  # raises ModelNotReadyError (503) with the reason
        if hold_ms:
            time.sleep(hold_ms / 1000.0)
        context = request_context(request)
        return {"status": "warm", "model_loaded": True, **service.model_identity(), **context,
                "first_invocation": context["cold_start"], "init_type": init_type(),
                "init": service.init_summary()}

    def health(request: Request) -> dict[str, Any]:
        if not service.ready:
            raise ModelUnavailableError(
                f"not ready: {service.error or 'the model has not been loaded yet'}",
                details={"instance": instance_id(), "tier": config.tier},
            )
        return {"status": "ready", **service.model_identity(), "instance": instance_id(),
                "tier": config.tier, "init_type": init_type(), "init": service.init_summary()}

    # The ecosystem's shapes: each module parses its own body and answers a dict or list.
    def inference_body(request: Request) -> bytes:
        requested_tier(request.headers)
        return _raw_body(request.event)

    def openai_embeddings(request: Request) -> dict[str, Any]:
        from .openai import create_embeddings

        return create_embeddings(inference_body(request), service, config)

    def tei_embed(request: Request) -> Any:
        from . import tei

        return tei.embed(inference_body(request), service, config)

    def tei_rerank(request: Request) -> Any:
        from . import tei

        return tei.rerank(inference_body(request), service, config)

    def tei_root(request: Request) -> Any:
        from . import tei

        return tei.root(inference_body(request), service, config)

    def openapi(request: Request) -> dict[str, Any]:
        from .openapi import openapi_document
        from .served import served_model

        # Before the model is loaded: the generic document, rather than a 503.
        return openapi_document(config, served_model(service).facts() if service.ready else None)

    handlers: dict[str, Callable[[Request], Any]] = {
        "predict": predict, "warm": warm, "health": health, "openapi": openapi, "openai_embeddings": openai_embeddings,
        "tei_embed": tei_embed, "tei_rerank": tei_rerank, "tei_root": tei_root,
    }
    for route in ROUTE_SPECS:
        app.route(route.path, route.method)(handlers[route.operation])

    @app.not_found
    def not_found(request: Request) -> Response:
        method, path = request.method, request.path
        allowed = ROUTES.get(path)
        # Method and path are the client's: quoted, so that no control character or lone
        # surrogate is echoed into the response.
        if allowed:
            return error_response(MethodNotAllowedError(
                f"method {quote(method)} is not allowed on {path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            ), openai=is_openai_path(path))
        return error_response(RouteNotFoundError(
            f"no route {quote(path)}; the routes are "
            f"{', '.join(f'{m} {p}' for p, ms in ROUTES.items() for m in ms)}"
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


def _raw_body(event: dict[str, Any]) -> bytes:
    return request_body(event.get("body"), is_base64=event.get("isBase64Encoded"))


def build_handler(service: InferenceService) -> Handler:
    """The Lambda handler: flips the cold-start flag, routes, and never raises."""
    app = build_app(service)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        cold = consume_cold_start()
        set_request_id(getattr(context, "aws_request_id", None))
        try:
            result = _route(event, context, cold)
        finally:
            set_request_id(None)
        if service.metrics is not None:
            path = event.get("path") if isinstance(event, dict) else None
            route = path if isinstance(path, str) and path in ROUTES else "other"  # any event, even a malformed one
            service.metrics.emit_request(route=route, status=result["statusCode"],
                                         latency_ms=(time.perf_counter() - started) * 1000.0, cold=cold)
        return result

    def _route(event: Any, context: Any, cold: bool) -> dict[str, Any]:
        try:
            check_alb_event(event)
        except ApiError as error:
            return alb_error_result(error)
        try:
            return app.resolve(event, {"cold_start": cold})
        except Exception:
            # Routes' errors are answered inside resolve(); this is the router itself
            # failing (an answer it cannot serialise, say). Raising would cost the client a
            # 502 from the ALB and the environment nothing, but the answer would say
            # nothing: log it, answer 500.
            logger.exception("unhandled error outside the routes")
            return alb_error_result(InternalError("internal error; the details are in the function's logs"))

    return handler
