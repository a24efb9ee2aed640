"""Three tasks, one runtime: each served in process through the handler, from an artifact the
real exporter built (tiny random models, tests/tiny_models.py), plus the tasks' arithmetic
on fixed logits and the manifest rules that pick a task."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.artifact import Manifest, ManifestError, ModelSpec, Task
from inference_runtime.backends.onnx import OnnxBackend
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.lifecycle.timing import RequestTimings
from inference_runtime.service import InferenceService
from inference_runtime.tasks import TaskInputError, TaskMismatchError, task_for
from tests.helpers import body, load_event
from tests.tiny_models import LABELS, MAX_POSITIONS, make_model
from tools.export import build

# One architecture per task, so that each task also runs on a different tokenizer.
ARCHITECTURE = {"embeddings": "roberta", "classification": "bert", "reranking": "xlm-roberta"}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, InferenceService]:
    root = tmp_path_factory.mktemp("tasks")
    loaded = {}
    for task, architecture in ARCHITECTURE.items():
        directory = make_model(root / "models", architecture, task)
        build(root / task, model_dir=directory, name=f"tiny-{task}")
        service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=root / task))
        service.start()
        assert service.ready, service.error
        loaded[task] = service
    return loaded


def predict(service: InferenceService, payload: Any) -> tuple[int, dict[str, Any]]:
    new_instance()
    event = load_event("predict.json")
    event["body"] = json.dumps(payload)
    result = build_handler(service)(event, None)
    return result["statusCode"], body(result)


# --- each task through /predict -------------------------------------------------------

def test_embeddings_through_predict(services: dict[str, InferenceService]) -> None:
    service = services["embeddings"]
    status, answer = predict(service, {"inputs": ["hello world", "the quick brown fox"]})
    assert status == 200 and service.task is Task.EMBEDDINGS
    assert answer["model"] == "tiny-embeddings" and len(answer["outputs"]) == 2
    for vector in answer["outputs"]:
        assert len(vector) == 32 and math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-5)
    assert answer["outputs"] == service.embed(["hello world", "the quick brown fox"])


def test_classification_through_predict(services: dict[str, InferenceService]) -> None:
    service = services["classification"]
    texts = ["hello world", "the lazy dog", ""]
    # WHEN every label is asked for, THEN softmax scores over all three, highest first
    status, answer = predict(service, {"inputs": texts})
    assert status == 200 and service.task == "classification"
    for per_text in answer["outputs"]:
        assert sorted(d["label"] for d in per_text) == sorted(LABELS.values())
        scores = [d["score"] for d in per_text]
        assert scores == sorted(scores, reverse=True) and math.isclose(sum(scores), 1.0, rel_tol=1e-6)
    # WHEN top_k is given THEN the first k of the same ranking
    status, top = predict(service, {"inputs": texts, "top_k": 2})
    assert status == 200
    assert top["outputs"] == [per_text[:2] for per_text in answer["outputs"]]
    assert top["outputs"] == service.classify(texts, top_k=2)


def test_reranking_through_predict(services: dict[str, InferenceService]) -> None:
    service = services["reranking"]
    documents = ["cold model start", "the weather in paris", "", "serverless functions start quickly"]
    scores = service.rerank("how do serverless functions start?", documents)
    assert len(scores) == len(documents) and all(0.0 < s < 1.0 for s in scores)     # sigmoid
    status, answer = predict(service, {"query": "how do serverless functions start?", "documents": documents,
                                       "top_n": 3})
    assert status == 200 and service.task == "reranking"
    expected = sorted(range(len(documents)), key=lambda i: -scores[i])[:3]
    assert answer["outputs"] == [{"index": i, "score": scores[i]} for i in expected]
    # A single document may come as a string; no top_n is every document.
    status, one = predict(service, {"query": "q", "documents": "just one"})
    assert status == 200 and [o["index"] for o in one["outputs"]] == [0]


@pytest.mark.parametrize("task, payload, status, code", [
    ("classification", {"inputs": ["x"], "top_k": 0}, 422, "invalid_field"),
    ("classification", {"inputs": ["x"], "top_k": "2"}, 422, "invalid_field"),
    ("classification", {"inputs": ["x"], "top_k": True}, 422, "invalid_field"),
    ("classification", {"inputs": []}, 422, "empty_inputs"),
    ("classification", {"inputs": ["x"], "top_n": 1}, 422, "unknown_field"),
    ("reranking", {"documents": ["a"]}, 422, "missing_inputs"),
    ("reranking", {"query": 3, "documents": ["a"]}, 422, "invalid_inputs"),
    ("reranking", {"query": "q", "documents": []}, 422, "empty_inputs"),
    ("reranking", {"query": "q", "documents": ["a", 1]}, 422, "invalid_inputs"),
    ("reranking", {"query": "q", "documents": ["a"] * 65}, 413, "too_many_inputs"),
    ("reranking", {"query": "q" * 10_001, "documents": ["a"]}, 413, "input_too_long"),
    ("reranking", {"query": "\ud800", "documents": ["a"]}, 422, "invalid_text"),
    ("reranking", {"query": "q", "documents": ["a"], "top_n": -1}, 422, "invalid_field"),
    # A body shaped for another task names the task the model serves.
    ("embeddings", {"query": "q", "documents": ["a"]}, 422, "task_not_supported"),
    ("embeddings", {"inputs": ["x"], "top_k": 1}, 422, "task_not_supported"),
    ("reranking", {"inputs": ["x"]}, 422, "task_not_supported"),
    ("classification", {"query": "q", "documents": ["a"]}, 422, "task_not_supported"),
])
def test_bad_bodies_get_4xx_and_the_model_stays_warm(services: dict[str, InferenceService], task: str,
                                                      payload: Any, status: int, code: str) -> None:
    service = services[task]
    answered, answer = predict(service, payload)
    assert (answered, answer["error"]["code"]) == (status, code), answer
    if code == "task_not_supported":
        assert f"serves {task}" in answer["error"]["message"]
    assert service.ready


# --- the service's interface ----------------------------------------------------------

@pytest.mark.parametrize("task, call", [
    ("embeddings", lambda s: s.classify(["x"])),
    ("embeddings", lambda s: s.rerank("q", ["d"])),
    ("classification", lambda s: s.embed(["x"])),
    ("classification", lambda s: s.rerank("q", ["d"])),
    ("reranking", lambda s: s.embed(["x"])),
    ("reranking", lambda s: s.classify(["x"])),
])
def test_a_call_the_task_does_not_serve_names_the_task_it_does(services: dict[str, InferenceService], task: str,
                                                                call: Any) -> None:
    with pytest.raises(TaskMismatchError, match=f"tiny-{task}' serves {task}, not ") as raised:
        call(services[task])
    assert raised.value.served == task


def test_count_tokens_counts_what_the_model_reads(services: dict[str, InferenceService]) -> None:
    service = services["embeddings"]
    backend = service.load()
    assert isinstance(backend, OnnxBackend)    # its tokenizer is what the count must agree with
    short = ["the dog", "hello world"]
    expected = sum(len(backend._tokenizer.encode(t).ids) for t in short)   # no padding counted
    assert service.count_tokens(short) == expected
    # A text past the maximum length counts as the truncated text the model read.
    assert service.count_tokens([" ".join(["hello"] * 500)]) == MAX_POSITIONS
    assert services["reranking"].count_tokens(["the dog"]) > 0


def test_top_k_must_be_positive(services: dict[str, InferenceService]) -> None:
    with pytest.raises(TaskInputError, match="top_k must be a positive integer"):
        services["classification"].classify(["x"], top_k=0)
    assert len(services["classification"].classify(["x"], top_k=99)[0]) == len(LABELS)
    assert services["classification"].classify([]) == [] and services["reranking"].rerank("q", []) == []


# --- the tasks' arithmetic on fixed logits (no model) -------------------------------------

class FixedBackend:
    """Returns fixed rows: what a graph would give, without one (a tasks.GraphRunner)."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = np.asarray(rows, dtype=np.float32)
        self.calls: list[tuple[Sequence[str], Sequence[str] | None]] = []

    def run(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
            timings: RequestTimings | None = None) -> np.ndarray:
        self.calls.append((texts, pairs))
        return self.rows[: len(texts)]

    def count_tokens(self, texts: str | Sequence[str], pairs: Sequence[str] | None = None) -> int:
        # No tokenizer here: a token a word is enough for the runners, which only pass the count on.
        return sum(len(text.split()) for text in ([texts] if isinstance(texts, str) else [*texts, *(pairs or ())]))


def manifest(**model: Any) -> Manifest:
    return Manifest(name="fixed", version="1", format="onnx", files=(),
                    model=ModelSpec.from_dict({"graph": {}, "tokenizer": {}, **model}))


def test_softmax_sigmoid_and_ties() -> None:
    labels = ["a", "b", "c"]
    single = task_for(manifest(task="classification", labels=labels), FixedBackend([[1.0, 3.0, 3.0]]))
    (ranked,) = single.classify(["x"])
    expected = np.exp([1.0, 3.0, 3.0]) / np.exp([1.0, 3.0, 3.0]).sum()
    assert [d["label"] for d in ranked] == ["b", "c", "a"]               # ties keep label order
    assert np.allclose([d["score"] for d in ranked], sorted(expected, reverse=True))
    multi = task_for(manifest(task="classification", labels=labels, multi_label=True),
                     FixedBackend([[0.0, 2.0, -2.0]]))
    (ranked,) = multi.classify(["x"], top_k=2)
    assert [(d["label"], round(d["score"], 6)) for d in ranked] == [("b", round(1 / (1 + math.exp(-2)), 6)),
                                                                   ("a", 0.5)]


def test_rerank_pairs_each_document_with_the_query_and_applies_the_activation() -> None:
    backend = FixedBackend([[0.0], [2.0]])
    scores = task_for(manifest(task="reranking"), backend).rerank("q", ["d1", "d2"])
    assert backend.calls == [(["q", "q"], ["d1", "d2"])]
    assert np.allclose(scores, [0.5, 1 / (1 + math.exp(-2))])
    raw = task_for(manifest(task="reranking", score_activation="identity"), FixedBackend([[0.0], [2.0]]))
    assert raw.rerank("q", ["d1", "d2"]) == [0.0, 2.0]


@pytest.mark.parametrize("model, message", [
    ({"task": "summarisation"}, "is not one of embeddings, classification, reranking"),
    ({}, "model.task None is not one of"),                            # no default task any more
    ({"task": "classification"}, "must name its labels"),
    ({"task": "reranking", "score_activation": "tanh"}, "score_activation 'tanh' is not one of sigmoid, identity"),
])
def test_the_contract_refuses_a_model_it_cannot_serve(model: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        manifest(**model)


def test_each_task_gets_its_own_runner() -> None:
    for task in Task:
        extra = {"labels": ["a"]} if task is Task.CLASSIFICATION else {}
        assert task_for(manifest(task=task.value, **extra), FixedBackend([[0.0]])).task is task


def test_a_classifier_whose_manifest_lost_its_labels_is_a_503(services: dict[str, InferenceService],
                                                             tmp_path: Path) -> None:
    # GIVEN a classification artifact whose manifest names no labels
    import shutil

    source = services["classification"].config.artifact_dir
    broken = tmp_path / "broken"
    shutil.copytree(source, broken)
    data = json.loads((broken / "manifest.json").read_text())
    del data["model"]["labels"]
    (broken / "manifest.json").write_text(json.dumps(data))
    # WHEN the environment loads it THEN it is not served, and requests say why
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=broken, model_retry_seconds=0))
    service.start()
    status, answer = predict(service, {"inputs": ["x"]})
    assert (status, answer["error"]["code"]) == (503, "model_not_ready")
    assert "must name its labels" in answer["error"]["message"]


def test_raw_scores_are_the_logits_in_the_same_order() -> None:
    labels = ["a", "b", "c"]
    single = task_for(manifest(task="classification", labels=labels), FixedBackend([[1.0, 3.0, -2.0]]))
    (ranked,) = single.classify(["x"], raw_scores=True)
    assert [(d["label"], d["score"]) for d in ranked] == [("b", 3.0), ("a", 1.0), ("c", -2.0)]
    (top,) = single.classify(["x"], top_k=1, raw_scores=True)
    assert top == [{"label": "b", "score": 3.0}]
    reranker = task_for(manifest(task="reranking"), FixedBackend([[2.5], [-1.0]]))
    assert reranker.rerank("q", ["d1", "d2"], raw_scores=True) == [2.5, -1.0]
    assert reranker.rerank("q", ["d1", "d2"]) == pytest.approx([1 / (1 + math.exp(-2.5)), 1 / (1 + math.exp(1.0))])
