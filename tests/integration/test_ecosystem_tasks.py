"""Classification and reranking through the ecosystem's routes, on real artifacts under the real emulator.

tests/integration/test_ecosystem_clients.py covers embeddings with the real model; its
classification test, and tests/unit's for reranking, run on in-memory fakes. Here the two
other tasks are served for real: a tiny random-weight BERT classifier (three id2label
labels) and a tiny BERT cross-encoder (tests/tiny_models.py) are exported with the
project's own builder (tools/export, whose parity check must pass), and each is served
by one module-scoped local deployment: client -> front door (the ALB's rules) -> Lambda
Runtime Interface Emulator -> the function in .venv-runtime. Then:

- classification: huggingface_hub's ``InferenceClient(base_url=...).text_classification``
  (posts to ``POST /``), TEI's ``/predict`` shape at ``POST /``, and native ``/predict``;
- reranking: TEI's ``POST /rerank`` and ``POST /`` over plain HTTP, and native ``/predict``.
  huggingface_hub 2.4.0's InferenceClient has no rerank method (nothing in the package
  names it), so TEI's documented shape is the client here;
- every answer against the torch reference computed here from the same model directory
  with transformers (softmax labels and order; sigmoid scores and order), scores within
  1e-3; a route for another task answers 422 ``task_not_supported`` naming the model's task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.tiny_models import LABELS, MAX_POSITIONS, make_model
from tools.local.demo import Client
from tools.local.deployment import LocalDeployment

pytestmark = pytest.mark.integration

ARCHITECTURE = "bert"
CLASSIFIER, RERANKER = "tiny-bert-classifier", "tiny-bert-reranker"
TEXTS = ["I like you", "the quick brown fox jumps over the lazy dog", "Ünïcödé 東京 🚀",
         " ".join(["a very long document"] * 20)]
QUERY = "how do serverless functions start quickly?"
DOCUMENTS = ["cold model start", "the weather in paris", "serverless functions start quickly",
             "hello world", " ".join(["serverless inference"] * 40)]
TOLERANCE = 1e-3          # |served score - torch score|, after softmax / sigmoid


# --- the models, their artifacts, their torch references ----------------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ecosystem-tasks")


def export(root: Path, task: str, name: str) -> tuple[Path, Path]:
    """A tiny model directory for ``task`` and its artifact, built by the real builder (parity included)."""
    from tools.export import build

    directory = make_model(root / "models", ARCHITECTURE, task)
    artifact = root / "artifacts" / name
    result = build(artifact, model_dir=directory, name=name)      # raises if parity with torch fails
    assert result.spec.task == task and result.parity.passed
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["name"] == name and manifest["model"]["task"] == task
    return directory, artifact


def deploy(artifact: Path) -> Iterator[LocalDeployment]:
    """One environment per tier pool, no premium prewarm: one cold start, then warm requests."""
    env = {"MODEL_ARTIFACT_DIR": str(artifact)}
    # The function's environment takes env= last (EmulatedFunction.environment), so this
    # artifact is the one served; check_runtime_ready only looks at this process's own
    # environment for MODEL_ARTIFACT_DIR, so it is set there too while the deployment is made.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODEL_ARTIFACT_DIR", str(artifact))
        deployment = LocalDeployment(max_environments=1, prewarm_premium=False, env=env)
    with deployment as running:
        yield running


def reference_logits(directory: Path, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    model = AutoModelForSequenceClassification.from_pretrained(str(directory)).eval()
    encoded = tokenizer(texts, pairs, padding=True, truncation=True, max_length=MAX_POSITIONS, return_tensors="pt")
    with torch.inference_mode():
        return model(**encoded).logits.double().numpy()


@pytest.fixture(scope="module")
def classifier(root: Path) -> tuple[Path, Path]:
    return export(root, "classification", CLASSIFIER)


@pytest.fixture(scope="module")
def reranker(root: Path) -> tuple[Path, Path]:
    return export(root, "reranking", RERANKER)


@pytest.fixture(scope="module")
def class_probabilities(classifier: tuple[Path, Path]) -> np.ndarray:
    """Softmax over the three labels, per text (the config has no problem_type: single label)."""
    logits = reference_logits(classifier[0], TEXTS)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def relevance(reranker: tuple[Path, Path]) -> np.ndarray:
    """Sigmoid of the one logit per (query, document) pair, as CrossEncoder.predict gives it."""
    logits = reference_logits(reranker[0], [QUERY] * len(DOCUMENTS), DOCUMENTS)
    assert logits.shape == (len(DOCUMENTS), 1)
    return 1.0 / (1.0 + np.exp(-logits[:, 0]))


@pytest.fixture(scope="module")
def classifier_door(classifier: tuple[Path, Path]) -> Iterator[LocalDeployment]:
    yield from deploy(classifier[1])


@pytest.fixture(scope="module")
def reranker_door(reranker: tuple[Path, Path]) -> Iterator[LocalDeployment]:
    yield from deploy(reranker[1])


@pytest.fixture
def http() -> Iterator[Any]:
    """A plain HTTP client for the deployment the test names (``classifier_door`` or ``reranker_door``)."""
    clients: list[Client] = []

    def connect(deployment: LocalDeployment) -> Client:
        clients.append(Client(deployment.front_door.url))
        return clients[-1]

    yield connect
    for client in clients:
        client.close()


# --- checks against the reference ----------------------------------------------------------------

MAX_DIFF: dict[str, float] = {}


def record(what: str, diff: float) -> None:
    MAX_DIFF[what] = max(MAX_DIFF.get(what, 0.0), diff)


@pytest.fixture(scope="module", autouse=True)
def report_max_differences() -> Iterator[None]:
    """The figures checked, printed once at the end of the module (seen with -s)."""
    yield
    for what, diff in sorted(MAX_DIFF.items()):
        print(f"\nmax |served score - torch score|, {what}: {diff:.2g}", end="")


def check_labels(what: str, row: np.ndarray, answer: list[tuple[str, float]], top_k: int | None = None) -> None:
    """``answer`` is ``row``'s labels best first (all, or the first ``top_k``), scores within TOLERANCE."""
    order = np.argsort(-row, kind="stable")[:top_k]
    assert [label for label, _ in answer] == [LABELS[int(i)] for i in order], (what, answer, row)
    diff = float(np.abs(np.asarray([score for _, score in answer]) - row[order]).max())
    assert diff <= TOLERANCE, (what, answer, row)
    record(what, diff)


def check_ranks(what: str, expected: np.ndarray, ranks: list[dict[str, Any]], top_n: int | None = None) -> None:
    """``ranks`` are the documents best first (all, or the first ``top_n``), scores within TOLERANCE."""
    order = [int(i) for i in np.argsort(-expected, kind="stable")[:top_n]]
    assert [rank["index"] for rank in ranks] == order, (what, ranks, expected)
    diff = float(np.abs(np.asarray([rank["score"] for rank in ranks]) - expected[order]).max())
    assert diff <= TOLERANCE, (what, ranks, expected)
    record(what, diff)


def check_task_not_supported(answer: dict[str, Any], route: str, task: str, name: str) -> None:
    error = answer["error"]
    assert error["code"] == "task_not_supported", answer
    assert route in error["message"] and f"this deployment serves {name}, a model for {task}" in error["message"]


# --- classification ----------------------------------------------------------------------------

def test_the_reference_is_not_degenerate(class_probabilities: np.ndarray, relevance: np.ndarray) -> None:
    # Random weights: no near-ties, so that scores within TOLERANCE of torch's fix one order,
    # and the order checks below test the scores rather than a coin toss.
    for row in class_probabilities:
        assert np.diff(np.sort(row)).min() > 2 * TOLERANCE, row
    assert np.diff(np.sort(relevance)).min() > 2 * TOLERANCE, relevance


def test_huggingface_inference_client_text_classification(classifier_door: LocalDeployment,
                                                          class_probabilities: np.ndarray) -> None:
    from huggingface_hub import InferenceClient

    # GIVEN huggingface_hub's client given the door's URL (it posts to the URL itself: POST /)
    client = InferenceClient(base_url=classifier_door.front_door.url, timeout=120)
    for text, row in zip(TEXTS, class_probabilities, strict=True):
        # WHEN it classifies each text, with every label and with top_k
        every = client.text_classification(text)
        top = client.text_classification(text, top_k=2)
        # THEN torch's softmax labels, best first
        check_labels("classification, InferenceClient", row, [(e.label, e.score) for e in every])
        check_labels("classification, InferenceClient", row, [(e.label, e.score) for e in top], top_k=2)


def test_tei_predict_shape_at_the_root(classifier_door: LocalDeployment, class_probabilities: np.ndarray,
                                       http: Any) -> None:
    client = http(classifier_door)
    # TEI's /predict shapes at POST /: a batch [[text], ...] -> a list per text
    status, batch, _ = client.request("POST", "/", {"inputs": [[text] for text in TEXTS]})
    assert status == 200 and len(batch) == len(TEXTS)
    for row, answer in zip(class_probabilities, batch, strict=True):
        check_labels("classification, TEI POST /", row, [(p["label"], p["score"]) for p in answer])
    # one text -> one flat list
    status, one, _ = client.request("POST", "/", {"inputs": TEXTS[0]})
    assert status == 200
    check_labels("classification, TEI POST /", class_probabilities[0], [(p["label"], p["score"]) for p in one])


def test_native_predict_classifies(classifier_door: LocalDeployment, class_probabilities: np.ndarray,
                                   http: Any) -> None:
    client = http(classifier_door)
    status, answer, _ = client.request("POST", "/predict", {"inputs": TEXTS})
    assert status == 200 and answer["model"] == CLASSIFIER and len(answer["outputs"]) == len(TEXTS)
    for row, labels in zip(class_probabilities, answer["outputs"], strict=True):
        check_labels("classification, /predict", row, [(p["label"], p["score"]) for p in labels])
    status, answer, _ = client.request("POST", "/predict", {"inputs": TEXTS[1], "top_k": 1})
    assert status == 200 and len(answer["outputs"]) == 1
    check_labels("classification, /predict", class_probabilities[1],
                 [(p["label"], p["score"]) for p in answer["outputs"][0]], top_k=1)


@pytest.mark.parametrize(("path", "body"), [
    ("/rerank", {"query": "q", "texts": ["a", "b"]}),
    ("/embed", {"inputs": ["a"]}),
    ("/v1/embeddings", {"input": ["a"]}),
    ("/predict", {"query": "q", "documents": ["a", "b"]}),
])
def test_a_classifier_refuses_other_tasks_routes(classifier_door: LocalDeployment, http: Any,
                                                 path: str, body: dict[str, Any]) -> None:
    status, answer, _ = http(classifier_door).request("POST", path, body)
    assert status == 422, answer
    if path == "/predict":
        # a body shaped for another task: the message names the task the model serves
        assert answer["error"]["code"] == "task_not_supported" and "classification" in answer["error"]["message"]
    else:
        check_task_not_supported(answer, f"POST {path}", "classification", CLASSIFIER)
    if path.startswith("/v1/"):
        assert answer["error"]["type"] and "param" in answer["error"]     # OpenAI's error shape


# --- reranking ----------------------------------------------------------------------------------

def test_tei_rerank_over_plain_http(reranker_door: LocalDeployment, relevance: np.ndarray, http: Any) -> None:
    client = http(reranker_door)
    # GIVEN TEI's documented /rerank body WHEN posted THEN the documents by torch's sigmoid score
    status, ranks, _ = client.request("POST", "/rerank", {"query": QUERY, "texts": DOCUMENTS, "return_text": True})
    assert status == 200
    check_ranks("reranking, TEI /rerank", relevance, ranks)
    assert [rank["text"] for rank in ranks] == [DOCUMENTS[rank["index"]] for rank in ranks]
    # the same at TEI's root, which dispatches to /rerank for a reranker (no text unless asked)
    status, ranks, _ = client.request("POST", "/", {"query": QUERY, "texts": DOCUMENTS, "truncate": True})
    assert status == 200 and all("text" not in rank for rank in ranks)
    check_ranks("reranking, TEI POST /", relevance, ranks)


def test_native_predict_reranks(reranker_door: LocalDeployment, relevance: np.ndarray, http: Any) -> None:
    client = http(reranker_door)
    status, answer, _ = client.request("POST", "/predict", {"query": QUERY, "documents": DOCUMENTS})
    assert status == 200 and answer["model"] == RERANKER
    check_ranks("reranking, /predict", relevance, answer["outputs"])
    status, answer, _ = client.request("POST", "/predict", {"query": QUERY, "documents": DOCUMENTS, "top_n": 2})
    assert status == 200
    check_ranks("reranking, /predict", relevance, answer["outputs"], top_n=2)


@pytest.mark.parametrize(("path", "body"), [
    ("/embed", {"inputs": ["a"]}),
    ("/v1/embeddings", {"input": ["a"]}),
    ("/predict", {"inputs": ["a"]}),
])
def test_a_reranker_refuses_other_tasks_routes(reranker_door: LocalDeployment, http: Any,
                                               path: str, body: dict[str, Any]) -> None:
    status, answer, _ = http(reranker_door).request("POST", path, body)
    assert status == 422, answer
    if path == "/predict":
        assert answer["error"]["code"] == "task_not_supported" and "reranking" in answer["error"]["message"]
    else:
        check_task_not_supported(answer, f"POST {path}", "reranking", RERANKER)


def test_huggingface_inference_client_text_classification_on_a_reranker(reranker_door: LocalDeployment) -> None:
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import HfHubHTTPError

    # The root serves the reranker's task: a classification body there is refused with a 4xx
    # the client raises, not a wrong answer.
    client = InferenceClient(base_url=reranker_door.front_door.url, timeout=120)
    with pytest.raises(HfHubHTTPError) as refused:
        client.text_classification("I like you")
    assert refused.value.response.status_code == 422
