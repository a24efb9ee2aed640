"""Hugging Face Text Embeddings Inference (TEI) shapes: ``POST /embed``, ``POST /rerank``, ``POST /``.

Request and answer shapes follow TEI's router (``router/src/http/types.rs``): ``/embed``
answers ``[[float, ...], ...]``, ``/rerank`` ``[{"index", "score", "text"?}]`` sorted by
score, and TEI's ``/predict`` ``[{"label", "score"}]`` (one text) or a list of those (a
batch ``[[text], ...]``), sorted by score. ``POST /`` dispatches on the model's task as
TEI's root does. It is also where huggingface_hub's InferenceClient posts every task when
given this service's URL (``InferenceClient(base_url=url)``: the URL itself, no suffix),
so it accepts what that client sends there: ``encoding_format`` and ``dimensions`` for
features, and for classification ``parameters``, with which a body is in the HF
Inference API's shape and gets that API's answer, a list per text even for one text
(the client parses a flat list into one label, not a list).

Classification in TEI's shape is served at ``POST /`` only: ``/predict`` is this
project's own route. What this service does not do is refused with a 422 that says so,
never silently changed: left truncation, ``raw_scores: true``, prompts, sentence pairs,
``normalize: false`` for a model that normalises in its graph, other ``dimensions``.
``truncate`` is accepted; inputs are always truncated at the model's maximum length
(TEI's default, ``--auto-truncate``), so ``truncate: false`` does not refuse long inputs.
Errors keep this project's shape (``{"error": {"code", "message"}}``): TEI's own is a
bare string, which huggingface_hub reads no better.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .bodies import (
    bool_field,
    check_fields,
    check_texts,
    choice_field,
    parse_json_object,
    positive_int_field,
    text_field,
    text_list_field,
    texts_field,
)
from .errors import UnprocessableError, quote
from .served import ServedModel, served_model
from .spec import CLASSIFICATION, EMBEDDINGS, RERANKING
from .vectors import check_dimensions, l2_normalized, requested_dimensions

if TYPE_CHECKING:
    from ..config import RuntimeConfig
    from ..service import InferenceService

_TRUNCATION = ("truncate", "truncation_direction")
EMBED_FIELDS = ("inputs", "normalize", *_TRUNCATION, "prompt_name", "dimensions", "encoding_format")
RERANK_FIELDS = ("query", "texts", *_TRUNCATION, "raw_scores", "return_text")
PREDICT_FIELDS = ("inputs", *_TRUNCATION, "raw_scores", "parameters")
EMBED_EXAMPLE = '{"inputs": ["some text"]}'
RERANK_EXAMPLE = '{"query": "a question", "texts": ["a passage", "another passage"]}'
PREDICT_EXAMPLE = '{"inputs": "some text"}'


def embed(raw: bytes, service: InferenceService, config: RuntimeConfig) -> list[list[float]]:
    """``POST /embed``."""
    model = served_model(service)
    model.require((EMBEDDINGS,), "POST /embed")
    return _embed(parse_json_object(raw, config, example=EMBED_EXAMPLE), model, service, config)


def rerank(raw: bytes, service: InferenceService, config: RuntimeConfig) -> list[dict[str, Any]]:
    """``POST /rerank``."""
    model = served_model(service)
    model.require((RERANKING,), "POST /rerank")
    return _rerank(parse_json_object(raw, config, example=RERANK_EXAMPLE), service, config)


def root(raw: bytes, service: InferenceService, config: RuntimeConfig) -> Any:
    """``POST /``: /embed, /rerank or TEI's /predict, by the model's task."""
    model = served_model(service)
    if model.task == RERANKING:
        return _rerank(parse_json_object(raw, config, example=RERANK_EXAMPLE), service, config)
    if model.task == CLASSIFICATION:
        return _predict(parse_json_object(raw, config, example=PREDICT_EXAMPLE), service, config)
    model.require((EMBEDDINGS,), "POST /")
    return _embed(parse_json_object(raw, config, example=EMBED_EXAMPLE), model, service, config)


def _embed(payload: dict[str, Any], model: ServedModel, service: InferenceService,
           config: RuntimeConfig) -> list[list[float]]:
    check_fields(payload, EMBED_FIELDS)
    texts = texts_field(payload, "inputs", config)
    _truncation(payload)
    normalize = bool_field(payload, "normalize", True)
    if not normalize and model.normalized:
        raise _unsupported("normalize", f"{model.name} L2-normalises its embeddings in its own graph, so "
                                        "normalize=false cannot be honoured; leave it out or send true")
    if payload.get("prompt_name") is not None:
        raise _unsupported("prompt_name", f"this service applies no prompts; prepend the prompt text to each input "
                                          f"yourself, and send prompt_name null or leave it out "
                                          f"(got {quote(payload['prompt_name'], 40)})")
    if choice_field(payload, "encoding_format", ("float", "base64")) == "base64":
        raise _unsupported("encoding_format", "TEI's embed answers floats; for base64 use POST /v1/embeddings")
    dimensions = requested_dimensions(payload, model)
    vectors = service.embed(texts)
    check_dimensions(dimensions, vectors, model)
    return l2_normalized(vectors) if normalize and not model.normalized else vectors


def _rerank(payload: dict[str, Any], service: InferenceService, config: RuntimeConfig) -> list[dict[str, Any]]:
    check_fields(payload, RERANK_FIELDS)
    query = text_field(payload, "query", config)
    texts = text_list_field(payload, "texts", config)
    _truncation(payload)
    _no_raw_scores(payload)
    return_text = bool_field(payload, "return_text", False)
    scores = [float(score) for score in service.rerank(query, texts)]
    ranks = []
    for index in sorted(range(len(texts)), key=lambda i: -scores[i]):
        rank: dict[str, Any] = {"index": index, "score": scores[index]}
        if return_text:
            rank["text"] = texts[index]
        ranks.append(rank)
    return ranks


def _by_score(prediction: dict[str, Any]) -> float:
    return float(prediction["score"])


def _predict(payload: dict[str, Any], service: InferenceService, config: RuntimeConfig) -> Any:
    check_fields(payload, PREDICT_FIELDS)
    texts, batch = _predict_inputs(payload.get("inputs", _MISSING))
    check_texts(texts, "inputs", config)
    _truncation(payload)
    _no_raw_scores(payload)
    top_k = _classification_parameters(payload.get("parameters"))
    predictions = [sorted(({"label": str(p["label"]), "score": float(p["score"])} for p in per_text),
                          key=_by_score, reverse=True)
                   for per_text in service.classify(texts, top_k=top_k)]
    # A body with "parameters" is huggingface_hub's (HF Inference API shape; its
    # text_classification always sends one): answer in that API's shape too, a list per
    # text, which is what the client parses into a list of labels. TEI's own: one text,
    # one flat list.
    return predictions if batch or "parameters" in payload else predictions[0]


_MISSING = object()


def _predict_inputs(value: Any) -> tuple[list[str], bool]:
    """TEI's PredictInput: a text, ``[text]``, or a batch ``[[text], ...]`` (pairs are refused)."""
    if value is _MISSING:
        raise UnprocessableError('missing field "inputs": a string, or a batch [["text"], ["text"], ...]',
                                 code="missing_inputs", param="inputs")
    if isinstance(value, str):
        return [value], False
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        if len(value) == 1:
            return value, False
        _refuse_pairs(len(value))
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        for item in value:
            if len(item) > 1 and all(isinstance(text, str) for text in item):
                _refuse_pairs(len(item))
            if len(item) != 1 or not isinstance(item[0], str):
                break
        else:
            return [item[0] for item in value], True
    if value == []:
        raise UnprocessableError('"inputs" is empty; send at least one string', code="empty_inputs",
                                 param="inputs")
    raise UnprocessableError('"inputs" must be a string, or a batch of one-string arrays [["text"], ["text"]]',
                             code="invalid_inputs", param="inputs")


def _refuse_pairs(length: int) -> None:
    if length == 2:
        raise _unsupported("inputs", "an array of two strings is a sentence pair in TEI's /predict, and this "
                                     "service classifies single texts; for a batch send [[\"a\"], [\"b\"]]",
                           code="pairs_not_supported")
    raise UnprocessableError(f"an array of {length} strings is neither a text nor a pair; for a batch send "
                             '[["a"], ["b"], ...]', code="invalid_inputs", param="inputs")


def _classification_parameters(parameters: Any) -> int | None:
    """huggingface_hub's ``parameters``: ``top_k``; ``function_to_apply`` only left out."""
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise UnprocessableError('"parameters" must be an object like {"top_k": 2} (or null)', code="invalid_field",
                                 param="parameters")
    check_fields(parameters, ("top_k", "function_to_apply"))
    if parameters.get("function_to_apply") is not None:
        raise _unsupported("parameters", "function_to_apply: scores come after the model's own activation "
                                         "(softmax, or sigmoid for multi-label); leave it out")
    return positive_int_field(parameters, "top_k")


def _truncation(payload: dict[str, Any]) -> None:
    bool_field(payload, "truncate", True, nullable=True)
    if choice_field(payload, "truncation_direction", ("right", "Right", "left", "Left")) in ("left", "Left"):
        raise _unsupported("truncation_direction", "inputs are truncated on the right only; send \"right\" or "
                                                   "leave it out")


def _no_raw_scores(payload: dict[str, Any]) -> None:
    if bool_field(payload, "raw_scores", False):
        raise _unsupported("raw_scores", "scores come after the model's activation; raw logits are not exposed. "
                                         "Send false or leave it out")


def _unsupported(param: str, why: str, *, code: str = "unsupported_parameter") -> UnprocessableError:
    return UnprocessableError(f"{param}: {why}", code=code, param=param)
