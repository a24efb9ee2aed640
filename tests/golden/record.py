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
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cases import REAL, TINY, build_tiny, replay, serve  # noqa: E402


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
