"""The handler's early import: the libraries the loader will import, started first, nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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


EARLY = "from inference_runtime.backends.early import start_backend_import\nstart_backend_import().join()"


@pytest.mark.parametrize(("mode", "backend"), [("off", "onnx.OnnxBackend"), ("shared", "remote.RemoteBackend")])
def test_the_early_import_is_what_the_loader_will_import(mode: str, backend: str) -> None:
    # GIVEN a MODEL_SERVER mode, WHEN the handler starts its early import and, separately, the
    # loader's backend imports its libraries THEN both import the same ones
    module, cls = backend.rsplit(".", 1)
    loader = f"from inference_runtime.backends.{module} import {cls}\n{cls}.import_libraries()"
    assert imported_by(EARLY, MODEL_SERVER=mode) == imported_by(loader, MODEL_SERVER=mode)


def test_nothing_is_imported_early_when_the_model_loads_on_demand() -> None:
    assert imported_by(EARLY, PRELOAD_MODEL="false") == []


def test_the_early_import_reads_no_model_and_imports_none_of_the_handlers_modules() -> None:
    # The point of it: the libraries start before the runtime's own modules load.
    script = (f"{EARLY}\nprint(__import__('json').dumps(sorted(m for m in sys.modules "
              "if m.startswith('inference_runtime.') and m != 'inference_runtime.backends.early' "
              "and not m.startswith('inference_runtime.backends'))))")
    result = subprocess.run([sys.executable, "-c", "import sys\n" + script], env={**os.environ, "PYTHONPATH": PATH},
                            capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
