"""`make bench-lmi`: one environment's worker processes, today's design against one shared model server.

On Lambda Managed Instances one execution environment runs N Python worker processes, one
request each at a time. Two designs, same run, same inputs:

- ``independent`` (today): every worker opens its own session (one intra-op thread each,
  prepacking off when N > 1, as ``ORT_PREPACKING=auto`` chooses);
- ``shared``: MODEL_SERVER=shared: the workers only tokenize; one model server per
  environment (started by the first worker, on every core) runs the graph with dynamic
  batching (``inference_runtime.modelserver``).

For each model, input length (32 and 256 tokens, one text per request, as a Lambda request
carries) and concurrency C (1, 4, 16, 64: C worker processes, all sending at once): requests/s,
tokens/s, p50 and p99 latency (each worker times its own calls of the service), and the
environment's memory: PSS summed over the workers and the server (``/proc/<pid>/smaps_rollup``)
against the weights' bytes. Latency is the service's ``embed`` call in the worker (tokenize,
graph, task), not the Lambda front door, so both designs are timed on the same path.

    python -m tools.bench.lmi [--quick] [--models ...] [--lengths 32,256] [--concurrency 1,4,16,64]

``--quick``: MiniLM only, concurrency 1, 4 and 16, fewer requests (a few minutes on 2 cores).
Writes build/bench/lmi.json and lmi.md. Targets (issue 17): at concurrency 16 the shared server
gives >= 1.5x the requests/s with p99 no worse; an environment's memory is at most one copy of
the weights + 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess  # nosec B404 - the benchmark starts its worker processes with fixed argument lists
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.bench.run import compile_like_the_image, packaged_artifact
from tools.bench.workers import _env, smaps_rollup
from tools.local.emulator import REPO_ROOT, runtime_python

TARGET_SPEEDUP = 1.5
TARGET_MEMORY_FRACTION = 1.10
DESIGNS = ("independent", "shared")

# One worker: init as a Lambda worker does (the service, loaded and warm), then at GO send its
# requests one after another, timing each; report; stay alive (holding its memory) until stdin closes.
WORKER = """
import json, os, sys, time
from inference_runtime.service import InferenceService
service = InferenceService.from_env()
service.start()
text = os.environ["BENCH_TEXT"]
for _ in range(3):
    service.embed([text])
backend = service._backend
server_pid = getattr(getattr(backend, "_session", None), "server_pid", None)
print("READY " + json.dumps({"ready": service.ready, "error": service.error, "server_pid": server_pid,
                             "tokens": service.count_tokens([text])}), flush=True)
sys.stdin.readline()
samples, started = [], time.time()
for _ in range(int(os.environ["BENCH_REQUESTS"])):
    t = time.perf_counter()
    service.embed([text])
    samples.append((time.perf_counter() - t) * 1000)
print("DONE " + json.dumps({"start": started, "end": time.time(), "ms": samples}), flush=True)
sys.stdin.read()
"""


def text_of(tokens: int) -> str:
    """A text the model reads as ``tokens`` tokens: [CLS]/<s>, one-token words, [SEP]/</s>."""
    return " ".join(["hello"] * (tokens - 2))


def _read(worker: subprocess.Popen[str], prefix: str) -> dict[str, Any]:
    assert worker.stdout is not None  # nosec B101 (stdout=PIPE)
    for line in worker.stdout:
        if line.startswith(prefix):
            result: dict[str, Any] = json.loads(line.removeprefix(prefix))
            return result
    raise RuntimeError(f"a worker exited (code {worker.wait()}) before {prefix.strip()}; see its stderr above")


def _stop_server(pid: int) -> None:
    """SIGTERM, then wait until it has gone (it writes its last event as it goes): not our child to wait on."""
    from inference_runtime.modelserver.endpoint import process_alive

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def measure(design: str, artifact_dir: Path, tokens: int, concurrency: int, requests: int) -> dict[str, Any]:
    """One environment of ``concurrency`` workers: start them, warm, send at once, time, read memory, stop."""
    with tempfile.TemporaryDirectory(prefix="bench-lmi-", ignore_cleanup_errors=True) as tmp:
        env = _env(artifact_dir, AWS_LAMBDA_MAX_CONCURRENCY=str(concurrency), MODEL_CACHE_DIR=tmp,
                   MODEL_SERVER="shared" if design == "shared" else "off", BENCH_TEXT=text_of(tokens),
                   BENCH_REQUESTS=str(requests), POWERTOOLS_LOG_LEVEL="WARNING")
        env.pop("BENCH_EVENT", None)
        workers = [subprocess.Popen([runtime_python(), "-c", WORKER], env=env, cwd=REPO_ROOT,  # nosec B603
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
                   for _ in range(concurrency)]
        server_pid = None
        try:
            ready = [_read(w, "READY ") for w in workers]
            if not all(r["ready"] for r in ready):
                raise RuntimeError(f"a worker is not ready: {next(r['error'] for r in ready if not r['ready'])}")
            server_pid = ready[0]["server_pid"]
            for worker in workers:
                assert worker.stdin is not None  # nosec B101
                worker.stdin.write("GO\n")
                worker.stdin.flush()
            done = [_read(w, "DONE ") for w in workers]
            pids = [w.pid for w in workers] + ([server_pid] if server_pid else [])
            memory = {pid: smaps_rollup(pid) for pid in pids}
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
            if server_pid:
                _stop_server(server_pid)
    latencies = sorted(ms for d in done for ms in d["ms"])
    wall = max(d["end"] for d in done) - min(d["start"] for d in done)
    total = len(latencies)
    return {
        "design": design, "tokens": ready[0]["tokens"], "concurrency": concurrency, "requests": total,
        "req_per_s": total / wall, "tokens_per_s": total * ready[0]["tokens"] / wall,
        "p50_ms": statistics.median(latencies), "p99_ms": latencies[min(total - 1, int(0.99 * total))],
        "pss_mb": sum(m["Pss"] for m in memory.values()),
        "server_pss_mb": memory[server_pid]["Pss"] if server_pid else None,
        "worker_pss_mb": statistics.mean(memory[w.pid]["Pss"] for w in workers),
    }


def run(models: list[str], lengths: list[int], concurrencies: list[int], total_requests: int,
        out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    compile_like_the_image()
    results: dict[str, Any] = {"cpus": os.cpu_count(), "concurrency": concurrencies, "models": [],
                               "target_speedup": TARGET_SPEEDUP, "target_memory_fraction": TARGET_MEMORY_FRACTION}
    for name in models:
        artifact_dir = packaged_artifact(name)
        manifest = json.loads((artifact_dir / "manifest.json").read_text())
        weights = sum(f["size"] for f in manifest["files"]) / 2**20
        rows = []
        for tokens in lengths:
            for concurrency in concurrencies:
                # Enough requests per worker to time, the same total whatever the concurrency.
                per_worker = max(5, total_requests // concurrency)
                for design in DESIGNS:  # same inputs, one after the other, for each point
                    row = measure(design, artifact_dir, tokens, concurrency, per_worker)
                    rows.append(row)
                    print(f"{name} {tokens} tokens C={concurrency} {design}: {row['req_per_s']:.1f} req/s, "
                          f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, PSS {row['pss_mb']:.0f} MB",
                          flush=True)
        results["models"].append({"model": name, "weights_mb": weights, "rows": rows})
    (out_dir / "lmi.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "lmi.md").write_text(markdown(results))
    return results


def _pair(rows: list[dict[str, Any]], tokens: int, concurrency: int) -> tuple[dict[str, Any], dict[str, Any]]:
    by = {r["design"]: r for r in rows if r["tokens"] == tokens and r["concurrency"] == concurrency}
    return by["independent"], by["shared"]


def markdown(results: dict[str, Any]) -> str:
    lines = [f"One environment, C worker processes sending one-text requests at once; {results['cpus']} CPUs. "
             "independent: a session per worker (today); shared: one model server, dynamic batching. "
             "PSS: the workers' and the server's, summed.", "",
             "| model (weights) | tokens | C | design | req/s | tokens/s | p50 (ms) | p99 (ms) | PSS (MB) "
             "| of weights | speedup |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    verdicts = []
    for model in results["models"]:
        rows, weights = model["rows"], model["weights_mb"]
        for row in rows:
            base, _ = _pair(rows, row["tokens"], row["concurrency"])
            speedup = row["req_per_s"] / base["req_per_s"]
            lines.append(f"| {model['model']} ({weights:.0f} MB) | {row['tokens']} | {row['concurrency']} "
                         f"| {row['design']} | {row['req_per_s']:.1f} | {row['tokens_per_s']:.0f} "
                         f"| {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['pss_mb']:.0f} "
                         f"| {row['pss_mb'] / weights:.2f}x | "
                         f"{'-' if row['design'] == 'independent' else f'{speedup:.2f}x'} |")
        for tokens in sorted({r["tokens"] for r in rows}):
            if 16 in results["concurrency"]:
                base, shared = _pair(rows, tokens, 16)
                speedup = shared["req_per_s"] / base["req_per_s"]
                met = speedup >= results["target_speedup"] and shared["p99_ms"] <= base["p99_ms"]
                verdicts.append(f"- {model['model']}, {tokens} tokens, C = 16: {speedup:.2f}x the requests/s, p99 "
                                f"{shared['p99_ms']:.1f} against {base['p99_ms']:.1f} ms "
                                f"({'met' if met else 'NOT met'}: >= {results['target_speedup']}x, p99 no worse)")
            if 1 in results["concurrency"]:
                base, shared = _pair(rows, tokens, 1)
                verdicts.append(f"- {model['model']}, {tokens} tokens, a lone request (C = 1): p50 "
                                f"{shared['p50_ms']:.2f} against {base['p50_ms']:.2f} ms in process "
                                f"({shared['p50_ms'] / base['p50_ms'] - 1:+.0%}; target within +10%)")
        largest = max(results["concurrency"])
        for row in rows:
            if row["design"] == "shared" and row["concurrency"] == largest and row["tokens"] == rows[0]["tokens"]:
                model_mb = row["server_pss_mb"]
                verdicts.append(
                    f"- {model['model']}, C = {largest}: the environment's PSS {row['pss_mb']:.0f} MB "
                    f"({row['pss_mb'] / weights:.2f}x the weights; target <= {results['target_memory_fraction']:.2f}x "
                    f"{'met' if row['pss_mb'] <= weights * results['target_memory_fraction'] else 'NOT met'}); "
                    f"the server {model_mb:.0f} MB ({model_mb / weights:.2f}x), each thin worker "
                    f"{row['worker_pss_mb']:.0f} MB")
    return "\n".join([*lines, "", *verdicts]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="MiniLM, C = 1, 4, 16, fewer requests")
    parser.add_argument("--models", default=None)
    parser.add_argument("--lengths", default="32,256")
    parser.add_argument("--concurrency", default=None)
    parser.add_argument("--requests", type=int, default=None, help="requests per point, over all workers")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    models = args.models or ("all-MiniLM-L6-v2" if args.quick else "all-MiniLM-L6-v2,all-mpnet-base-v2")
    concurrency = args.concurrency or ("1,4,16" if args.quick else "1,4,16,64")
    requests = args.requests or (80 if args.quick else 320)
    started = time.monotonic()
    run([m for m in models.split(",") if m], [int(n) for n in args.lengths.split(",")],
        [int(n) for n in concurrency.split(",")], requests, args.out)
    print((args.out / "lmi.md").read_text())
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
