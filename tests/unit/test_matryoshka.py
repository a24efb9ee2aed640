"""The runtime's side of issue 15 on a tiny model exported by the real builder with prompts, a
default prompt and Matryoshka sizes: prompts prepended, truncation + renormalisation (and its
refusals), raw scores, tokenize/decode, token counts, the request timings, and the build's
parity figures against sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference_runtime.artifact import ManifestError, ModelSpec
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle.timing import RequestTimings
from inference_runtime.service import InferenceService
from inference_runtime.tasks import TaskInputError
from inference_runtime.tasks.errors import DimensionsNotSupportedError, UnknownPromptError
from tests.tiny_models import MATRYOSHKA, MAX_POSITIONS, PROMPTS
from tools.export import ExportError, build

TEXTS = ["hello world", "the quick brown fox jumps over the lazy dog"]


@pytest.fixture(scope="module")
def prompted(prompted_service: InferenceService) -> InferenceService:
    return prompted_service


@pytest.fixture(scope="module")
def plain(tiny_artifact_dir: Path) -> InferenceService:
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir))
    service.start()
    assert service.ready, service.error
    return service


def test_the_contract_carries_prompts_default_and_sizes(prompted: InferenceService) -> None:
    model = prompted.describe().spec
    assert dict(model.prompts) == PROMPTS and model.default_prompt_name == "query"
    assert model.matryoshka_dimensions == MATRYOSHKA
    assert ModelSpec.from_dict(model.to_dict()) == model
    manifest = json.loads((prompted.config.artifact_dir / "manifest.json").read_text())
    checks = manifest["source"]["parity_sentence_transformers"]
    assert {(c["prompt_name"], c["dimensions"]) for c in checks} == {
        *((name, None) for name in PROMPTS), *((None, size) for size in MATRYOSHKA)}
    assert all(c["min_cosine"] >= 0.9999 for c in checks)


def test_a_prompt_is_prepended_to_each_text(prompted: InferenceService) -> None:
    with_prompt = np.asarray(prompted.embed(TEXTS, prompt_name="passage"))
    by_hand = np.asarray(prompted.embed([PROMPTS["passage"] + t for t in TEXTS]))
    assert np.allclose(with_prompt, by_hand, atol=1e-6)
    assert not np.allclose(with_prompt, np.asarray(prompted.embed(TEXTS)), atol=1e-3)
    with pytest.raises(UnknownPromptError, match="classification, passage, query"):
        prompted.embed(TEXTS, prompt_name="nope")


def test_matryoshka_truncates_then_renormalises(prompted: InferenceService) -> None:
    full = np.asarray(prompted.embed(TEXTS))
    for size in (*MATRYOSHKA, 5):       # sizes besides the declared ones too, as truncate_dim allows
        short = np.asarray(prompted.embed(TEXTS, dimensions=size))
        expected = full[:, :size] / np.linalg.norm(full[:, :size], axis=1, keepdims=True)
        assert short.shape == (2, size) and np.allclose(short, expected, atol=1e-6)
        assert np.allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-6)
    assert np.allclose(prompted.embed(TEXTS, dimensions=full.shape[1]), full)


def test_dimensions_refused_with_the_reason(prompted: InferenceService, plain: InferenceService) -> None:
    own = plain.describe().spec.dimensions
    with pytest.raises(DimensionsNotSupportedError, match="not trained for shorter ones") as refused:
        plain.embed(TEXTS, dimensions=8)
    assert refused.value.code == "dimensions_not_supported"
    assert len(plain.embed(TEXTS, dimensions=own)[0]) == own          # its own size is always fine
    for bad in (0, -1, 33, True):
        with pytest.raises(DimensionsNotSupportedError):
            prompted.embed(TEXTS, dimensions=bad)


def test_tokenize_decode_and_counts(prompted: InferenceService) -> None:
    (tokens,) = prompted.tokenize(["hello world"])
    assert tokens[0] == {"id": tokens[0]["id"], "text": "[CLS]", "special": True, "start": None, "stop": None}
    assert [t["text"] for t in tokens[1:-1]] == ["hello", "world"]
    assert [(t["start"], t["stop"]) for t in tokens[1:-1]] == [(0, 5), (6, 11)] and tokens[-1]["special"]
    (bare,) = prompted.tokenize(["hello world"], add_special_tokens=False)
    assert [t["text"] for t in bare] == ["hello", "world"]
    (prompted_tokens,) = prompted.tokenize(["hello"], prompt_name="query")
    assert [t["text"] for t in prompted_tokens[1:-1]][:2] == ["query", ":"]
    ids = [t["id"] for t in tokens]
    assert prompted.decode([ids]) == ["hello world"]
    assert prompted.decode([ids], skip_special_tokens=False) == ["[CLS] hello world [SEP]"]
    with pytest.raises(TaskInputError, match="not in this model's vocabulary"):
        prompted.decode([[10**6]])
    long = " ".join(["hello"] * 100)
    assert prompted.token_counts(["hello world", long]) == [4, MAX_POSITIONS]
    assert prompted.token_counts([long], truncate=False) == [102]
    assert prompted.count_tokens([long]) == MAX_POSITIONS     # the untruncated tokenizer left the other alone


def test_timings_are_filled(prompted: InferenceService) -> None:
    timings = RequestTimings()
    prompted.embed(TEXTS, timings=timings)
    assert timings.tokenize_ms > 0 and timings.infer_ms > 0
    before = timings.infer_ms
    prompted.embed(TEXTS, timings=timings)
    assert timings.infer_ms > before                                  # added to, not replaced


def test_options_refused_at_build(tmp_path: Path) -> None:
    from tests.tiny_models import make_model

    directory = make_model(tmp_path / "models", "bert", "embeddings")
    with pytest.raises(ExportError, match="default prompt 'x' is not one of the prompts"):
        build(tmp_path / "a", model_dir=directory, name="a", default_prompt_name="x")
    with pytest.raises(ExportError, match="no larger than model.dimensions"):
        build(tmp_path / "b", model_dir=directory, name="b", matryoshka_dimensions=[64])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ManifestError, match="largest first"):
        ModelSpec.from_dict({"task": "embeddings", "graph": {}, "tokenizer": {}, "dimensions": 32,
                             "matryoshka_dimensions": [8, 16]})
