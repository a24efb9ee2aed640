"""Shared fixtures. The real artifact is built once (make artifact does it; so does this)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import ARTIFACT_DIR


@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    """The real all-MiniLM-L6-v2 ONNX artifact, built from the bundled weights if missing."""
    if not (ARTIFACT_DIR / "manifest.json").is_file():
        from tools.build_artifact import DEFAULT_NAME, build_artifact, bundled_model_dir

        build_artifact(ARTIFACT_DIR, model_dir=bundled_model_dir(), name=DEFAULT_NAME, version=None)
    return ARTIFACT_DIR


@pytest.fixture
def artifact_copy(artifact_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the artifact that a test may damage."""
    target = tmp_path / "artifact"
    shutil.copytree(artifact_dir, target)
    return target
