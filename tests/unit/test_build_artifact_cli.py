"""The export's command line (tools/build_artifact.py): what it refuses, and what empty arguments mean.

No real weights are exported here (tests/integration/test_export_real.py does that).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import build_artifact
from tools.export import packaged_model_dir


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
    seen: dict[str, object] = {}

    def fake_build(out: Path, **kwargs: object) -> object:
        seen.update(kwargs, out=out)
        raise build_artifact.ExportError("stop here")

    monkeypatch.setattr(build_artifact, "build", fake_build)
    assert build_artifact.main(["--model", "", "--task", "", "--name", "", "--out", str(tmp_path / "x")]) == 1
    assert seen["task"] is None and seen["name"] == "all-MiniLM-L6-v2"
    assert seen["model_dir"] == packaged_model_dir("all-MiniLM-L6-v2")
