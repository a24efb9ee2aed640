"""The OpenAPI 3.1 document of the whole API, generated from ``spec.ROUTE_SPECS``.

``GET /openapi.json`` serves it for the loaded model: the model's name, task and
dimensions are written into the schemas, and a route its task cannot serve takes no body
(``false``) and says why. ``python -m tools.openapi`` writes the generic document (no
model) to ``docs/openapi.json``; a test keeps that file current.

Built on first request and cached: nothing here runs at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import ROUTE_SPECS, TASKS, Limits, ModelFacts, RouteSpec, component_schemas

if TYPE_CHECKING:
    from ..config import RuntimeConfig

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


def openapi_document(config: RuntimeConfig, model: ModelFacts | None = None) -> dict[str, Any]:
    """The document for ``config``'s limits and, if given, the served ``model`` (cached; do not mutate)."""
    limits = Limits(max_inputs=config.max_inputs, max_input_chars=config.max_input_chars,
                    max_warm_hold_ms=config.max_warm_hold_ms)
    key = (limits, model)
    if key not in _cache:
        _cache[key] = build_document(limits, model)
    return _cache[key]


def build_document(limits: Limits, model: ModelFacts | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "title": "Serverless ML inference",
        "version": API_VERSION,
        "description": "An embedding, classification or reranking model on AWS Lambda behind an Application "
                       "Load Balancer, in this project's own shape and in OpenAI's and Text Embeddings "
                       "Inference's. Every route answers errors as JSON; an unknown path is a 404 "
                       "(`not_found`), a known path with another method a 405 (`method_not_allowed`). Each "
                       "operation's `x-tasks` lists the model tasks it serves.",
    }
    if model is not None:
        info["x-model"] = {"name": model.name, "task": model.task, "dimensions": model.dimensions,
                           "normalized": model.normalized}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTE_SPECS:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, model)
    return {
        "openapi": "3.1.0",
        "info": info,
        "tags": [{"name": name} for name in dict.fromkeys(_TAGS.values())],
        "paths": paths,
        "components": {"schemas": component_schemas(limits, model)},
    }


def _operation(route: RouteSpec, model: ModelFacts | None) -> dict[str, Any]:
    task = model.task if model is not None else None
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
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _per_task(route.request, task) if served else False}}}
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


def _per_task(names: Any, task: str | None) -> dict[str, Any]:
    """The schema for ``task``, or, with no task, any of the route's (``anyOf``, one per distinct schema)."""
    if task is not None:
        return _ref(names[task])
    distinct = list(dict.fromkeys(names[t] for t in TASKS if t in names))
    if len(distinct) == 1:
        return _ref(distinct[0])
    return {"anyOf": [_ref(name) for name in distinct]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}
