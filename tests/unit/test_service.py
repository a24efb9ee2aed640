"""Loading: nothing unverified is served, failures are not cached forever, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.service import InferenceService
from tests.helpers import REPO_ROOT, body, corrupt, load_event
from tests.tiny_models import tiny_artifact


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built by the real exporter, in place of the real one (unit tests stay small)."""
    return tiny_artifact(tmp_path_factory.mktemp("tiny"))


def test_corrupt_weights_are_never_served(artifact_copy: Path) -> None:
    # GIVEN an artifact whose weights (the external data file) lost one bit
    corrupt(artifact_copy / "model.onnx.data")
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_copy, model_retry_seconds=0))
    # WHEN the environment initialises and requests arrive
    service.start()
    new_instance()
    handler = build_handler(service)
    predict = handler(load_event("predict.json"), None)
    health = handler(load_event("health.json"), None)
    warm = handler(load_event("warm.json"), None)
    # THEN nothing is loaded, and every route says why with a 503
    assert not service.ready
    for result in (predict, health, warm):
        assert result["statusCode"] == 503
        assert body(result)["error"]["code"] == "model_not_ready"
    assert "blake3" in body(predict)["error"]["message"]  # the digest the runtime verifies (artifact/files.py)
    assert "model.onnx.data" in body(predict)["error"]["message"]


def test_weights_hashed_beside_the_session_gate_everything_after_it(artifact_copy: Path) -> None:
    # GIVEN bundled weights that lost one bit (they are hashed while the session is created from them)
    corrupt(artifact_copy / "model.onnx.data")
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_copy, model_retry_seconds=0))
    # WHEN the environment initialises
    service.start()
    phases = [p.name for p in service.trace.phases]
    # THEN the session that was created from them is dropped before anything runs on it:
    # no warm-up, no task, the load failed on the weights' digest
    assert "create_session" in phases and "warmup" not in phases
    assert not service.ready and "model.onnx.data" in (service.error or "") and "blake3" in (service.error or "")


def test_a_graph_that_fails_its_hash_is_never_opened(artifact_copy: Path) -> None:
    # GIVEN a graph file (parsed by ONNX Runtime, so verified before it is opened) that lost one bit
    corrupt(artifact_copy / "model.onnx", offset=100)
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_copy, model_retry_seconds=0))
    # WHEN the environment initialises
    service.start()
    # THEN no session was created from it
    assert "create_session" not in [p.name for p in service.trace.phases]
    assert not service.ready and "model.onnx:" in (service.error or "")


def test_a_repaired_artifact_is_loaded_on_retry(artifact_dir: Path, artifact_copy: Path) -> None:
    # GIVEN an environment whose first load failed
    original = (artifact_copy / "tokenizer.json").read_bytes()
    corrupt(artifact_copy / "tokenizer.json", offset=10)
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_copy, model_retry_seconds=0))
    service.start()
    assert not service.ready and "tokenizer.json" in (service.error or "")
    # WHEN the file is repaired THEN the next request loads the model and is served
    (artifact_copy / "tokenizer.json").write_bytes(original)
    result = build_handler(service)(load_event("predict.json"), None)
    assert result["statusCode"] == 200 and service.ready and service.error is None


def test_retries_are_spaced(artifact_copy: Path) -> None:
    (artifact_copy / "manifest.json").unlink()
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_copy, model_retry_seconds=3600))
    service.start()
    first_error = service.error
    assert first_error and "make artifact" in first_error
    # a request inside the retry window answers at once from the kept error
    result = build_handler(service)(load_event("predict.json"), None)
    assert result["statusCode"] == 503 and "retries the load at most every 3600 s" in body(result)["error"]["message"]


def test_missing_artifact_dir_is_a_503_not_a_crash(tmp_path: Path) -> None:
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tmp_path / "nowhere"))
    service.start()
    result = build_handler(service)(load_event("health.json"), None)
    assert result["statusCode"] == 503


IMPORT_PROBE = """
import json, os, sys
os.environ["PRELOAD_MODEL"] = "false"
sys.path[:0] = [{runtime!r}, {shared!r}, {function!r}]
baseline = len(sys.modules)
import app
heavy_names = {{"torch", "transformers", "onnxruntime", "numpy", "tokenizers"}}
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & heavy_names)
print(json.dumps({{"heavy": heavy, "cuda": os.environ.get("CUDA_MODULE_LOADING"),
                  "modules": len(sys.modules) - baseline}}))
"""


# The import budget, counted in modules rather than seconds so that it holds on a noisy
# machine: today about 110 (about 270 when the routes ran on Powertools' event handler,
# which api/router.py replaced for this reason). Seconds are measured by `make bench`
# (import_handler_ms).
IMPORT_BUDGET_MODULES = 150


def test_importing_the_handler_imports_nothing_heavy() -> None:
    # A fresh interpreter: this process already has numpy and onnxruntime loaded.
    probe = IMPORT_PROBE.format(runtime=str(REPO_ROOT / "layers" / "runtime"),
                                shared=str(REPO_ROOT / "layers" / "shared"),
                                function=str(REPO_ROOT / "functions" / "inference"))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["cuda"] == "LAZY"
    assert report["modules"] <= IMPORT_BUDGET_MODULES, report
