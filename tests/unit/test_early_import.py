"""The handler's early work: the libraries the loader will import, started first, and only lean modules of ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

LIBRARIES = ("numpy", "onnxruntime", "tokenizers")
PATH = os.pathsep.join(str(REPO_ROOT / p) for p in ("layers/runtime", "layers/shared"))


def imported_by(code: str, **env: str) -> list[str]:
    """Which of the backend libraries a fresh interpreter has imported after running ``code``."""
    script = f"import sys\n{code}\nprint(__import__('json').dumps([m for m in {LIBRARIES!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": PATH, **env},
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


EARLY = "from inference_runtime.backends import early\nearly.start().join()"


@pytest.mark.parametrize(("mode", "backend"), [("off", "onnx.OnnxBackend"), ("shared", "remote.RemoteBackend")])
def test_the_early_import_is_what_the_loader_will_import(mode: str, backend: str) -> None:
    # GIVEN a MODEL_SERVER mode, WHEN the handler starts its early import and, separately, the
    # loader's backend imports its libraries THEN both import the same ones
    module, cls = backend.rsplit(".", 1)
    loader = f"from inference_runtime.backends.{module} import {cls}\n{cls}.import_libraries()"
    assert imported_by(EARLY, MODEL_SERVER=mode) == imported_by(loader, MODEL_SERVER=mode)


def test_nothing_is_imported_early_when_the_model_loads_on_demand() -> None:
    assert imported_by(EARLY, PRELOAD_MODEL="false") == []


#: The runtime's modules the early work may import: none that defines the runtime's types
#: (the manifest's, the configuration's, the service's): importing those is what it goes before.
LEAN = ["inference_runtime.artifact", "inference_runtime.artifact.errors", "inference_runtime.artifact.files",
        "inference_runtime.backends", "inference_runtime.backends.cuda", "inference_runtime.backends.early",
        "inference_runtime.backends.errors", "inference_runtime.backends.ort_session", "inference_runtime.defaults"]


def test_the_early_work_imports_only_lean_modules_of_the_runtime(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN the default configuration and a bundled model: an early session is opened too
    registry = tmp_path / "models.json"
    registry.write_text(json.dumps({"models": {"tiny": {"source": "bundled"}}}))
    env = {"MODEL_ARTIFACT_DIR": str(tiny_artifact_dir), "MODEL_REGISTRY": str(registry), "MODEL_NAME": "tiny"}
    # WHEN the early work is done
    script = (f"{EARLY}\nprint(__import__('json').dumps([early._early.session is not None, sorted(m for m in "
              "sys.modules if m.startswith('inference_runtime.'))]))")
    result = subprocess.run([sys.executable, "-c", "import sys\n" + script],
                            env={**os.environ, "PYTHONPATH": PATH, **env}, capture_output=True, text=True, check=True)
    opened, imported = json.loads(result.stdout.strip().splitlines()[-1])
    # THEN the session is open and no module of ours beyond the lean ones was imported for it
    assert opened
    assert set(imported) <= set(LEAN), sorted(set(imported) - set(LEAN))
