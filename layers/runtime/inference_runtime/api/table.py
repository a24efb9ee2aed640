"""The one definition of the HTTP API: every route, the tasks it serves, and each request body as data.

``routes.build_app`` registers exactly ``ROUTE_SPECS`` (and ``ROUTES``, which names the
metrics' route and tells 404 from 405, is derived from it); ``openapi.py`` turns the same
table into the document served at ``GET /openapi.json``; the handlers parse each body
with the ``Body`` listed here, so what is validated and what is documented are one thing.

Imported with the handler (cold start): only data, and ``fields`` to describe it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..artifact.spec import Task
from .errors import ModelNotFoundError, UnprocessableError, quote
from .fields import Body, Field, Kind, nullable, unsupported
from .inputs import tei_predict_inputs, tei_predict_inputs_schema, token_ids, token_ids_schema
from .model import Limits, dimensions

EMBEDDINGS, CLASSIFICATION, RERANKING = Task.EMBEDDINGS, Task.CLASSIFICATION, Task.RERANKING
TASKS = tuple(Task)
INPUTS_NOTE = "text or texts; token-id arrays are refused (422)"
TRUNCATION = (
    Field("truncate", Kind.BOOL, default=True, nullable=True,
          description="true (or left out): inputs are truncated at the model's maximum length; false: an input "
                      "longer than that is refused (413 input_too_long)"),
    Field("truncation_direction", Kind.CHOICE, choices=("right", "Right", "left", "Left"), refused=("left", "Left"),
          why="inputs are truncated on the right only; send \"right\" or leave it out", description="right only"),
)
RAW_SCORES = Field("raw_scores", Kind.BOOL, default=False, nullable=False, schema_default=False,
                   description="true: the model's logits, before its activation (softmax or sigmoid)")
INPUT_TYPE = Field("input_type", Kind.CHOICE, choices=("query", "document"),
                   description="an extension (Cohere's and Voyage's): the model's query or document prompt is "
                               "applied; left out: the model's default prompt, if it has one")

# --- what needs the served model (``model``: its ModelDescription) ------------------------------

def model_name_pattern(name: str) -> str:
    """The served name, or any ``<organisation>/<name>``, as an anchored regular expression."""
    return "^([^/]+/)?" + "".join(f"\\{c}" if c in ".^$*+?()[]{}|\\/" else c for c in name) + "$"


def _served_name(requested: str | None, model: Any) -> None:
    if requested is not None and not re.fullmatch(model_name_pattern(model.name), requested):
        raise ModelNotFoundError(f"the model {quote(requested, 60)} is not served here; this deployment serves "
                                 f"{model.name!r}: send that as model, or leave model out", param="model")


def other_dimensions(wanted: int | None, own: int | None, name: str, matryoshka: tuple[int, ...] = ()) -> None:
    """422 unless ``wanted`` (None: any) is the model's own size (None: unknown yet, checked on the vectors) or,
    for a Matryoshka-trained model, a smaller one (which sizes below its own it allows, the service checks)."""
    if wanted is None or own is None or wanted == own:
        return
    if not matryoshka:
        raise UnprocessableError(
            f"dimensions={wanted}, but {name} gives {own}-dimensional embeddings and this service does not "
            f"shorten them; leave dimensions out, or send {own}", code="unsupported_dimensions", param="dimensions")
    if wanted > own:
        raise UnprocessableError(f"dimensions={wanted}, but {name} gives {own}-dimensional embeddings; send at most "
                                 f"{own} (it was trained for {', '.join(map(str, matryoshka))})",
                                 code="dimensions_not_supported", param="dimensions")


def _normalize_possible(normalize: bool, model: Any) -> None:
    if not normalize and model.spec.normalize:
        raise unsupported("normalize", f"{model.name} L2-normalises its embeddings in its own graph, so "
                                       "normalize=false cannot be honoured; leave it out or send true")


def _prompts_offered(prompt_name: str | None, model: Any) -> None:
    # A model with no prompts keeps its old answer; one with prompts checks the name when resolving it.
    if prompt_name is not None and not model.spec.prompts:
        raise unsupported("prompt_name", "this service applies no prompts; prepend the prompt text to each input "
                                         "yourself, and send prompt_name null or leave it out (got "
                                         f"{quote(prompt_name, 40)})")


def _dimensions_schema(model: Any, limits: Limits) -> dict[str, Any]:
    own, sizes = dimensions(model), tuple(model.spec.matryoshka_dimensions)
    if own and sizes:
        return {**nullable({"type": "integer", "minimum": 1, "maximum": own}),
                "description": f"Matryoshka: {own} (its own) or fewer, truncated then renormalised; trained for "
                               f"{', '.join(map(str, sizes))}"}
    return ({"enum": [own, None], "description": f"only {own}, the model's own"} if own else
            {**nullable({"type": "integer", "minimum": 1}), "description": DIMENSIONS.description})


DIMENSIONS = Field("dimensions", Kind.POSITIVE_INT,
                   check=lambda wanted, m: other_dimensions(wanted, dimensions(m), m.name,
                                                            tuple(m.spec.matryoshka_dimensions)),
                   model_schema=_dimensions_schema,
                   description="the model's own number of dimensions, or fewer for a Matryoshka-trained model "
                               "(truncated, then renormalised); any other model refuses it (422)")
PROMPT_NAME = Field("prompt_name", Kind.STRING, check=_prompts_offered,
                    model_schema=lambda m, _: {"enum": [*m.spec.prompts, None]} if m.spec.prompts
                    else {"type": "null", "description": "this model has no prompts: null or left out"},
                    description="the name of one of the model's prompts, prepended to each input; left out: the "
                                "model's default prompt, if it has one")
# Replaced by the served model's name in the document's examples.
SERVED_NAME = "all-MiniLM-L6-v2"


# --- the native route's bodies: one per task ----------------------------------------------------

def _names(body: Body) -> set[str]:
    return {f.name for f in body.fields}


def _predict_body(task: Task, name: str, fields: tuple[Field, ...], example: str, sample: dict[str, Any]) -> Body:
    def other_task(payload: dict[str, Any], unknown: list[str]) -> None:
        mine = {f.name for f in fields}
        other = [t for t, b in PREDICT.items() if t != task and set(unknown) <= _names(b)]
        if other and not set(payload) & (mine - _names(PREDICT[other[0]])):
            raise UnprocessableError(f"this model serves {task}, and {', '.join(quote(k, 40) for k in unknown)} "
                                     f"belong to {other[0]}; send {example}", code="task_not_supported")

    return Body(name, fields, example, (sample,), native=True, on_unknown=other_task)


INPUTS = Field("inputs", Kind.TEXTS, required=True)
PREDICT: Mapping[Task, Body] = {
    EMBEDDINGS: _predict_body(EMBEDDINGS, "PredictRequest", (INPUTS, INPUT_TYPE, DIMENSIONS),
                              '{"inputs": ["some text"]}', {"inputs": ["A man is eating food."]}),
    CLASSIFICATION: _predict_body(
        CLASSIFICATION, "PredictClassificationRequest",
        (INPUTS, Field("top_k", Kind.POSITIVE_INT, description="labels per input, best first; null or left out: all"),
         RAW_SCORES),
        '{"inputs": ["some text"], "top_k": 2}', {"inputs": ["I like you"], "top_k": 2}),
    RERANKING: _predict_body(
        RERANKING, "PredictRerankingRequest",
        (Field("query", Kind.TEXT, required=True), Field("documents", Kind.TEXTS, required=True),
         Field("top_n", Kind.POSITIVE_INT, description="the best n documents; null or left out: all"),
         Field("return_documents", Kind.BOOL, default=False, nullable=False, schema_default=False,
               description="true: each answer holds its document's text too (Cohere's name)"), RAW_SCORES),
        '{"query": "a question", "documents": ["a text", "another"], "top_n": 1}',
        {"query": "What is Deep Learning?", "documents": ["Deep Learning is...", "Cheese is..."]}),
}

# --- OpenAI's embeddings ------------------------------------------------------------------------
OPENAI_EMBEDDINGS = Body("OpenAIEmbeddingsRequest", (
    Field("input", Kind.TEXTS, required=True, description=INPUTS_NOTE),
    Field("model", Kind.STRING, check=_served_name, description="the served model's name; left out: it",
          model_schema=lambda m, _: {**nullable({"type": "string", "pattern": model_name_pattern(m.name)}),
                                     "description": f"{m.name} (or <organisation>/{m.name}); left out or null: "
                                                    "the served model"}),
    Field("encoding_format", Kind.CHOICE, default="float", choices=("float", "base64"), schema_default="float",
          description="base64: the little-endian float32 bytes of each vector"),
    DIMENSIONS,
    Field("user", Kind.STRING, description="accepted and ignored"), INPUT_TYPE,
), '{"input": ["some text"]}', ({"input": ["A man is eating food."], "model": SERVED_NAME},))

# --- Text Embeddings Inference ------------------------------------------------------------------
TEI_EMBED = Body("TeiEmbedRequest", (
    Field("inputs", Kind.TEXTS, required=True, description=INPUTS_NOTE),
    Field("normalize", Kind.BOOL, default=True, nullable=False, schema_default=True, check=_normalize_possible,
          model_schema=lambda m, _: {"type": "boolean", "default": True} | (
              {"const": True, "description": "this model's embeddings are L2-normalised in its graph"}
              if m.spec.normalize else {})),
    *TRUNCATION,
    PROMPT_NAME,
    DIMENSIONS,
    Field("encoding_format", Kind.CHOICE, choices=("float", "base64"), refused=("base64",),
          why="TEI's embed answers floats; for base64 use POST /v1/embeddings",
          description="float only (huggingface_hub sends it); base64 is on /v1/embeddings"),
), '{"inputs": ["some text"]}', ({"inputs": ["A man is eating food."]},))
TEI_RERANK = Body("TeiRerankRequest", (
    Field("query", Kind.TEXT, required=True), Field("texts", Kind.TEXT_LIST, required=True), *TRUNCATION,
    RAW_SCORES, Field("return_text", Kind.BOOL, default=False, nullable=False, schema_default=False),
), '{"query": "a question", "texts": ["a passage", "another passage"]}',
    ({"query": "What is Deep Learning?", "texts": ["Deep Learning is...", "Cheese is..."]},))


TEI_PREDICT = Body("TeiPredictRequest", (
    Field("inputs", Kind.CUSTOM, required=True, custom=tei_predict_inputs, custom_schema=tei_predict_inputs_schema),
    *TRUNCATION, RAW_SCORES,
    Field("parameters", Kind.OBJECT, description="huggingface_hub's text_classification sends its options here",
          body=Body("TeiPredictParameters", (
              Field("top_k", Kind.POSITIVE_INT),
              Field("function_to_apply", Kind.NULL,
                    why="function_to_apply: scores come after the model's own activation (softmax, or sigmoid for "
                        "multi-label); leave it out"),
          ), '{"top_k": 2}')),
), '{"inputs": "some text"}', ({"inputs": "I like you. I love you"},))


TEI_TOKENIZE = Body("TeiTokenizeRequest", (
    Field("inputs", Kind.TEXTS, required=True, description=INPUTS_NOTE),
    Field("add_special_tokens", Kind.BOOL, default=True, nullable=False, schema_default=True),
    PROMPT_NAME,
), '{"inputs": ["some text"]}', ({"inputs": ["A man is eating food."]},))
TEI_DECODE = Body("TeiDecodeRequest", (
    Field("ids", Kind.CUSTOM, required=True, custom=token_ids, custom_schema=token_ids_schema),
    Field("skip_special_tokens", Kind.BOOL, default=True, nullable=False, schema_default=True),
), '{"ids": [101, 7592, 102]}', ({"ids": [101, 7592, 102]},))


# --- the routes ---------------------------------------------------------------------------------

class RouteSpec(NamedTuple):
    """One route. ``operation``: its OpenAPI operationId and handler; ``tasks``: the model tasks it
    serves (any other: 422 task_not_supported); ``request``: its body per task; ``response``: its
    answer's schema per task (openapi.py); ``shape``: native, openai (errors too) or tei;
    ``errors``: the statuses it answers besides 404/405."""

    method: str
    path: str
    operation: str
    summary: str
    tasks: tuple[Task, ...]
    request: Mapping[Task, Body] = {}
    response: Mapping[Task, str] = {}
    shape: str = "native"
    description: str = ""
    query: Mapping[str, str] = {}
    errors: tuple[int, ...] = (400, 413, 422, 503)


def _same(tasks: tuple[Task, ...], name: str) -> dict[Task, str]:
    return dict.fromkeys(tasks, name)


ROUTE_SPECS: tuple[RouteSpec, ...] = (
    RouteSpec(
        "POST", "/predict", "predict", "Run the model (this project's own shape)", TASKS, request=PREDICT,
        response=_same(TASKS, "PredictResponse"),
        description="The native route, in the loaded model's task's shape: `inputs` for embeddings (`outputs`: "
                    "one embedding per input), `inputs` and `top_k` for classification (`outputs`: labels and "
                    "scores per input, best first), `query`, `documents` and `top_n` for reranking (`outputs`: "
                    "`{index, score}` best first); with the model's identity and the serving environment "
                    "(`instance`, `cold_start`, `tier`).",
    ),
    RouteSpec("GET", "/warm", "warm", "Keep-warm ping: no inference, the environment's state and init trace", TASKS,
              response=_same(TASKS, "WarmResponse"), errors=(400, 503), query={"hold_ms": "HoldMs"}),
    RouteSpec("GET", "/health", "health", "200 once the model is loaded, verified and warm; else 503 with the "
              "reason", TASKS, response=_same(TASKS, "HealthResponse"), errors=(503,)),
    RouteSpec("GET", "/openapi.json", "openapi", "This document, for the model this deployment serves", TASKS,
              response=_same(TASKS, "OpenApiDocument"), errors=(),
              description="With the model loaded, its name, task and dimensions are written into the schemas; "
                          "before, the generic document."),
    RouteSpec(
        "POST", "/v1/embeddings", "openai_embeddings", "OpenAI's embeddings API (openai SDK, LangChain, LlamaIndex)",
        (EMBEDDINGS,), request={EMBEDDINGS: OPENAI_EMBEDDINGS}, response={EMBEDDINGS: "OpenAIEmbeddingsResponse"},
        shape="openai", errors=(400, 404, 413, 422, 503),
        description="Point an OpenAI client at `<ServiceUrl>/v1`. Errors come in OpenAI's shape. `model` may be "
                    "left out; if given it must name the served model (else 404 `model_not_found`).",
    ),
    RouteSpec("POST", "/embed", "tei_embed", "Text Embeddings Inference's /embed", (EMBEDDINGS,),
              request={EMBEDDINGS: TEI_EMBED}, response={EMBEDDINGS: "TeiEmbedResponse"}, shape="tei"),
    RouteSpec("POST", "/rerank", "tei_rerank", "Text Embeddings Inference's /rerank (cross-encoder models)",
              (RERANKING,), request={RERANKING: TEI_RERANK}, response={RERANKING: "TeiRerankResponse"}, shape="tei"),
    RouteSpec("POST", "/tokenize", "tei_tokenize", "Text Embeddings Inference's /tokenize", TASKS,
              request=dict.fromkeys(TASKS, TEI_TOKENIZE), response=_same(TASKS, "TeiTokenizeResponse"), shape="tei"),
    RouteSpec("POST", "/decode", "tei_decode", "Text Embeddings Inference's /decode", TASKS,
              request=dict.fromkeys(TASKS, TEI_DECODE), response=_same(TASKS, "TeiDecodeResponse"), shape="tei"),
    RouteSpec(
        "POST", "/", "tei_root", "Text Embeddings Inference's task-dispatching root", TASKS,
        request={EMBEDDINGS: TEI_EMBED, CLASSIFICATION: TEI_PREDICT, RERANKING: TEI_RERANK},
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
for _route in ROUTE_SPECS:
    ROUTES[_route.path] = (*ROUTES.get(_route.path, ()), _route.method)

