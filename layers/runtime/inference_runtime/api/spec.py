"""The one definition of the HTTP API: every route, the task it needs, what it takes and gives.

``routes.build_app`` registers the resolver's routes from ``ROUTE_SPECS`` (and ``ROUTES``,
which names the metrics' route and tells 404 from 405, is derived from it); ``openapi.py``
turns the same table and ``component_schemas`` into the OpenAPI 3.1 document served at
``GET /openapi.json``. ``tests/unit/test_api_spec.py`` holds the two together: every
registered route is in the document and back, and for example requests, good and bad,
a handler answers 2xx exactly when the request is valid against the document's schema.

The handlers validate by hand (their error messages name the field and the fix, and no
schema library is imported on the request path); the schemas here say the same thing
for clients, and the test keeps them in step.

Pure data and small functions: this module is imported with the handler (cold start),
hence NamedTuples rather than dataclasses (measured: about 0.5 ms less per class at import).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

EMBEDDINGS, CLASSIFICATION, RERANKING = "embeddings", "classification", "reranking"
TASKS = (EMBEDDINGS, CLASSIFICATION, RERANKING)

# Text that is valid Unicode: a lone surrogate (a JSON escape such as "\ud800" alone)
# cannot be encoded, so no tokenizer takes it; the handlers answer 422 invalid_text.
NO_LONE_SURROGATES = "^[^\\ud800-\\udfff]*$"
_EMPTY: Mapping[str, str] = MappingProxyType({})


class RouteSpec(NamedTuple):
    """One route: method and path, the handler's name, the tasks it serves, its schemas."""

    method: str
    path: str
    #: the OpenAPI operationId, and the name build_app registers the handler under
    operation: str
    summary: str
    #: the model tasks the route serves; any other answers 422 task_not_supported
    tasks: tuple[str, ...]
    #: the JSON body's schema per task (component names); empty for routes without a body
    request: Mapping[str, str] = _EMPTY
    #: the 200 answer's schema per task (component names)
    response: Mapping[str, str] = _EMPTY
    #: "native" (this project's own shapes), "openai" or "tei": the shape family, and for
    #: "openai" the error shape too
    shape: str = "native"
    description: str = ""
    #: query parameters: name -> component schema name
    query: Mapping[str, str] = _EMPTY
    #: the error statuses the route answers besides 404/405 for unknown routes and methods
    errors: tuple[int, ...] = (400, 413, 422, 503)


def _same(tasks: tuple[str, ...], name: str) -> dict[str, str]:
    return {task: name for task in tasks}


ROUTE_SPECS: tuple[RouteSpec, ...] = (
    RouteSpec(
        "POST", "/predict", "predict", "Run the model (this project's own shape)", TASKS,
        request={EMBEDDINGS: "PredictRequest", CLASSIFICATION: "PredictClassificationRequest",
                 RERANKING: "PredictRerankingRequest"},
        response=_same(TASKS, "PredictResponse"),
        description="The native route, in the loaded model's task's shape: `inputs` for embeddings (`outputs`: "
                    "one embedding per input), `inputs` and `top_k` for classification (`outputs`: labels and "
                    "scores per input, best first), `query`, `documents` and `top_n` for reranking (`outputs`: "
                    "`{index, score}` best first); with the model's identity and the serving environment "
                    "(`instance`, `cold_start`, `tier`).",
    ),
    RouteSpec(
        "GET", "/warm", "warm", "Keep-warm ping: no inference, the environment's state and init trace", TASKS,
        response=_same(TASKS, "WarmResponse"), errors=(400, 503),
        query={"hold_ms": "HoldMs"},
    ),
    RouteSpec(
        "GET", "/health", "health", "200 once the model is loaded, verified and warm; else 503 with the reason",
        TASKS, response=_same(TASKS, "HealthResponse"), errors=(503,),
    ),
    RouteSpec(
        "GET", "/openapi.json", "openapi", "This document, for the model this deployment serves", TASKS,
        response=_same(TASKS, "OpenApiDocument"), errors=(),
        description="With the model loaded, its name, task and dimensions are written into the schemas; "
                    "before, the generic document.",
    ),
    RouteSpec(
        "POST", "/v1/embeddings", "openai_embeddings", "OpenAI's embeddings API (openai SDK, LangChain, LlamaIndex)",
        (EMBEDDINGS,), request={EMBEDDINGS: "OpenAIEmbeddingsRequest"},
        response={EMBEDDINGS: "OpenAIEmbeddingsResponse"}, shape="openai", errors=(400, 404, 413, 422, 503),
        description="Point an OpenAI client at `<ServiceUrl>/v1`. Errors come in OpenAI's shape. `model` may be "
                    "left out; if given it must name the served model (else 404 `model_not_found`).",
    ),
    RouteSpec(
        "POST", "/embed", "tei_embed", "Text Embeddings Inference's /embed", (EMBEDDINGS,),
        request={EMBEDDINGS: "TeiEmbedRequest"}, response={EMBEDDINGS: "TeiEmbedResponse"}, shape="tei",
    ),
    RouteSpec(
        "POST", "/rerank", "tei_rerank", "Text Embeddings Inference's /rerank (cross-encoder models)", (RERANKING,),
        request={RERANKING: "TeiRerankRequest"}, response={RERANKING: "TeiRerankResponse"}, shape="tei",
    ),
    RouteSpec(
        "POST", "/", "tei_root", "Text Embeddings Inference's task-dispatching root", TASKS,
        request={EMBEDDINGS: "TeiEmbedRequest", CLASSIFICATION: "TeiPredictRequest", RERANKING: "TeiRerankRequest"},
        response={EMBEDDINGS: "TeiEmbedResponse", CLASSIFICATION: "TeiPredictResponse",
                  RERANKING: "TeiRerankResponse"},
        shape="tei",
        description="As TEI's `POST /`: /embed for an embedding model, /rerank for a reranker, and TEI's /predict "
                    "for a classifier (TEI serves that at /predict, which is this project's native route, so "
                    "classification in TEI's shape is served here only). huggingface_hub's InferenceClient, given "
                    "this service's URL as `base_url` or `model`, posts every task to it.",
    ),
)

#: path -> allowed methods, for 404 vs 405 and the metrics' route names.
ROUTES: dict[str, tuple[str, ...]] = {}
for _spec in ROUTE_SPECS:
    ROUTES[_spec.path] = (*ROUTES.get(_spec.path, ()), _spec.method)


def is_openai_path(path: str) -> bool:
    """Whether errors on ``path`` are answered in OpenAI's shape: anything under /v1/ (its route, 404s, 405s)."""
    return path.startswith("/v1/")


class Limits(NamedTuple):
    """The request limits the schemas state (RuntimeConfig's MAX_INPUTS, MAX_INPUT_CHARS...)."""

    max_inputs: int
    max_input_chars: int
    max_warm_hold_ms: int


class ModelFacts(NamedTuple):
    """What the served model adds to the schemas; None fields leave the generic schema."""

    name: str | None = None
    task: str | None = None
    dimensions: int | None = None
    normalized: bool | None = None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def model_name_pattern(name: str) -> str:
    """The served name, or any ``<organisation>/<name>``, as an anchored regular expression."""
    escaped = "".join(f"\\{c}" if c in ".^$*+?()[]{}|\\/" else c for c in name)
    return f"^([^/]+/)?{escaped}$"


def component_schemas(limits: Limits, model: ModelFacts | None = None) -> dict[str, Any]:
    """Every request and response schema, by component name (JSON Schema 2020-12, as OpenAPI 3.1 uses).

    With ``model`` the schemas state what this deployment accepts for it (its name, its
    dimensions, whether normalize=false is possible); without, the generic API.
    """
    model = model or ModelFacts()
    text = {"type": "string", "maxLength": limits.max_input_chars, "pattern": NO_LONE_SURROGATES}
    texts = {"type": "array", "items": text, "minItems": 1, "maxItems": limits.max_inputs}
    text_or_texts = {"anyOf": [text, texts]}
    number_list = {"type": "array", "items": {"type": "number"}}
    if model.dimensions:
        dimensions: dict[str, Any] = {"enum": [model.dimensions, None],
                                      "description": f"only {model.dimensions}, the model's own"}
    else:
        dimensions = {**_nullable({"type": "integer", "minimum": 1}),
                      "description": "only the model's own number of dimensions (no Matryoshka truncation)"}
    if model.name:
        model_name: dict[str, Any] = {**_nullable({"type": "string", "pattern": model_name_pattern(model.name)}),
                                      "description": f"{model.name} (or <organisation>/{model.name}); "
                                                     "left out or null: the served model"}
    else:
        model_name = {**_nullable({"type": "string"}), "description": "the served model's name; left out: it"}
    normalize: dict[str, Any] = {"type": "boolean", "default": True}
    if model.normalized:
        normalize |= {"const": True, "description": "this model's embeddings are L2-normalised in its graph"}
    truncate = {**_nullable({"type": "boolean"}),
                "description": "accepted; inputs are always truncated at the model's maximum length"}
    direction = {"enum": ["right", "Right", None], "description": "right only"}
    no_raw_scores = {"const": False, "default": False,
                     "description": "false only: scores come after the model's activation"}
    error_detail = {"type": "object", "required": ["code", "message"], "additionalProperties": False,
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "details": {"type": "object"}}}
    prediction = {"type": "object", "required": ["label", "score"],
                  "properties": {"label": {"type": "string"}, "score": {"type": "number"}}}
    return {
        # --- native ---------------------------------------------------------------------
        "PredictRequest": {
            "type": "object", "required": ["inputs"], "additionalProperties": False,
            "properties": {"inputs": text_or_texts},
            "examples": [{"inputs": ["A man is eating food."]}],
        },
        "PredictClassificationRequest": {
            "type": "object", "required": ["inputs"], "additionalProperties": False,
            "properties": {"inputs": text_or_texts,
                           "top_k": {**_nullable({"type": "integer", "minimum": 1}),
                                     "description": "labels per input, best first; null or left out: all"}},
            "examples": [{"inputs": ["I like you"], "top_k": 2}],
        },
        "PredictRerankingRequest": {
            "type": "object", "required": ["query", "documents"], "additionalProperties": False,
            "properties": {"query": text, "documents": text_or_texts,
                           "top_n": {**_nullable({"type": "integer", "minimum": 1}),
                                     "description": "the best n documents; null or left out: all"}},
            "examples": [{"query": "What is Deep Learning?", "documents": ["Deep Learning is...", "Cheese is..."]}],
        },
        "PredictResponse": {
            "type": "object", "required": ["outputs", "model", "version", "instance", "cold_start", "tier"],
            "properties": {"outputs": {"type": "array"}, "model": {"type": ["string", "null"]},
                           "version": {"type": ["string", "null"]}, "instance": {"type": "string"},
                           "cold_start": {"type": "boolean"}, "tier": {"type": "string"}},
        },
        "WarmResponse": {
            "type": "object", "required": ["status", "model_loaded", "instance", "first_invocation", "init_type",
                                           "init"],
            "properties": {"status": {"const": "warm"}, "model_loaded": {"type": "boolean"},
                           "instance": {"type": "string"}, "first_invocation": {"type": "boolean"},
                           "init_type": {"type": "string"}, "init": {"type": "object"}},
        },
        "HealthResponse": {
            "type": "object", "required": ["status", "model", "instance", "tier", "init"],
            "properties": {"status": {"const": "ready"}, "model": {"type": ["string", "null"]},
                           "instance": {"type": "string"}, "tier": {"type": "string"}, "init": {"type": "object"}},
        },
        "HoldMs": {"type": "integer", "minimum": 0, "maximum": limits.max_warm_hold_ms,
                   "description": "keep the environment busy this many ms (keep-warm overlaps its pings so)"},
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
        "Error": {"type": "object", "required": ["error"], "additionalProperties": False,
                  "properties": {"error": error_detail}},
        # --- OpenAI ---------------------------------------------------------------------
        "OpenAIEmbeddingsRequest": {
            "type": "object", "required": ["input"], "additionalProperties": False,
            "properties": {
                "input": {**text_or_texts, "description": "text or texts; token-id arrays are refused (422)"},
                "model": model_name,
                "encoding_format": {"enum": ["float", "base64", None], "default": "float",
                                    "description": "base64: the little-endian float32 bytes of each vector"},
                "dimensions": dimensions,
                "user": {**_nullable({"type": "string"}), "description": "accepted and ignored"},
            },
            "examples": [{"input": ["A man is eating food."], "model": model.name or "all-MiniLM-L6-v2"}],
        },
        "OpenAIEmbeddingsResponse": {
            "type": "object", "required": ["object", "data", "model", "usage"],
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": {
                    "type": "object", "required": ["object", "embedding", "index"],
                    "properties": {"object": {"const": "embedding"}, "index": {"type": "integer", "minimum": 0},
                                   "embedding": {"anyOf": [number_list,
                                                           {"type": "string", "contentEncoding": "base64"}]}}}},
                "model": {"type": "string"},
                "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"],
                          "properties": {"prompt_tokens": {"type": "integer", "minimum": 0},
                                         "total_tokens": {"type": "integer", "minimum": 0}}},
            },
        },
        "OpenAIError": {
            "type": "object", "required": ["error"],
            "properties": {"error": {
                "type": "object", "required": ["message", "type", "param", "code"],
                "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                               "param": {"type": ["string", "null"]}, "code": {"type": "string"}}}},
        },
        # --- Text Embeddings Inference ----------------------------------------------------
        "TeiEmbedRequest": {
            "type": "object", "required": ["inputs"], "additionalProperties": False,
            "properties": {
                "inputs": {**text_or_texts, "description": "text or texts; token-id arrays are refused (422)"},
                "normalize": normalize,
                "truncate": truncate,
                "truncation_direction": direction,
                "prompt_name": {"type": "null", "description": "no prompts: null or left out"},
                "dimensions": dimensions,
                "encoding_format": {"enum": ["float", None],
                                    "description": "float only (huggingface_hub sends it); base64 is on "
                                                   "/v1/embeddings"},
            },
            "examples": [{"inputs": ["A man is eating food."]}],
        },
        "TeiEmbedResponse": {"type": "array", "items": number_list},
        "TeiRerankRequest": {
            "type": "object", "required": ["query", "texts"], "additionalProperties": False,
            "properties": {"query": text, "texts": texts, "truncate": truncate, "truncation_direction": direction,
                           "raw_scores": no_raw_scores, "return_text": {"type": "boolean", "default": False}},
            "examples": [{"query": "What is Deep Learning?", "texts": ["Deep Learning is...", "Cheese is..."]}],
        },
        "TeiRerankResponse": {"type": "array", "items": {
            "type": "object", "required": ["index", "score"],
            "properties": {"index": {"type": "integer", "minimum": 0}, "score": {"type": "number"},
                           "text": {"type": "string"}}}},
        "TeiPredictRequest": {
            "type": "object", "required": ["inputs"], "additionalProperties": False,
            "properties": {
                "inputs": {"anyOf": [
                    text,
                    {"type": "array", "items": text, "minItems": 1, "maxItems": 1},
                    {"type": "array", "minItems": 1, "maxItems": limits.max_inputs,
                     "items": {"type": "array", "items": text, "minItems": 1, "maxItems": 1}},
                ], "description": "a text, or a batch [[text], [text], ...]; sentence pairs are refused"},
                "truncate": truncate, "truncation_direction": direction, "raw_scores": no_raw_scores,
                "parameters": {**_nullable({
                    "type": "object", "additionalProperties": False,
                    "properties": {"top_k": _nullable({"type": "integer", "minimum": 1}),
                                   "function_to_apply": {"type": "null"}}}),
                    "description": "huggingface_hub's text_classification sends its options here"},
            },
            "examples": [{"inputs": "I like you. I love you"}],
        },
        "TeiPredictResponse": {
            "anyOf": [{"type": "array", "items": prediction},
                      {"type": "array", "items": {"type": "array", "items": prediction}}],
            "description": "one text: its labels by score; a batch, or any body with `parameters` (as "
                           "huggingface_hub sends): a list of those per text",
        },
    }
