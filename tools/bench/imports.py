"""How long the handler imports its own modules before the backend's import starts.

    python -m tools.bench.imports [--runs 9]

A fresh interpreter per run (the image's compiled bytecode, as tools.bench.run compiles
it) imports the inference handler with a finder at the front of ``sys.meta_path`` that
notes when numpy, onnxruntime or tokenizers is first asked for, on whichever thread.
The figure is the time from the start of ``import app`` to that moment; ``-X importtime``
lists the modules behind it (``--list``). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics

# Fixed argument lists, never a shell.
import subprocess  # nosec B404
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKEND_LIBRARIES = ("numpy", "onnxruntime", "tokenizers")

_CHILD = r"""
import sys, time, threading
first = {}
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in %(libs)r and "at" not in first:
            first["at"] = time.perf_counter(); first["name"] = name; first["thread"] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Watch())
sys.path[:0] = %(path)r
started = time.perf_counter()
import app
print({"before_backend_ms": (first["at"] - started) * 1000, "first": first["name"], "thread": first["thread"],
       "import_app_ms": (time.perf_counter() - started) * 1000})
"""


def measure(runs: int, python: str = sys.executable) -> dict[str, object]:
    from tools.bench.run import INFERENCE_PATH, _env, compile_like_the_image

    compile_like_the_image()
    code = _CHILD % {"libs": BACKEND_LIBRARIES,
                     "path": [str(REPO_ROOT / "functions" / "inference"), *map(str, INFERENCE_PATH)]}
    samples = []
    for _ in range(runs):
        out = subprocess.run([python, "-c", code], cwd=REPO_ROOT, env=_env(), capture_output=True,  # nosec B603
                             text=True, check=True).stdout
        samples.append(eval(out.strip().splitlines()[-1]))  # nosec B307: our own child's dict literal
    before = [s["before_backend_ms"] for s in samples]
    return {"runs": runs, "before_backend_ms_median": round(statistics.median(before), 1),
            "before_backend_ms": [round(b, 1) for b in before], "first_import": samples[0]["first"],
            "on_thread": samples[0]["thread"],
            "import_app_ms_median": round(statistics.median(s["import_app_ms"] for s in samples), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
