"""Hugging Face Text Embeddings Inference (TEI) shapes: ``POST /embed``, ``POST /rerank``, ``POST /``.

Request and answer shapes follow TEI's router (``router/src/http/types.rs``): ``/embed``
answers ``[[float, ...], ...]``, ``/rerank`` ``[{"index", "score", "text"?}]`` sorted by
score, and TEI's ``/predict`` ``[{"label", "score"}]`` (one text) or a list of those (a
batch ``[[text], ...]``), sorted by score. ``POST /`` dispatches on the model's task as
TEI's root does. It is also where huggingface_hub's InferenceClient posts every task when
given this service's URL (``InferenceClient(base_url=url)``), so it accepts what that
client sends there: ``encoding_format`` and ``dimensions`` for features, and for
classification ``parameters``, with which a body is in the HF Inference API's shape and
gets that API's answer, a list per text even for one text (the client parses a flat list
into one label, not a list).

Classification in TEI's shape is served at ``POST /`` only: ``/predict`` is this
project's own route. What this service does not do is refused with a 422 that says so
(the bodies in ``table.py`` list them): left truncation, ``raw_scores: true``, prompts,
sentence pairs, ``normalize: false`` for a model that normalises in its graph, other
``dimensions``. ``truncate`` is accepted; inputs are always truncated at the model's
maximum length (TEI's default, ``--auto-truncate``). Errors keep this project's shape:
TEI's own is a bare string, which huggingface_hub reads no better.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..artifact.spec import Task
from .errors import TaskNotServedError, UnprocessableError
from .fields import check_texts, unsupported
from .model import Limits, Model
from .table import CLASSIFICATION, EMBEDDINGS, RERANKING, ROUTE_SPECS, TEI_EMBED, TEI_PREDICT, TEI_RERANK

if TYPE_CHECKING:
    from ..service import ModelDescription


def require(model: Model, tasks: tuple[Task, ...], route: str) -> ModelDescription:
    """The model's description, or 422 task_not_supported naming its task unless it is one of ``tasks``."""
    description = model.describe()
    task = description.spec.task
    if task not in tasks:
        serving = ", ".join(f"{r.method} {r.path}" for r in ROUTE_SPECS if task in r.tasks and r.request)
        raise TaskNotServedError(
            f"{route} needs a model for {' or '.join(tasks)}; this deployment serves {description.name}, a model "
            f"for {task}. Its routes: {serving}")
    return description


def embed(raw: bytes, model: Model, limits: Limits) -> list[list[float]]:
    """``POST /embed``."""
    return _embed(raw, model, require(model, (EMBEDDINGS,), "POST /embed"), limits)


def rerank(raw: bytes, model: Model, limits: Limits) -> list[dict[str, Any]]:
    """``POST /rerank``."""
    require(model, (RERANKING,), "POST /rerank")
    return _rerank(raw, model, limits)


def root(raw: bytes, model: Model, limits: Limits) -> Any:
    """``POST /``: /embed, /rerank or TEI's /predict, by the model's task."""
    task = model.describe().spec.task
    if task is RERANKING:
        return _rerank(raw, model, limits)
    if task is CLASSIFICATION:
        return _predict(raw, model, limits)
    return _embed(raw, model, require(model, (EMBEDDINGS,), "POST /"), limits)


def _embed(raw: bytes, model: Model, description: ModelDescription, limits: Limits) -> list[list[float]]:
    from .openai import check_dimensions, l2_normalized

    body = TEI_EMBED.parse(raw, limits, description)
    vectors = model.embed(body["inputs"])
    check_dimensions(body["dimensions"], vectors, description.name)
    return l2_normalized(vectors) if body["normalize"] and not description.spec.normalize else vectors


def _rerank(raw: bytes, model: Model, limits: Limits) -> list[dict[str, Any]]:
    body = TEI_RERANK.parse(raw, limits)
    texts = body["texts"]
    scores = [float(score) for score in model.rerank(body["query"], texts)]
    ranks = []
    for index in sorted(range(len(texts)), key=lambda i: -scores[i]):
        rank: dict[str, Any] = {"index": index, "score": scores[index]}
        if body["return_text"]:
            rank["text"] = texts[index]
        ranks.append(rank)
    return ranks


def _predict(raw: bytes, model: Model, limits: Limits) -> Any:
    body = TEI_PREDICT.parse(raw, limits)
    texts, batch = body["inputs"]
    parameters = body["parameters"]
    top_k = parameters.get("top_k") if parameters else None
    predictions = [sorted(({"label": str(p["label"]), "score": float(p["score"])} for p in per_text),
                          key=_score, reverse=True)
                   for per_text in model.classify(texts, top_k=top_k)]
    # A body with "parameters" is huggingface_hub's (HF Inference API shape; its
    # text_classification always sends one): answer in that API's shape too, a list per
    # text, which is what the client parses into a list of labels. TEI's own: one text,
    # one flat list.
    return predictions if batch or parameters is not None else predictions[0]


def _score(prediction: dict[str, Any]) -> float:
    return float(prediction["score"])


def predict_inputs(value: Any, limits: Limits) -> tuple[list[str], bool]:
    """TEI's PredictInput: a text, ``[text]``, or a batch ``[[text], ...]`` (pairs are refused); and if a batch."""
    if isinstance(value, str):
        return check_texts([value], "inputs", limits), False
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        if len(value) == 1:
            return check_texts(value, "inputs", limits), False
        _refuse_pairs(len(value))
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        for item in value:
            if len(item) > 1 and all(isinstance(text, str) for text in item):
                _refuse_pairs(len(item))
            if len(item) != 1 or not isinstance(item[0], str):
                break
        else:
            return check_texts([item[0] for item in value], "inputs", limits), True
    if value == []:
        raise UnprocessableError('"inputs" is empty; send at least one string', code="empty_inputs", param="inputs")
    raise UnprocessableError('"inputs" must be a string, or a batch of one-string arrays [["text"], ["text"]]',
                             code="invalid_inputs", param="inputs")


def _refuse_pairs(length: int) -> None:
    if length == 2:
        raise unsupported("inputs", "an array of two strings is a sentence pair in TEI's /predict, and this "
                                    "service classifies single texts; for a batch send [[\"a\"], [\"b\"]]",
                          code="pairs_not_supported")
    raise UnprocessableError(f"an array of {length} strings is neither a text nor a pair; for a batch send "
                             '[["a"], ["b"], ...]', code="invalid_inputs", param="inputs")
