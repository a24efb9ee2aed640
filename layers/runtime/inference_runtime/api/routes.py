"""The HTTP surface behind an Application Load Balancer: the routes of ``table.ROUTE_SPECS``,
their handlers (this project's own here; OpenAI's and TEI's in ``ecosystem``, imported by
their first request), the error answers, and the Lambda handler.

Every failure becomes ``{"error": {"code", "message"}}`` with a 4xx (or 503 while the
model is unavailable); under ``/v1/`` in OpenAI's error shape, which holds both fields
too. Nothing a client sends can raise out of the handler, so a bad request never costs
the environment its loaded model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..artifact.spec import Task
from ..lifecycle import consume_cold_start, init_type, instance_id
from ..lifecycle.timing import RequestTimings
from ..loading.errors import ModelNotReadyError
from ..log import logger, set_request_id
from ..tasks.errors import TaskInputError
from .embedding import embed
from .errors import (
    ApiError,
    BadRequestError,
    InternalError,
    MethodNotAllowedError,
    ModelNotFoundError,
    ModelUnavailableError,
    RouteNotFoundError,
    TaskNotServedError,
    UnprocessableError,
    quote,
)
from .events import check_alb_event, inference_body
from .model import Limits, Model
from .router import MODELS_PREFIX, Request, Response, Router, add_header, split_model_prefix, to_alb_result
from .table import PREDICT, ROUTE_SPECS, ROUTES, RouteSpec

if TYPE_CHECKING:
    from ..service import InferenceService, ModelDescription

__all__ = ["ROUTES", "build_app", "build_handler", "handler_for"]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def error_response(error: ApiError, *, openai: bool = False) -> Response:
    """The error as JSON: this project's shape, or OpenAI's for the OpenAI-shaped routes."""
    return Response(error.status, error.openai_body() if openai else error.body(), headers=error.headers)


def require(model: Model, route: RouteSpec) -> ModelDescription:
    """The model's description, or 422 task_not_supported unless its task is one the route serves."""
    description = model.describe()  # loads the model if needed: 503 with the reason when it cannot
    task = description.spec.task
    if task not in route.tasks:
        serving = ", ".join(f"{r.method} {r.path}" for r in ROUTE_SPECS if task in r.tasks and r.request)
        raise TaskNotServedError(
            f"{route.method} {route.path} needs a model for {' or '.join(route.tasks)}; this deployment serves "
            f"{description.name}, a model for {task}. Its routes: {serving}")
    return description


def _ecosystem(route: RouteSpec) -> Callable[[Request, Model, Limits], Any]:
    def handle(request: Request, model: Model, limits: Limits) -> Any:
        from . import ecosystem  # OpenAI's and TEI's shapes load with their routes' first request

        raw = inference_body(request)
        return getattr(ecosystem, route.operation)(raw, model, require(model, route), limits,
                                                    request.context.get("timings"))
    return handle


def openapi(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    from .openapi import openapi_document  # built by its first request, never at cold start

    # Before the model is loaded: the generic document, rather than a 503.
    return openapi_document(limits, model.describe() if model.ready else None)


def environment(request: Request, limits: Limits) -> dict[str, Any]:
    return {"instance": instance_id(), "cold_start": request.context.get("cold_start", False), "tier": limits.tier}


def predict(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    # The native route takes the body shape of the loaded model's task:
    #   embeddings      {"inputs": [...], "input_type"?, "dimensions"?}       -> [[float, ...], ...]
    #   classification  {"inputs": [...], "top_k"?, "raw_scores"?}           -> [[{"label", "score"}, ...], ...]
    #   reranking       {"query", "documents": [...], "top_n"?, "return_documents"?, "raw_scores"?}
    #                                                         -> [{"index", "score", "document"?}, ...], best first
    raw = inference_body(request)
    description = model.describe()  # loads the model if needed: 503 with the reason when it cannot
    task, timings = description.spec.task, request.context.get("timings")
    body = PREDICT[task].parse(raw, limits, description)
    outputs: list[Any]
    applied: dict[str, Any] = {}
    if task is Task.CLASSIFICATION:
        outputs = model.classify(body["inputs"], top_k=body["top_k"], raw_scores=body["raw_scores"], timings=timings)
    elif task is Task.RERANKING:
        texts = body["documents"]
        scores = model.rerank(body["query"], texts, raw_scores=body["raw_scores"], timings=timings)
        best_first = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:body["top_n"]]
        outputs = [{"index": i, "score": scores[i], **({"document": texts[i]} if body["return_documents"] else {})}
                   for i in best_first]
    else:
        outputs, prompt = embed(model, description, body["inputs"], timings=timings, input_type=body["input_type"],
                                wanted=body["dimensions"])
        applied = {"prompt_name": prompt} if prompt else {}  # present only when a prompt was applied
    return {"outputs": outputs, **model.model_identity(), **environment(request, limits), **applied}


def warm(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    # Cheap by design: no inference. keep-warm passes hold_ms so that its N concurrent
    # pings overlap and land on N distinct environments.
    hold_ms = parse_hold_ms(request.query.get("hold_ms"), limits)
    if not model.ready:
        model.load()  # raises ModelNotReadyError (503) with the reason
    if hold_ms:
        time.sleep(hold_ms / 1000.0)
    context = environment(request, limits)
    return {"status": "warm", "model_loaded": True, **model.model_identity(), **context,
            "first_invocation": context["cold_start"], "init_type": init_type(), "init": model.init_summary()}


def health(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    if not model.ready:
        raise ModelUnavailableError(f"not ready: {model.error or 'the model has not been loaded yet'}",
                                    details={"instance": instance_id(), "tier": limits.tier})
    return {"status": "ready", **model.model_identity(), "instance": instance_id(), "tier": limits.tier,
            "init_type": init_type(), "init": model.init_summary()}


def parse_hold_ms(raw: str | None, limits: Limits) -> int:
    """The /warm ``hold_ms`` query parameter: how long keep-warm asks the instance to stay busy."""
    if raw in (None, ""):
        return 0
    try:
        hold = int(str(raw))
    except ValueError as exc:
        raise BadRequestError(f"hold_ms={quote(raw)} is not an integer number of milliseconds; "
                              f"send 0..{limits.max_warm_hold_ms}", code="invalid_parameter") from exc
    if not 0 <= hold <= limits.max_warm_hold_ms:
        raise BadRequestError(f"hold_ms={hold} is out of range; use 0..{limits.max_warm_hold_ms} (MAX_WARM_HOLD_MS)",
                              code="invalid_parameter")
    return hold


def build_app(model: Model, limits: Limits) -> Router:
    """The routes of ``ROUTE_SPECS`` wired to ``model``; built once per environment."""
    native = {"predict": predict, "warm": warm, "health": health, "openapi": openapi}

    def bound(handle: Callable[[Request, Model, Limits], Any]) -> Callable[[Request], Any]:
        return lambda request: handle(request, model, limits)
    def served(name: str) -> None:
        # A load balancer serving several models routes /models/<name>/... to each model's function, unchanged:
        # this function answers its own name (MODEL_NAME, or its artifact's once loaded) and refuses any other.
        names = {limits.model_name} | ({model.describe().name} if model.ready else set())
        if name not in names:
            raise ModelNotFoundError(f"the model {quote(name, 60)} is not served here; this function serves "
                                     f"{limits.model_name!r} at {MODELS_PREFIX}{limits.model_name}/ (or at the "
                                     "routes without the prefix)", param="model")
    return Router({(spec.method, spec.path): bound(native.get(spec.operation) or _ecosystem(spec))
                   for spec in ROUTE_SPECS}, not_found=_not_found, on_error=_on_error, served=served)


def _not_found(request: Request) -> Response:
    method, path = request.method, request.route_path
    allowed = ROUTES.get(path)
    # Method and path are the client's: quoted, so that no control character or lone
    # surrogate is echoed into the response.
    if allowed:
        raise MethodNotAllowedError(f"method {quote(method)} is not allowed on {path}; use {', '.join(allowed)}",
                                    headers={"Allow": ", ".join(allowed)})
    raise RouteNotFoundError(f"no route {quote(path)}; the routes are "
                             f"{', '.join(f'{m} {p}' for p, ms in ROUTES.items() for m in ms)}")


def _on_error(request: Request, error: Exception) -> Response:
    if isinstance(error, TaskInputError):
        # The model's refusal of an option (an unknown prompt, a size it cannot give): the client's to fix.
        error = UnprocessableError(str(error), code=getattr(error, "code", "invalid_request"))
    if isinstance(error, ModelNotReadyError):
        # The model layer says why it is not ready; the HTTP layer says 503, with the model
        # layer's code when it has a finer one (model_server_unavailable, model_server_timeout).
        error = ModelUnavailableError(str(error), code=getattr(error, "code", None))
    if not isinstance(error, ApiError):
        # A bug of ours, not the client's: log the traceback, answer without it.
        logger.exception("unhandled error")
        error = InternalError("internal error; the details are in the function's logs")
    elif error.status >= 500:
        logger.warning("request refused", extra={"code": error.code, "error": error.message})
    # Anything under /v1/ (its route, 404s, 405s) is OpenAI's, whose clients read its error shape.
    return error_response(error, openai=request.route_path.startswith("/v1/"))


def build_handler(service: InferenceService) -> Handler:
    """The Lambda handler for ``service``: the one place that reads its configuration and metrics."""
    return handler_for(service, Limits.from_config(service.config), metrics=service.metrics)


def handler_for(model: Model, limits: Limits, *, metrics: Any = None) -> Handler:
    """The Lambda handler: flips the cold-start flag, routes, times, logs, and never raises."""
    app = build_app(model, limits)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        cold = consume_cold_start()
        set_request_id(getattr(context, "aws_request_id", None))
        request_context: dict[str, Any] = {"cold_start": cold, "timings": RequestTimings()}
        try:
            result = _route(event, request_context)
            latency_ms = (time.perf_counter() - started) * 1000.0
            path = event.get("path") if isinstance(event, dict) else None
            # Any event, even a malformed one, is counted: under its route (less a /models/<name> prefix) or "other".
            path = split_model_prefix(path)[1] if isinstance(path, str) else None
            route = path if path in ROUTES else "other"
            breakdown = timing_breakdown(request_context, model.init_summary() if cold else None)
            add_header(result, "Server-Timing", server_timing(breakdown))
            logger.info("request", extra={"event": "request", "route": route, "status": result["statusCode"],
                                          "cold_start": cold, "latency_ms": round(latency_ms, 3), "timing": breakdown})
        finally:
            set_request_id(None)
        if metrics is not None:
            metrics.emit_request(route=route, status=result["statusCode"], latency_ms=latency_ms, cold=cold)
        return result

    def _route(event: Any, request_context: dict[str, Any]) -> dict[str, Any]:
        try:
            check_alb_event(event)
        except ApiError as error:
            return to_alb_result(error_response(error))
        try:
            return app.resolve(event, request_context)
        except Exception:
            # Routes' errors are answered inside resolve(); this is the router itself
            # failing (an answer it cannot serialise, say). Raising would cost the client a
            # 502 from the ALB and the environment nothing, but the answer would say
            # nothing: log it, answer 500.
            logger.exception("unhandled error outside the routes")
            return to_alb_result(error_response(InternalError("internal error; the details are in the function's "
                                                              "logs")))

    return handler


def timing_breakdown(request_context: dict[str, Any], init: dict[str, Any] | None) -> dict[str, float]:
    """Where this request's time went, in ms: tokenize, infer, serialize; on a cold start, init and its phases."""
    timings = request_context["timings"]
    breakdown = {"tokenize": timings.tokenize_ms, "infer": timings.infer_ms,
                 "serialize": request_context.get("serialize_ms", 0.0)}
    if init is not None:
        # The init the caller waited for (or that ran before a snapshot): the environment's, told once.
        breakdown["init"] = float(init.get("total_ms", 0.0))
        breakdown |= {f"init-{_token(name)}": float(ms) for name, ms in init.get("phases", {}).items()}
    return {name: round(ms, 3) for name, ms in breakdown.items()}


def server_timing(breakdown: dict[str, float]) -> str:
    """The ``Server-Timing`` header (W3C): ``tokenize;dur=1.2, infer;dur=3.4, ...``."""
    return ", ".join(f"{name};dur={ms:.3f}" for name, ms in breakdown.items())


def _token(name: str) -> str:
    # A Server-Timing name is an HTTP token: phase names are snake_case words, made safe anyway.
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(name))
