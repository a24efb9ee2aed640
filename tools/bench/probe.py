"""One fresh process: init a handler, answer the first /predict, report; optionally keep going warm.

    python -m tools.bench.probe template|naive|minimal|minimal_s3|fastembed [--warm N]

Prints one JSON line (with the first values of the first output, so that the bench can check
that two handlers computed the same embedding, and the handler's BENCH_STATS when it has
any). The parent (tools.bench.run) times the process from spawn to
that line, which is the cold start: interpreter start, imports, model load, first
response. Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS = {
    "template": (REPO_ROOT / "functions" / "inference", "app"),
    "naive": (REPO_ROOT / "tools" / "bench", "naive_handler"),
    "minimal": (REPO_ROOT / "tools" / "bench", "minimal_handler"),
    "minimal_s3": (REPO_ROOT / "tools" / "bench", "minimal_s3_handler"),
    # Run by .venv-peers' interpreter (tools/bench/peers.py): fastembed is not in ours.
    "fastembed": (REPO_ROOT / "tools" / "bench", "fastembed_handler"),
}
OUTPUT_HEAD = 4


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("handler", choices=sorted(HANDLERS))
    parser.add_argument("--warm", type=int, default=0, help="warm /predict (and /warm) requests after the first")
    args = parser.parse_args()

    code_dir, module_name = HANDLERS[args.handler]
    # The function's code and both layers it runs with (the runtime and the shared core), as Lambda mounts them.
    sys.path[:0] = [str(code_dir), str(REPO_ROOT / "layers" / "runtime"), str(REPO_ROOT / "layers" / "shared")]
    predict = json.loads((REPO_ROOT / "events" / "predict.json").read_text())
    warm_event = json.loads((REPO_ROOT / "events" / "warm.json").read_text())

    started = time.perf_counter()
    module = __import__(module_name)
    init_s = time.perf_counter() - started
    result = module.handler(predict, None)
    first_s = time.perf_counter() - started - init_s
    report = {"handler": args.handler, "status": result["statusCode"], "init_s": init_s, "first_response_s": first_s,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    report["output_head"] = _output_head(result)
    stats = getattr(module, "BENCH_STATS", None)
    if stats is not None:
        report["stats"] = stats
    trace = getattr(module, "TRACE", None)
    if trace is not None:
        report["trace"] = trace.to_dict()
    if args.warm:
        report["warm_predict_ms"] = _timings(module.handler, predict, args.warm)
        if args.handler == "template":
            report["warm_warm_ms"] = _timings(module.handler, warm_event, args.warm)
    sys.stdout.write("\n" + json.dumps({"probe": report}) + "\n")
    sys.stdout.flush()
    return 0


def _output_head(result: dict) -> list[float] | None:
    """The first values of the first output: enough to tell two handlers' embeddings apart."""
    try:
        return [float(v) for v in json.loads(result["body"])["outputs"][0][:OUTPUT_HEAD]]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _timings(handler, event, count: int) -> dict[str, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        handler(event, None)
        samples.append((time.perf_counter() - started) * 1000.0)
    samples.sort()
    return {"p50": statistics.median(samples), "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
            "n": count}


if __name__ == "__main__":
    raise SystemExit(main())
