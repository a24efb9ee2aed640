"""The OpenAPI 3.1 document of the whole API, generated from ``table.ROUTE_SPECS``.

``GET /openapi.json`` serves it for the loaded model: the model's name, task and
dimensions are written into the schemas, and a route its task cannot serve takes no body
(``false``) and says why. ``python -m tools.openapi`` writes the generic document (no
model) to ``docs/openapi.json``; a test keeps that file current. Request schemas are the
bodies' own (``fields.Body.schema``); the answers' are written out here.

Built on first request and cached: nothing here runs at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import Limits, dimensions
from .table import ROUTE_SPECS, SERVED_NAME, TASKS, RouteSpec, Task

if TYPE_CHECKING:
    from ..service import ModelDescription

API_VERSION = "1.0.0"
_TAGS = {"native": "native", "openai": "OpenAI-compatible", "tei": "Text Embeddings Inference"}
_ERRORS = {
    400: "the body is not a JSON object, or a header is bad (`invalid_json`, `empty_body`, `invalid_body`, "
         "`invalid_latency_tier`, `invalid_parameter`)",
    404: "the request names a model this deployment does not serve (`model_not_found`)",
    413: "over a limit: body, number of inputs, or one input (`body_too_large`, `too_many_inputs`, "
         "`input_too_long`)",
    422: "a field of the wrong shape, an option this service does not offer, or a route the model's task "
         "cannot serve (`task_not_supported`)",
    503: "the model is not loaded (`model_not_ready`); the message says why",
}
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def openapi_document(limits: Limits, model: ModelDescription | None = None) -> dict[str, Any]:
    """The document for ``limits`` and, if given, the served ``model`` (cached; do not mutate)."""
    key = (limits, None if model is None else (model.name, model.spec.task, dimensions(model), model.spec.normalize))
    if key not in _cache:
        _cache[key] = build_document(limits, model)
    return _cache[key]


def build_document(limits: Limits, model: ModelDescription | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "title": "Serverless ML inference",
        "version": API_VERSION,
        "description": "An embedding, classification or reranking model on AWS Lambda behind an Application "
                       "Load Balancer, in this project's own shape and in OpenAI's and Text Embeddings "
                       "Inference's. Every route answers errors as JSON; an unknown path is a 404 "
                       "(`not_found`), a known path with another method a 405 (`method_not_allowed`). Each "
                       "operation's `x-tasks` lists the model tasks it serves.",
    }
    task = None if model is None else model.spec.task
    if model is not None:
        info["x-model"] = {"name": model.name, "task": task, "dimensions": dimensions(model),
                           "normalized": model.spec.normalize}
    paths: dict[str, dict[str, Any]] = {}
    schemas = {}
    for route in ROUTE_SPECS:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, task)
        for body in route.request.values():
            schemas[body.name] = body.schema(limits, model)
    for schema in schemas.values():
        for example in schema.get("examples", ()):
            if example.get("model") == SERVED_NAME:
                example["model"] = model.name if model is not None else SERVED_NAME
    return {"openapi": "3.1.0", "info": info, "tags": [{"name": name} for name in dict.fromkeys(_TAGS.values())],
            "paths": paths, "components": {"schemas": {**schemas, **_answers(limits)}}}


def _operation(route: RouteSpec, task: Task | None) -> dict[str, Any]:
    served = task is None or task in route.tasks
    operation: dict[str, Any] = {"operationId": route.operation, "summary": route.summary,
                                 "tags": [_TAGS[route.shape]], "x-tasks": list(route.tasks)}
    description = route.description
    if not served:
        description = (f"{description} " if description else "") + (
            f"Not served by this deployment: its model is for {task}, and this route needs "
            f"{' or '.join(route.tasks)}; every request is answered 422 `task_not_supported`.")
    if description:
        operation["description"] = description
    if route.query:
        operation["parameters"] = [{"name": name, "in": "query", "required": False, "schema": _ref(schema)}
                                   for name, schema in route.query.items()]
    if route.request:
        names = {t: body.name for t, body in route.request.items()}
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _per_task(names, task) if served else False}}}
    error_schema = _ref("OpenAIError" if route.shape == "openai" else "Error")
    responses: dict[str, Any] = {}
    if served:
        responses["200"] = {"description": "OK", "content": {"application/json": {
            "schema": _per_task(route.response, task)}}}
    for status in route.errors if served else (422, 503):
        responses[str(status)] = {"description": _ERRORS[status],
                                  "content": {"application/json": {"schema": error_schema}}}
    operation["responses"] = responses
    return operation


def _per_task(names: Any, task: Task | None) -> dict[str, Any]:
    """The schema for ``task``, or, with no task, any of the route's (``anyOf``, one per distinct schema)."""
    if task is not None:
        return _ref(names[task])
    distinct = list(dict.fromkeys(names[t] for t in TASKS if t in names))
    return _ref(distinct[0]) if len(distinct) == 1 else {"anyOf": [_ref(name) for name in distinct]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answers(limits: Limits) -> dict[str, Any]:
    """The answers' schemas (and the query's), by component name: what the handlers return."""
    number_list = {"type": "array", "items": {"type": "number"}}
    string = {"type": "string"}
    error_detail = {"type": "object", "required": ["code", "message"], "additionalProperties": False,
                    "properties": {"code": string, "message": string, "details": {"type": "object"}}}
    prediction = {"type": "object", "required": ["label", "score"],
                  "properties": {"label": string, "score": {"type": "number"}}}
    count = {"type": "integer", "minimum": 0}
    return {
        "PredictResponse": {
            "type": "object", "required": ["outputs", "model", "version", "instance", "cold_start", "tier"],
            "properties": {"outputs": {"type": "array"}, "model": {"type": ["string", "null"]},
                           "version": {"type": ["string", "null"]}, "instance": string,
                           "cold_start": {"type": "boolean"}, "tier": string}},
        "WarmResponse": {
            "type": "object", "required": ["status", "model_loaded", "instance", "first_invocation", "init_type",
                                           "init"],
            "properties": {"status": {"const": "warm"}, "model_loaded": {"type": "boolean"}, "instance": string,
                           "first_invocation": {"type": "boolean"}, "init_type": string, "init": {"type": "object"}}},
        "HealthResponse": {
            "type": "object", "required": ["status", "model", "instance", "tier", "init"],
            "properties": {"status": {"const": "ready"}, "model": {"type": ["string", "null"]}, "instance": string,
                           "tier": string, "init": {"type": "object"}}},
        "HoldMs": {"type": "integer", "minimum": 0, "maximum": limits.max_warm_hold_ms,
                   "description": "keep the environment busy this many ms (keep-warm overlaps its pings so)"},
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
                  "properties": {"error": error_detail}},
        "OpenAIEmbeddingsResponse": {
            "type": "object", "required": ["object", "data", "model", "usage"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {
                    "type": "object", "required": ["object", "embedding", "index"],
                    "properties": {"object": {"const": "embedding"}, "index": count, "embedding": {
                        "anyOf": [number_list, {"type": "string", "contentEncoding": "base64"}]}}}},
                "model": string,
                "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"],
                          "properties": {"prompt_tokens": count, "total_tokens": count}}}},
        "OpenAIError": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["message", "type", "param", "code"],
            "properties": {"message": string, "type": string, "param": {"type": ["string", "null"]},
                           "code": string}}}},
        "TeiEmbedResponse": {"type": "array", "items": number_list},
        "TeiRerankResponse": {"type": "array", "items": {
            "type": "object", "required": ["index", "score"],
            "properties": {"index": count, "score": {"type": "number"}, "text": string}}},
        "TeiPredictResponse": {
            "anyOf": [{"type": "array", "items": prediction},
                      {"type": "array", "items": {"type": "array", "items": prediction}}],
            "description": "one text: its labels by score; a batch, or any body with `parameters` (as "
                           "huggingface_hub sends): a list of those per text"},
    }

