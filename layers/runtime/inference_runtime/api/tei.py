"""Hugging Face Text Embeddings Inference (TEI) shapes: ``POST /embed``, ``POST /rerank``, ``POST /``.

Shapes as TEI's router (``router/src/http/types.rs``); ``POST /`` dispatches on the model's
task as TEI's root does, and is where huggingface_hub's ``InferenceClient(base_url=url)``
posts every task: a body with ``parameters`` (its text_classification always sends one)
gets the HF Inference API's answer, a list per text. Classification in TEI's shape is
served at ``POST /`` only (``/predict`` is this project's own). What this service does not
do is refused with a 422 that says so (the bodies in ``table.py`` list it); inputs are
always truncated at the model's maximum length (TEI's ``--auto-truncate``). Errors keep
this project's shape: TEI's own is a bare string, which huggingface_hub reads no better.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..artifact.spec import Task
from .errors import TaskNotServedError, UnprocessableError
from .fields import check_texts, unsupported
from .model import Limits, Model
from .table import (
    CLASSIFICATION,
    EMBEDDINGS,
    RERANKING,
    ROUTE_SPECS,
    TEI_EMBED,
    TEI_PREDICT,
    TEI_RERANK,
    other_dimensions,
)

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
    from .openai import l2_normalized

    body = TEI_EMBED.parse(raw, limits, description)
    vectors = model.embed(body["inputs"])
    other_dimensions(body["dimensions"], len(vectors[0]) if vectors else None, description.name)
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
    # huggingface_hub parses a list per text into labels (a flat list, into one label); TEI's own: one flat list.
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
