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
from .fields import Body, Field, Kind, check_texts, nullable, text_schemas, unsupported
from .model import Limits, dimensions

EMBEDDINGS, CLASSIFICATION, RERANKING = Task.EMBEDDINGS, Task.CLASSIFICATION, Task.RERANKING
TASKS = tuple(Task)
INPUTS_NOTE = "text or texts; token-id arrays are refused (422)"
TRUNCATION = (
    Field("truncate", Kind.BOOL, default=True,
          description="accepted; inputs are always truncated at the model's maximum length"),
    Field("truncation_direction", Kind.CHOICE, choices=("right", "Right", "left", "Left"), refused=("left", "Left"),
          why="inputs are truncated on the right only; send \"right\" or leave it out", description="right only"),
)
NO_RAW_SCORES = Field("raw_scores", Kind.BOOL, default=False, nullable=False, refused=(True,), schema_default=False,
                      why="scores come after the model's activation; raw logits are not exposed. Send false or "
                          "leave it out", description="false only: scores come after the model's activation")


# --- what needs the served model (``model``: its ModelDescription) ------------------------------

def model_name_pattern(name: str) -> str:
    """The served name, or any ``<organisation>/<name>``, as an anchored regular expression."""
    return "^([^/]+/)?" + "".join(f"\\{c}" if c in ".^$*+?()[]{}|\\/" else c for c in name) + "$"


def _served_name(requested: str | None, model: Any) -> None:
    if requested is not None and not re.fullmatch(model_name_pattern(model.name), requested):
        raise ModelNotFoundError(f"the model {quote(requested, 60)} is not served here; this deployment serves "
                                 f"{model.name!r}: send that as model, or leave model out", param="model")


def other_dimensions(wanted: int | None, own: int | None, name: str) -> None:
    """422 unless ``wanted`` (None: any) is the model's own size (None: unknown yet, checked on the vectors)."""
    if wanted is not None and own is not None and wanted != own:
        raise UnprocessableError(
            f"dimensions={wanted}, but {name} gives {own}-dimensional embeddings and this service does not "
            f"shorten them; leave dimensions out, or send {own}", code="unsupported_dimensions", param="dimensions")


def _normalize_possible(normalize: bool, model: Any) -> None:
    if not normalize and model.spec.normalize:
        raise unsupported("normalize", f"{model.name} L2-normalises its embeddings in its own graph, so "
                                       "normalize=false cannot be honoured; leave it out or send true")


def _dimensions_schema(model: Any, limits: Limits) -> dict[str, Any]:
    own = dimensions(model)
    return ({"enum": [own, None], "description": f"only {own}, the model's own"} if own else
            {**nullable({"type": "integer", "minimum": 1}), "description": DIMENSIONS.description})


DIMENSIONS = Field("dimensions", Kind.POSITIVE_INT, check=lambda wanted, m: other_dimensions(wanted, dimensions(m),
                                                                                            m.name),
                   model_schema=_dimensions_schema,
                   description="only the model's own number of dimensions (no Matryoshka truncation)")
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
    EMBEDDINGS: _predict_body(EMBEDDINGS, "PredictRequest", (INPUTS,), '{"inputs": ["some text"]}',
                              {"inputs": ["A man is eating food."]}),
    CLASSIFICATION: _predict_body(
        CLASSIFICATION, "PredictClassificationRequest",
        (INPUTS, Field("top_k", Kind.POSITIVE_INT, description="labels per input, best first; null or left out: all")),
        '{"inputs": ["some text"], "top_k": 2}', {"inputs": ["I like you"], "top_k": 2}),
    RERANKING: _predict_body(
        RERANKING, "PredictRerankingRequest",
        (Field("query", Kind.TEXT, required=True), Field("documents", Kind.TEXTS, required=True),
         Field("top_n", Kind.POSITIVE_INT, description="the best n documents; null or left out: all")),
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
    Field("user", Kind.STRING, description="accepted and ignored"),
), '{"input": ["some text"]}', ({"input": ["A man is eating food."], "model": SERVED_NAME},))

# --- Text Embeddings Inference ------------------------------------------------------------------
TEI_EMBED = Body("TeiEmbedRequest", (
    Field("inputs", Kind.TEXTS, required=True, description=INPUTS_NOTE),
    Field("normalize", Kind.BOOL, default=True, nullable=False, schema_default=True, check=_normalize_possible,
          model_schema=lambda m, _: {"type": "boolean", "default": True} | (
              {"const": True, "description": "this model's embeddings are L2-normalised in its graph"}
              if m.spec.normalize else {})),
    *TRUNCATION,
    Field("prompt_name", Kind.NULL, why="this service applies no prompts; prepend the prompt text to each input "
                                        "yourself, and send prompt_name null or leave it out (got {got})",
          description="no prompts: null or left out"),
    DIMENSIONS,
    Field("encoding_format", Kind.CHOICE, choices=("float", "base64"), refused=("base64",),
          why="TEI's embed answers floats; for base64 use POST /v1/embeddings",
          description="float only (huggingface_hub sends it); base64 is on /v1/embeddings"),
), '{"inputs": ["some text"]}', ({"inputs": ["A man is eating food."]},))
TEI_RERANK = Body("TeiRerankRequest", (
    Field("query", Kind.TEXT, required=True), Field("texts", Kind.TEXT_LIST, required=True), *TRUNCATION,
    NO_RAW_SCORES, Field("return_text", Kind.BOOL, default=False, nullable=False, schema_default=False),
), '{"query": "a question", "texts": ["a passage", "another passage"]}',
    ({"query": "What is Deep Learning?", "texts": ["Deep Learning is...", "Cheese is..."]},))


def tei_predict_inputs(value: Any, limits: Limits) -> tuple[list[str], bool]:
    """TEI's PredictInput: a text, ``[text]``, or a batch ``[[text], ...]`` (pairs are refused); and if a batch.

    The items are read in order and the first wrong one answers, so that a pair anywhere
    in a batch is named as one."""
    batch = isinstance(value, list) and bool(value) and all(isinstance(item, list) for item in value)
    texts = []
    for item in value if batch else [[value] if isinstance(value, str) else value]:
        if not (isinstance(item, list) and item and all(isinstance(text, str) for text in item)):
            if value == []:
                raise UnprocessableError('"inputs" is empty; send at least one string', code="empty_inputs",
                                         param="inputs")
            raise UnprocessableError('"inputs" must be a string, or a batch of one-string arrays [["text"], '
                                     '["text"]]', code="invalid_inputs", param="inputs")
        if len(item) == 2:
            raise unsupported("inputs", "an array of two strings is a sentence pair in TEI's /predict, and this "
                                        "service classifies single texts; for a batch send [[\"a\"], [\"b\"]]",
                              code="pairs_not_supported")
        if len(item) > 2:
            raise UnprocessableError(f"an array of {len(item)} strings is neither a text nor a pair; for a batch "
                                     'send [["a"], ["b"], ...]', code="invalid_inputs", param="inputs")
        texts.append(item[0])
    return check_texts(texts, "inputs", limits), batch


def _tei_predict_inputs_schema(limits: Limits) -> dict[str, Any]:
    text, _ = text_schemas(limits)
    one = {"type": "array", "items": text, "minItems": 1, "maxItems": 1}
    return {"anyOf": [text, one, {"type": "array", "minItems": 1, "maxItems": limits.max_inputs, "items": one}],
            "description": "a text, or a batch [[text], [text], ...]; sentence pairs are refused"}


TEI_PREDICT = Body("TeiPredictRequest", (
    Field("inputs", Kind.CUSTOM, required=True, custom=tei_predict_inputs, custom_schema=_tei_predict_inputs_schema),
    *TRUNCATION, NO_RAW_SCORES,
    Field("parameters", Kind.OBJECT, description="huggingface_hub's text_classification sends its options here",
          body=Body("TeiPredictParameters", (
              Field("top_k", Kind.POSITIVE_INT),
              Field("function_to_apply", Kind.NULL,
                    why="function_to_apply: scores come after the model's own activation (softmax, or sigmoid for "
                        "multi-label); leave it out"),
          ), '{"top_k": 2}')),
), '{"inputs": "some text"}', ({"inputs": "I like you. I love you"},))


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

