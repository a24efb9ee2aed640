"""Where the inference function finds its model when nothing says otherwise.

Its own module, importing nothing heavy, because two readers need the same answers: the
configuration (``config.RuntimeConfig``) and the early session (``backends/early.py``),
which runs before the configuration's module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lambda_shared.env import LAMBDA_TASK_ROOT

#: MODEL_NAME when unset: the model the image bundles by default
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_registry(environ: Mapping[str, str]) -> str:
    """MODEL_REGISTRY when unset: models.json beside the function's code."""
    task_root = environ.get(LAMBDA_TASK_ROOT)
    if task_root:
        return str(Path(task_root) / "models.json")
    return str(Path(__file__).resolve().parents[3] / "functions" / "inference" / "models.json")


def default_artifact_dir(environ: Mapping[str, str]) -> str:
    """MODEL_ARTIFACT_DIR when unset: in the image, beside the code; from a checkout, where make builds it."""
    task_root = environ.get(LAMBDA_TASK_ROOT)
    if task_root:
        return str(Path(task_root) / "model")
    return str(Path(__file__).resolve().parents[3] / "build" / "artifacts" / DEFAULT_MODEL_NAME)
