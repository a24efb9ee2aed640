"""The real exporter on tiny random-weight models of every architecture and task.

Each model (tests/tiny_models.py: BERT, RoBERTa, XLM-RoBERTa, DistilBERT, MPNet; hidden 32,
2 layers) is exported with the real builder, whose parity check must pass, and then served
by the runtime in process and compared with an independent reference: sentence-transformers'
``SentenceTransformer.encode`` for embeddings, ``CrossEncoder.predict`` for reranking,
transformers' text-classification scores for classification.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from inference_runtime.config import RuntimeConfig
from inference_runtime.service import InferenceService
from tests.tiny_models import ARCHITECTURES, LABELS, MAX_POSITIONS, TASKS, make_model
from tools.export import MAX_LOGIT_DIFF, MIN_COSINE, build

TEXTS = ["hello world", "the quick brown fox jumps over the lazy dog", "",
         " ".join(["a very long document"] * 40), "Ünïcödé 東京 🚀"]
QUERY = "how do serverless functions start quickly?"
DOCUMENTS = ["cold model start", "the weather in paris", "", " ".join(["serverless inference"] * 60)]


def serve(artifact: Path) -> InferenceService:
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact))
    service.start()
    assert service.ready, service.error
    return service


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_and_task_exports_with_parity_and_serves_like_torch(
        root: Path, architecture: str, task: str) -> None:
    # GIVEN a tiny random model directory, saved as a user's would be
    directory = make_model(root / "models", architecture, task)
    # WHEN the real builder exports it (inferring the task)
    result = build(root / "artifacts" / directory.name, model_dir=directory, name=directory.name)
    # THEN the task is inferred, parity held, and the manifest says what the runtime needs
    manifest = json.loads((root / "artifacts" / directory.name / "manifest.json").read_text())
    model, parity = manifest["model"], manifest["source"]["parity"]
    assert result.plan.task == model["task"] == task
    assert result.parity.passed and parity["inputs"] >= 6
    assert model["tokenizer"]["max_sequence_length"] == MAX_POSITIONS
    if task == "embeddings":
        assert parity["min_cosine"] >= MIN_COSINE
        assert (model["pooling"], model["normalize"], model["dimensions"]) == (["mean"], True, 32)
    else:
        assert parity["max_abs_logit_diff"] <= MAX_LOGIT_DIFF
    # AND served in process, it answers what torch does
    service = serve(root / "artifacts" / directory.name)
    assert service.task == task
    if task == "embeddings":
        from sentence_transformers import SentenceTransformer

        expected = SentenceTransformer(str(directory), device="cpu").encode(TEXTS, normalize_embeddings=False)
        served = np.asarray(service.embed(TEXTS))
        assert served.shape == expected.shape
        assert cosines(served, expected).min() >= MIN_COSINE
        assert np.allclose(np.linalg.norm(served, axis=1), 1.0, atol=1e-5)
    elif task == "reranking":
        from sentence_transformers import CrossEncoder

        expected = CrossEncoder(str(directory), device="cpu").predict([(QUERY, d) for d in DOCUMENTS])
        scores = service.rerank(QUERY, DOCUMENTS)
        assert np.abs(np.asarray(scores) - expected).max() <= 1e-4       # sigmoid scores, as CrossEncoder gives
    else:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        reference = AutoModelForSequenceClassification.from_pretrained(str(directory)).eval()
        with torch.inference_mode():
            logits = reference(**tokenizer(TEXTS, padding=True, truncation=True, max_length=MAX_POSITIONS,
                                           return_tensors="pt")).logits
        expected = torch.softmax(logits, dim=-1).numpy()
        answers = service.classify(TEXTS)
        for row, answer in zip(expected, answers, strict=True):
            assert [a["label"] for a in answer] == [LABELS[i] for i in np.argsort(-row, kind="stable")]
            assert np.allclose(sorted(row, reverse=True), [a["score"] for a in answer], atol=1e-4)


@pytest.mark.parametrize("pooling", ["cls", "max", "lasttoken", "weightedmean", "mean_sqrt_len_tokens"])
def test_every_pooling_mode_matches_sentence_transformers(root: Path, pooling: str) -> None:
    from sentence_transformers import SentenceTransformer

    directory = make_model(root / f"pool-{pooling}", "bert", "embeddings", pooling=pooling, normalize=False)
    result = build(root / "artifacts" / f"pool-{pooling}", model_dir=directory, name=f"pool-{pooling}")
    assert result.plan.pooling == (pooling,) and result.plan.normalize is False
    service = serve(root / "artifacts" / f"pool-{pooling}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = SentenceTransformer(str(directory), device="cpu").encode(TEXTS)
    served = np.asarray(service.embed(TEXTS))
    assert cosines(served, expected).min() >= MIN_COSINE
    assert np.allclose(served, expected, atol=1e-4)     # not normalised: the values themselves


def test_a_multi_label_classifier_scores_each_label_with_a_sigmoid(root: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    directory = make_model(root / "multi", "distilbert", "classification", multi_label=True)
    result = build(root / "artifacts" / "multi", model_dir=directory, name="multi")
    assert result.manifest.model.multi_label is True
    service = serve(root / "artifacts" / "multi")
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    reference = AutoModelForSequenceClassification.from_pretrained(str(directory)).eval()
    with torch.inference_mode():
        expected = torch.sigmoid(reference(**tokenizer(TEXTS[:2], padding=True, return_tensors="pt")).logits).numpy()
    served = service.classify(TEXTS[:2], top_k=2)
    for row, answer in zip(expected, served, strict=True):
        assert len(answer) == 2
        assert [a["label"] for a in answer] == [LABELS[i] for i in np.argsort(-row, kind="stable")[:2]]
        assert np.allclose([a["score"] for a in answer], sorted(row, reverse=True)[:2], atol=1e-5)
