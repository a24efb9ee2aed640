"""`make bench-workers`: memory of N worker processes sharing one model, as Lambda Managed Instances run them.

LMI's Python runtime runs several worker processes per execution environment, each
with its own init. Each worker here is the real handler (``functions/inference/app.py``,
the function's Python 3.12 runtime venv) loading the bundled artifact; once all N are
ready and warm, each one's ``/proc/<pid>/smaps_rollup`` gives its RSS and PSS (its
share of pages it shares with the others: the mapped weights file, the libraries).

What counts is the memory one more worker adds: (PSS of N workers - PSS of one) /
(N - 1), against the model's weight bytes. Measured with ONNX Runtime's weight
prepacking on and off, since prepacking copies the packed weights into each process's
private memory; and, for scale, a process that only imports the libraries
(interpreter, numpy, onnxruntime, tokenizers), the floor of any worker.

    python -m tools.bench.workers [--workers 1,2,4,8] [--models all-MiniLM-L6-v2,all-mpnet-base-v2]

Writes build/bench/workers.json and workers.md. Target (issue 9): N = 8 workers, memory
added per extra worker <= 25% of the weights' bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

# The benchmark starts its worker processes itself, with fixed argument lists.
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any

from tools.bench.run import ARTIFACTS_DIR, packaged_artifact
from tools.local.emulator import INFERENCE_PATH, REPO_ROOT, runtime_python

TARGET_ADDED_FRACTION = 0.25

# One worker: init as Lambda does (import the handler), serve warm requests, report, then
# stay alive (holding its memory) until the parent closes stdin.
WORKER = """
import json, os, sys, time
import app
event = json.loads(os.environ["BENCH_EVENT"])
samples = []
for _ in range(30):
    started = time.perf_counter()
    status = app.handler(event, None)["statusCode"]
    samples.append((time.perf_counter() - started) * 1000)
create = next(p for p in app.TRACE.phases if p.name == "create_session")
print("READY " + json.dumps({"status": status, "ready": app.SERVICE.ready, "p50_ms": sorted(samples)[15],
                             "prepacking": create.attributes.get("prepacking")}), flush=True)
sys.stdin.read()
"""
# The floor: the interpreter and the libraries, no model.
IMPORTS_ONLY = """
import sys
import numpy, onnxruntime, tokenizers
print("READY {}", flush=True)
sys.stdin.read()
"""


def smaps_rollup(pid: int) -> dict[str, float]:
    """The process's memory totals from /proc, in MiB."""
    totals: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-1] == "kB":
            totals[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return totals


def measure(count: int, code: str, env: dict[str, str]) -> dict[str, Any]:
    """Start ``count`` workers at once, wait until each is ready, read their memory, stop them."""
    workers = [subprocess.Popen([runtime_python(), "-c", code], env=env, cwd=REPO_ROOT,  # nosec B603
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for _ in range(count)]
    try:
        reports = []
        for worker in workers:
            assert worker.stdout is not None  # nosec B101 (stdout=PIPE above)
            # The handler's own log and EMF lines come first; READY follows them.
            for line in worker.stdout:
                if line.startswith("READY "):
                    reports.append(json.loads(line.removeprefix("READY ")))
                    break
            else:
                raise RuntimeError(f"a worker exited (code {worker.wait()}) before it was ready; run its "
                                   "handler alone to see why: make invoke")
        memory = [smaps_rollup(worker.pid) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    return {
        "workers": count,
        "rss_mb_per_worker": statistics.mean(m["Rss"] for m in memory),
        "pss_mb_total": sum(m["Pss"] for m in memory),
        "private_mb_per_worker": statistics.mean(m["Private_Clean"] + m["Private_Dirty"] for m in memory),
        "anonymous_mb_per_worker": statistics.mean(m.get("Anonymous", 0.0) for m in memory),
        "warm_p50_ms": statistics.median(r["p50_ms"] for r in reports) if "p50_ms" in reports[0] else None,
        "all_ready": all(r.get("ready", True) and r.get("status", 200) == 200 for r in reports),
    }


def _env(artifact_dir: Path, **extra: str) -> dict[str, str]:
    predict = (REPO_ROOT / "events" / "predict.json").read_text()
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
            # Both layers of the function (the runtime and the shared core), then its code.
            "PYTHONPATH": os.pathsep.join(map(str, (*INFERENCE_PATH, REPO_ROOT / "functions" / "inference"))),
            "MODEL_ARTIFACT_DIR": str(artifact_dir), "OPENBLAS_NUM_THREADS": "1", "BENCH_EVENT": predict,
            # One intra-op thread per worker: N workers share the environment's vCPUs.
            "ORT_INTRA_OP_THREADS": "1", **extra}


def run(worker_counts: list[int], models: list[str], out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"worker_counts": worker_counts, "target_added_fraction": TARGET_ADDED_FRACTION,
                               "models": []}
    floor = measure(max(worker_counts), IMPORTS_ONLY, _env(ARTIFACTS_DIR))
    results["imports_only"] = floor
    for name in models:
        artifact_dir = packaged_artifact(name)
        manifest = json.loads((artifact_dir / "manifest.json").read_text())
        weights = sum(f["size"] for f in manifest["files"]) / 2**20
        for prepacking in ("true", "false"):
            rows = []
            for count in worker_counts:
                rows.append(measure(count, WORKER, _env(artifact_dir, ORT_PREPACKING=prepacking,
                                                        AWS_LAMBDA_MAX_CONCURRENCY=str(count))))
                print(f"{name} prepacking={prepacking} N={count}: PSS {rows[-1]['pss_mb_total']:.0f} MB, "
                      f"RSS/worker {rows[-1]['rss_mb_per_worker']:.0f} MB", flush=True)
            one = next(r for r in rows if r["workers"] == 1)
            for row in rows:
                extra = row["workers"] - 1
                added = (row["pss_mb_total"] - one["pss_mb_total"]) / extra if extra else None
                row["added_mb_per_extra_worker"] = added
                row["added_fraction_of_weights"] = added / weights if added is not None else None
            largest = rows[-1]
            results["models"].append({
                "model": name, "weights_mb": weights, "prepacking": prepacking == "true", "rows": rows,
                "target_met": (largest["added_fraction_of_weights"] is not None
                               and largest["added_fraction_of_weights"] <= TARGET_ADDED_FRACTION),
            })
    (out_dir / "workers.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "workers.md").write_text(markdown(results))
    return results


def markdown(results: dict[str, Any]) -> str:
    floor = results["imports_only"]
    lines = [f"Worker processes of one environment, each the real handler on the bundled artifact "
             f"(Python 3.12, one intra-op thread each); PSS shares shared pages out among the processes. "
             f"{os.cpu_count()} CPUs.", "",
             "| model | prepacking | workers | RSS / worker (MB) | PSS total (MB) | private / worker (MB) "
             "| added / extra worker (MB) | of weights | warm p50, one worker alone (ms) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model in results["models"]:
        for row in model["rows"]:
            added = row["added_mb_per_extra_worker"]
            # The others start and warm up at the same moment: only a worker alone times cleanly.
            latency = f"{row['warm_p50_ms']:.2f}" if row["workers"] == 1 else "-"
            lines.append(
                f"| {model['model']} ({model['weights_mb']:.0f} MB) | {'on' if model['prepacking'] else 'off'} "
                f"| {row['workers']} | {row['rss_mb_per_worker']:.0f} | {row['pss_mb_total']:.0f} "
                f"| {row['private_mb_per_worker']:.0f} | {'-' if added is None else f'{added:.1f}'} "
                f"| {'-' if added is None else format(row['added_fraction_of_weights'], '.0%')} "
                f"| {latency} |")
    lines += ["", f"The floor of any worker (interpreter, numpy, onnxruntime, tokenizers imported, no model; "
              f"{floor['workers']} processes): {floor['private_mb_per_worker']:.0f} MB private, "
              f"{floor['pss_mb_total'] / floor['workers']:.0f} MB PSS each.", ""]
    for model in results["models"]:
        largest = model["rows"][-1]
        if largest["added_fraction_of_weights"] is None:
            # --workers 1 alone (a smoke run): no extra worker, so nothing added to compare with the target.
            lines.append(f"- {model['model']}, prepacking {'on' if model['prepacking'] else 'off'}: one worker only, "
                         "no extra worker's cost measured")
            continue
        lines.append(f"- {model['model']}, prepacking {'on' if model['prepacking'] else 'off'}: "
                     f"N = {largest['workers']} adds {largest['added_fraction_of_weights']:.0%} of the weights' "
                     f"bytes per extra worker ({'met' if model['target_met'] else 'NOT met'}: <= "
                     f"{results['target_added_fraction']:.0%})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts (1 first)")
    parser.add_argument("--models", default="all-MiniLM-L6-v2,all-mpnet-base-v2")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.workers.split(",")} | {1})
    run(counts, [m for m in args.models.split(",") if m], args.out)
    print((args.out / "workers.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
