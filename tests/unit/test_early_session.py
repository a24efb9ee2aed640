"""The early session (backends/early.py): opened before the runtime's imports, adopted only when it is the same.

The loader adopts the session only if its key (graph file, digest, options, providers)
is the one it would have opened; a setting the plan does not cover means no early
session; a graph that fails its hash is never opened early; weights that fail theirs
still drop the adopted session before anything runs on it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inference_runtime.backends import early
from inference_runtime.config import RuntimeConfig
from inference_runtime.service import InferenceService
from lambda_shared.env import MODEL_ARTIFACT_DIR, MODEL_NAME, MODEL_REGISTRY
from tests.helpers import corrupt

TEXTS = ["the early session", "opened before the imports"]


@pytest.fixture(autouse=True)
def fresh_early() -> Iterator[None]:
    """Early work is per process (app.py starts it once); each test starts its own and forgets it."""
    early._early = None
    yield
    early._early = None


@pytest.fixture
def tiny_copy(tiny_artifact_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "artifact"
    shutil.copytree(tiny_artifact_dir, target)
    return target


def environment(artifact_dir: Path, source: str = "bundled", **settings: str) -> dict[str, str]:
    """The function's environment: a registry naming the model ``tiny`` (bundled unless ``source``), ``settings``."""
    registry = artifact_dir.parent / "models.json"
    entry = {"source": source} if source == "bundled" else {"source": source, "manifest_sha256": "0" * 64}
    registry.write_text(json.dumps({"models": {"tiny": entry}}))
    return {MODEL_ARTIFACT_DIR: str(artifact_dir), MODEL_REGISTRY: str(registry), MODEL_NAME: "tiny", **settings}


def loaded(env: dict[str, str], **explicit: object) -> InferenceService:
    service = InferenceService(RuntimeConfig.from_env(env, **explicit))
    service.start()
    return service


def session_phase(service: InferenceService) -> dict[str, object]:
    return next(p.attributes for p in service.trace.phases if p.name == "create_session")


def test_the_loader_adopts_the_early_session_and_it_answers_as_its_own_would(tiny_copy: Path) -> None:
    # GIVEN the default configuration and a bundled model, with the early work done
    env = environment(tiny_copy)
    early.start(env).join()
    # WHEN the environment loads the model
    service = loaded(env)
    # THEN the session is the early one, and it computes what a session the loader opens computes
    assert service.ready, service.error
    assert session_phase(service)["opened_early"] is True
    reference = loaded(env)  # the early session is taken: this one opens its own
    assert session_phase(reference)["opened_early"] is False
    np.testing.assert_allclose(service.embed(TEXTS), reference.embed(TEXTS), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("setting", [
    {"ORT_INTRA_OP_THREADS": "2"}, {"ORT_PREPACKING": "false"}, {"AWS_LAMBDA_MAX_CONCURRENCY": "4"},
    {"ORT_EXECUTION_PROVIDER": "cuda"}, {"MODEL_SERVER": "shared"}, {"PRELOAD_MODEL": "false"},
])
def test_a_setting_the_early_session_does_not_cover_means_none(tiny_copy: Path, setting: dict[str, str]) -> None:
    env = environment(tiny_copy)
    assert early.plan(env) is not None  # the default configuration has one
    assert early.plan({**env, **setting}) is None


def test_a_model_that_is_not_bundled_gets_no_early_session(tiny_copy: Path) -> None:
    assert early.plan(environment(tiny_copy, source="s3://bucket/models/tiny/")) is None


def test_an_early_session_the_loader_would_not_open_is_dropped(tiny_copy: Path) -> None:
    # GIVEN an early session, and a configuration whose session differs from it in a way the
    # plan cannot see (an explicit argument, not the environment)
    env = environment(tiny_copy)
    early.start(env).join()
    # WHEN the environment loads the model
    service = loaded(env, intra_op_threads=1)
    # THEN the loader opened its own and the early one is gone
    assert service.ready, service.error
    assert session_phase(service)["opened_early"] is False
    assert early._early is not None and early._early.session is None


def test_a_graph_that_fails_its_hash_is_not_opened_early(tiny_copy: Path) -> None:
    # GIVEN a graph file that lost one bit
    corrupt(tiny_copy / "model.onnx", offset=100)
    env = environment(tiny_copy)
    # WHEN the early work runs
    early.start(env).join()
    # THEN no session was opened, app.py is not left waiting, and the load fails naming the file
    assert early._early is not None and early._early.session is None and early._early.under_way.is_set()
    service = loaded(env)
    assert not service.ready and "model.onnx" in (service.error or "")


def test_weights_that_fail_their_hash_drop_the_adopted_session(tiny_copy: Path) -> None:
    # GIVEN weights that lost one bit (the early session maps them; the loader hashes them beside it)
    corrupt(tiny_copy / "model.onnx.data", offset=4096)
    env = environment(tiny_copy)
    early.start(env).join()
    # WHEN the environment loads the model
    service = loaded(env)
    # THEN the adopted session is dropped before anything ran on it
    assert session_phase(service)["opened_early"] is True
    assert "warmup" not in [p.name for p in service.trace.phases]
    assert not service.ready and "model.onnx.data" in (service.error or "") and "blake3" in (service.error or "")
