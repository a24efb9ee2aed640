"""The parity check fails the build: faults injected into the export are caught, and a failed
build leaves the previous artifact in place and nothing half-written beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tools.export.graph as graph
from tests.tiny_models import make_model
from tools.export import MIN_COSINE, ParityError, build


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("parity"), "bert", "embeddings")


def test_a_graph_that_pools_differently_fails_the_build(bert: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a good artifact already in place
    out = tmp_path / "artifact"
    good = build(out, model_dir=bert, name="tiny").manifest
    # WHEN an export bug makes the graph pool the CLS token where the model says mean
    real_pool = graph.pool
    monkeypatch.setattr(graph, "pool", lambda hidden, mask, modes: real_pool(hidden, mask, ("cls",)))
    # THEN the build fails on parity, naming the figures
    with pytest.raises(ParityError, match=r"min_cosine 0\.\d+ \(threshold >= 0\.9999\)"):
        build(out, model_dir=bert, name="tiny")
    # AND the good artifact is untouched, with nothing left beside it
    assert json.loads((out / "manifest.json").read_text())["version"] == good.version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]


def test_a_graph_that_ignores_padding_fails_the_build(bert: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an export bug: the graph's pooling treats padding as tokens (the runtime pads a
    # batch to its longest text; the reference runs each text unpadded)
    real_pool = graph.pool

    def leaky(hidden: Any, mask: Any, modes: tuple[str, ...]) -> Any:
        return real_pool(hidden, mask * 0 + 1, modes)

    monkeypatch.setattr(graph, "pool", leaky)
    with pytest.raises(ParityError) as raised:
        build(tmp_path / "artifact", model_dir=bert, name="tiny")
    assert "does not match torch" in str(raised.value)
    assert not (tmp_path / "artifact").exists()


def test_the_report_is_in_the_manifest(bert: Path, tmp_path: Path) -> None:
    result = build(tmp_path / "artifact", model_dir=bert, name="tiny")
    parity = result.manifest.source["parity"]
    assert parity["min_cosine"] >= MIN_COSINE and parity["threshold"] == MIN_COSINE
    assert parity["inputs"] == 9 and parity["max_abs_diff"] < 1e-5
    assert "unpadded" in parity["reference"] and "padded batch" in parity["candidate"]
