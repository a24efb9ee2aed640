"""Measure the SnapStart-like mode: a forked environment's cold start and warm latency, beside ordinary ones.

    python -m tools.local.snapstart_bench [--runs 5] [--out build/bench/snapstart.json]

Four ways to start one standard environment, alternated run after run: ordinary (init in
a fresh process; ONNX Runtime's intra-op threads as it decides, or 1), and forked from an
initialised zygote (with the fleet's ORT_INTRA_OP_THREADS=1, or with a pool made before
the fork, 0). For each: the first /predict's wall time (the cold start the caller sees),
the emulator's INIT REPORT (init, or for a fork the restore), and the median of 20 warm
/predicts of 256 tokens, which shows what a pool lost in the fork costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from .emulator import FUNCTIONS, REPO_ROOT, check_runtime_ready
from .fleet import Fleet, FleetConfig
from .fleet.forking import SnapStartFleet

VARIANTS = {
    "ordinary, ORT threads default": (Fleet, {}),
    "ordinary, ORT threads 1": (Fleet, {"ORT_INTRA_OP_THREADS": "1"}),
    "forked, ORT threads 1 (the mode's default)": (SnapStartFleet, {}),
    "forked, ORT pool made before the fork": (SnapStartFleet, {"ORT_INTRA_OP_THREADS": "0"}),
}
LONG_TEXT = " ".join(["token"] * 256)
WARM_REQUESTS = 20


def _event(texts: list[str]) -> dict[str, Any]:
    return {"httpMethod": "POST", "path": "/predict", "headers": {"content-type": "application/json"},
            "body": json.dumps({"inputs": texts}), "isBase64Encoded": False, "queryStringParameters": {}}


def measure(kind: type[Fleet], env: dict[str, str]) -> dict[str, float]:
    spec = FUNCTIONS["StandardFunction"]
    fleet = kind(spec, FleetConfig(max_environments=1), env=env, warm_event=None)
    fleet.start()
    try:
        started = time.perf_counter()
        first = fleet.invoke(_event(["hello"]))
        cold_ms = (time.perf_counter() - started) * 1000
        assert json.loads(first["body"])["cold_start"] is True  # nosec B101 (a measurement of a cold start)
        warm = []
        for _ in range(WARM_REQUESTS):
            started = time.perf_counter()
            fleet.invoke(_event([LONG_TEXT]))
            warm.append((time.perf_counter() - started) * 1000)
        (environment,) = fleet.environments
        reported = environment.slots[0].worker.init_report_ms()
        return {"cold_ms": round(cold_ms, 1), "init_report_ms": round(reported[0], 1) if reported else -1.0,
                "warm_256_tokens_ms": round(statistics.median(warm), 1)}
    finally:
        fleet.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench" / "snapstart.json")
    args = parser.parse_args(argv)
    check_runtime_ready()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for _ in range(args.runs):
        for name, (kind, env) in VARIANTS.items():
            runs[name].append(measure(kind, env))
    print(f"{'start':<44} {'cold ms':>9} {'init/restore ms':>16} {'warm 256 tok ms':>16}   (medians of {args.runs})")
    summary = {}
    for name, results in runs.items():
        medians = {key: statistics.median(r[key] for r in results) for key in results[0]}
        summary[name] = {"median": medians, "runs": results}
        print(f"{name:<44} {medians['cold_ms']:>9.1f} {medians['init_report_ms']:>16.1f} "
              f"{medians['warm_256_tokens_ms']:>16.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
