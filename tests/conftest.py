"""Shared fixtures: a tiny exported model for unit tests, and the real artifact for the rest.

Unit tests load ``tiny_artifact_dir`` (a few hundred kilobytes, exported once per session
by the real builder); the real 87 MB all-MiniLM-L6-v2 (``artifact_dir``, built by
``make artifact`` or here) is for component and integration tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ARTIFACT_DIR


@pytest.fixture(scope="session")
def tiny_artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT embeddings model (hidden 32, 2 layers), exported and verified by the real
    builder: the runtime's whole path, without the real model's load time. Read-only: copy
    it (``tmp_path``) to damage it."""
    from tests.tiny_models import tiny_artifact

    return tiny_artifact(tmp_path_factory.mktemp("tiny-shared"))


@pytest.fixture(scope="session")
def prompted_artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny embeddings model with prompts, a default prompt and Matryoshka sizes
    (``tests.tiny_models.prompted_artifact``), exported once per session. Read-only."""
    from tests.tiny_models import prompted_artifact

    return prompted_artifact(tmp_path_factory.mktemp("prompted-shared"))


@pytest.fixture(scope="session")
def prompted_service(prompted_artifact_dir: Path) -> Any:
    """An InferenceService loaded (and warmed) from ``prompted_artifact_dir``, once per session. Read-only."""
    from inference_runtime.config import RuntimeConfig
    from inference_runtime.service import InferenceService

    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=prompted_artifact_dir))
    service.start()
    assert service.ready, service.error
    return service


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
