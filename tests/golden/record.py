"""Record tests/golden/responses.json from the code on PYTHONPATH (done once, from commit c68512d).

    PYTHONPATH=/work/golden-src/layers/runtime:/work/golden-src \\
        python tests/golden/record.py --artifact /work/golden-artifact --work /tmp/golden-work

Each model is served by functions/inference/app.py's ``handler``, imported with
MODEL_ARTIFACT_DIR pointing at it, exactly as Lambda would; the tiny models are built
with that code's own export. The replay tests use ``serve`` and ``build_tiny`` too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cases import cases, normalise  # noqa: E402

TINY = {"embeddings": "tiny-bert-embeddings", "classification": "tiny-bert-classifier",
        "reranking": "tiny-bert-reranker"}
REAL = "all-MiniLM-L6-v2"


def build_tiny(task: str, root: Path) -> Path:
    """A tiny random BERT for ``task`` (tests/tiny_models.py, seed 0), exported by the code on the path."""
    from tests.tiny_models import make_model
    from tools.export import build

    directory = make_model(root / "models", "bert", task)
    artifact = root / "artifacts" / TINY[task]
    build(artifact, model_dir=directory, name=TINY[task])
    return artifact


def serve(artifact: Path, module_name: str) -> Callable[[Any, Any], dict[str, Any]]:
    """functions/inference/app.py's handler, its module imported with MODEL_ARTIFACT_DIR=artifact."""
    import importlib.util

    os.environ["MODEL_ARTIFACT_DIR"] = str(artifact)
    app_path = Path(os.environ.get("GOLDEN_APP_ROOT", HERE.parents[1])) / "functions" / "inference" / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, app_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    from inference_runtime.lifecycle import new_instance

    new_instance()  # the first case is this environment's cold start
    return module.handler  # type: ignore[no-any-return]


def replay(handler: Callable[[Any, Any], dict[str, Any]], kind: str, **kwargs: Any) -> dict[str, Any]:
    return {name: normalise(handler(event, None), loader_message=kind == "broken")
            for name, event in cases(kind, **kwargs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifact", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=HERE / "responses.json")
    args = parser.parse_args()
    import inference_runtime

    print("recording with", inference_runtime.__file__)
    recorded: dict[str, Any] = {}
    recorded[REAL] = replay(serve(args.artifact, "golden_app_real"), "embeddings", name=REAL, dimensions=384)
    for task, name in TINY.items():
        handler = serve(build_tiny(task, args.work), f"golden_app_{task}")
        kwargs = {"name": name, "dimensions": 32} if task == "embeddings" else {}
        recorded[name] = replay(handler, task, **kwargs)
    recorded["broken"] = replay(serve(args.work / "no-artifact-here", "golden_app_broken"), "broken")
    args.out.write_text(json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=True) + "\n")
    print("wrote", args.out, {k: len(v) for k, v in recorded.items()})


if __name__ == "__main__":
    main()
