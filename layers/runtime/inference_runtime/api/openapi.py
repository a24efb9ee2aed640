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
    422: "a field of the wrong shape, an option this service or model does not offer (`unknown_prompt`, "
         "`input_type_not_supported`, `dimensions_not_supported`), or a route the model's task cannot serve "
         "(`task_not_supported`)",
    503: "the model is not loaded (`model_not_ready`); the message says why",
}
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def openapi_document(limits: Limits, model: ModelDescription | None = None) -> dict[str, Any]:
    """The document for ``limits`` and, if given, the served ``model`` (cached; do not mutate)."""
    key = (limits, None if model is None else (model.name, model.spec.task, dimensions(model), model.spec.normalize,
                                               tuple(model.spec.prompts), model.spec.matryoshka_dimensions))
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


def _object(required: str, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required.split(), "properties": properties}


def _answers(limits: Limits) -> dict[str, Any]:
    """The answers' schemas (and the query's), by component name: what the handlers return."""
    numbers, string, boolean, number = {"type": "array", "items": {"type": "number"}}, {"type": "string"}, \
        {"type": "boolean"}, {"type": "number"}
    count, name, anything = {"type": "integer", "minimum": 0}, {"type": ["string", "null"]}, {"type": "object"}
    name_or_count = {"type": ["integer", "null"], "minimum": 0}
    prediction = _object("label score", label=string, score=number)
    error = _object("code message", code=string, message=string, details=anything) | {"additionalProperties": False}
    return {
        "PredictResponse": _object("outputs model version instance cold_start tier", outputs={"type": "array"},
                                   model=name, version=name, instance=string, cold_start=boolean, tier=string,
                                   prompt_name=string),
        "WarmResponse": _object("status model_loaded instance first_invocation init_type init",
                                status={"const": "warm"}, model_loaded=boolean, instance=string,
                                first_invocation=boolean, init_type=string, init=anything),
        "HealthResponse": _object("status model instance tier init", status={"const": "ready"}, model=name,
                                  instance=string, tier=string, init=anything),
        "HoldMs": {"type": "integer", "minimum": 0, "maximum": limits.max_warm_hold_ms,
                   "description": "keep the environment busy this many ms (keep-warm overlaps its pings so)"},
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
        "Error": _object("error", error=error) | {"additionalProperties": False},
        "OpenAIEmbeddingsResponse": _object(
            "object data model usage", object={"const": "list"}, model=string,
            data={"type": "array", "items": _object(
                "object embedding index", object={"const": "embedding"}, index=count,
                embedding={"anyOf": [numbers, {"type": "string", "contentEncoding": "base64"}]})},
            usage=_object("prompt_tokens total_tokens", prompt_tokens=count, total_tokens=count),
            prompt_name=string | {"description": "an extension: the prompt applied, when one was"}),
        "OpenAIError": _object("error", error=_object("message type param code", message=string, type=string,
                                                      param=name, code=string)),
        "TeiEmbedResponse": {"type": "array", "items": numbers,
                             "description": "the prompt applied, if any, is named in the X-Prompt-Name header"},
        "TeiTokenizeResponse": {"type": "array", "items": {"type": "array", "items": _object(
            "id text special start stop", id=count, text=string, special=boolean, start=name_or_count,
            stop=name_or_count)}},
        "TeiDecodeResponse": {"type": "array", "items": string},
        "TeiRerankResponse": {"type": "array", "items": _object("index score", index=count, score=number, text=string)},
        "TeiPredictResponse": {
            "anyOf": [{"type": "array", "items": prediction},
                      {"type": "array", "items": {"type": "array", "items": prediction}}],
            "description": "one text: its labels by score; a batch, or any body with `parameters` (as "
                           "huggingface_hub sends): a list of those per text"},
    }
