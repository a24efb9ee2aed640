"""`make bench-gpu`: a GPU cold start, phase by phase, on ONNX Runtime's CUDA execution provider.

In one run, each measurement in fresh processes (``tools/bench/gpu_probe.py``, run by the
GPU venv's Python: onnxruntime-gpu and the nvidia wheels, what the GPU image holds):

- the real handler's cold start on CUDA with ``CUDA_MODULE_LOADING=LAZY`` against
  ``EAGER``, alternating, medians: CUDA init, session creation, warm-up's first and
  stable run per shape, the first request, GPU memory per process;
- a multi-GB ONNX model this benchmark writes itself (a stack of MatMuls with random
  weights, external data): session creation, and so the rate at which the session
  moves weights to the GPU, first and stable run per shape;
- beside it, measured in the same run: host-to-device copies from pageable and from
  pinned memory, and reading the weights file cold (dropped from the page cache) and warm;
- the CUDA provider options: the runtime's (``backends/cuda.py``) against ONNX Runtime's
  defaults, and I/O binding against plain ``run``.

Targets (issue 9): lazy CUDA init faster than eager in the same run; weights to the GPU at
>= 80% of the pageable host-to-device bandwidth measured in the same run.

Where there is no GPU it says so and stops (exit 0): the rest needs one.

    python -m tools.bench.gpu [--python .venv-gpu/bin/python] [--runs 5] [--big-gib 4] [--out build/bench]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics

# The benchmark starts its probes itself, with fixed argument lists.
import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARTIFACT = REPO_ROOT / "build" / "artifacts" / "all-MiniLM-L6-v2"
TARGET_WEIGHTS_OVER_PAGEABLE = 0.8
# The default model's warm-up shapes on the GPU: batch sizes x sequence lengths.
WARMUP = {"WARMUP_BATCH_SIZES": "1,8,32", "WARMUP_SEQUENCE_LENGTHS": "16,128", "WARMUP_ITERATIONS": "5"}
# ONNX Runtime's own CUDA defaults, to compare the runtime's choices against.
ORT_DEFAULT_OPTIONS = {"device_id": "0", "arena_extend_strategy": "kNextPowerOfTwo",
                       "cudnn_conv_algo_search": "EXHAUSTIVE", "do_copy_in_default_stream": "1"}
WIDTH = 8192  # the big model's hidden width: one [8192, 8192] float32 weight is 256 MiB


def gpu_present() -> tuple[bool, str]:
    """Whether an NVIDIA GPU is usable here, through the driver's libcuda (no CUDA toolkit needed)."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no NVIDIA driver here (libcuda.so.1 cannot be loaded)"
    status = libcuda.cuInit(0)
    if status != 0:
        return False, f"the NVIDIA driver is there but cuInit failed (CUDA error {status}): no usable GPU"
    count = ctypes.c_int(0)
    status = libcuda.cuDeviceGetCount(ctypes.byref(count))
    if status != 0 or count.value == 0:
        return False, f"no CUDA device (cuDeviceGetCount: error {status}, {count.value} devices)"
    name = ctypes.create_string_buffer(128)
    device = ctypes.c_int(0)
    libcuda.cuDeviceGet(ctypes.byref(device), 0)
    libcuda.cuDeviceGetName(name, 128, device)
    return True, name.value.decode(errors="replace")


def make_big_model(directory: Path, gib: float, *, width: int = WIDTH) -> Path:
    """A stack of [width, width] MatMuls (with Relu) holding about ``gib`` GiB of float32 weights, external data."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model_path = directory / "model.onnx"
    layers = max(1, round(gib * 2**30 / (width * width * 4)))
    marker = directory / f"layers-{layers}-width-{width}"
    if model_path.is_file() and marker.is_file():
        return model_path
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    nodes, initializers, previous = [], [], "x"
    for index in range(layers):
        weight = (rng.standard_normal((width, width), dtype=np.float32) / np.sqrt(width)).astype(np.float32)
        initializers.append(numpy_helper.from_array(weight, f"w{index}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{index}"], [f"m{index}"]))
        nodes.append(helper.make_node("Relu", [f"m{index}"], [f"r{index}"]))
        previous = f"r{index}"
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["batch", width])],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, str(model_path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=1024)
    marker.touch()
    return model_path


def probe(python: str, args: list[str], **env: str) -> dict[str, Any]:
    # The runtime's two layers (the runtime and the shared core), the function, and the repository (tools.bench).
    path = [REPO_ROOT / "layers" / "runtime", REPO_ROOT / "layers" / "shared", REPO_ROOT / "functions" / "inference",
            REPO_ROOT]
    environment = {**os.environ, "PYTHONPATH": ":".join(map(str, path)), "MODEL_ARTIFACT_DIR": str(DEFAULT_ARTIFACT),
                   **env}
    out = subprocess.run([python, "-m", "tools.bench.gpu_probe", *args], cwd=REPO_ROOT, env=environment,  # nosec B603
                         capture_output=True, text=True, timeout=1800)
    line = next((line for line in out.stdout.splitlines() if line.startswith('{"probe"')), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"gpu_probe {' '.join(args)} failed (exit {out.returncode}): {out.stderr[-3000:]}")
    return json.loads(line)


def phase_ms(trace: dict[str, Any], name: str) -> float | None:
    return next((p["duration_ms"] for p in trace["phases"] if p["name"] == name), None)


def run(python: str, runs: int, big_gib: float, out_dir: Path, device: str) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    handler: dict[str, list[dict[str, Any]]] = {"LAZY": [], "EAGER": []}
    for index in range(runs):
        for loading in ("LAZY", "EAGER") if index % 2 == 0 else ("EAGER", "LAZY"):
            report = probe(python, ["handler"], CUDA_MODULE_LOADING=loading, ORT_EXECUTION_PROVIDER="cuda", **WARMUP)
            if not report["ready"]:
                raise RuntimeError(f"the handler did not load on CUDA: {report['error']}")
            handler[loading].append(report)
            print(f"run {index + 1}/{runs} {loading:5} init {report['init_s']:.3f} s, cuda_init "
                  f"{phase_ms(report['trace'], 'cuda_init'):.0f} ms", flush=True)
    big_model = make_big_model(out_dir / "gpu-big-model", big_gib)
    bandwidth = probe(python, ["bandwidth", str(big_model.parent / "model.onnx.data")], CUDA_MODULE_LOADING="LAZY")
    big = probe(python, ["session", str(big_model), "--shapes", f"1x{WIDTH},8x{WIDTH},64x{WIDTH}"],
                CUDA_MODULE_LOADING="LAZY")
    small_model = str(DEFAULT_ARTIFACT / "model.onnx")
    options: dict[str, Any] = {}
    variants: tuple[tuple[str, list[str]], ...] = (
        ("runtime options", []), ("ONNX Runtime defaults", ["--options", json.dumps(ORT_DEFAULT_OPTIONS)]),
        ("runtime options + I/O binding", ["--iobinding"]))
    for label, extra in variants:
        options[label] = probe(python, ["session", small_model, "--shapes", "1x16,8x128,32x128", *extra],
                               CUDA_MODULE_LOADING="LAZY")
    summary = {
        loading: {
            "init_s": statistics.median(r["init_s"] for r in reports),
            "cuda_init_ms": statistics.median(phase_ms(r["trace"], "cuda_init") or 0.0 for r in reports),
            "create_session_ms": statistics.median(phase_ms(r["trace"], "create_session") or 0.0 for r in reports),
            "warmup_ms": statistics.median(phase_ms(r["trace"], "warmup") or 0.0 for r in reports),
            "first_request_ms": statistics.median(r["first_request_ms"] for r in reports),
            "gpu_memory_used_mb": statistics.median(r["gpu_memory_used_mb"] or 0.0 for r in reports),
            "warmup_shapes": next(p["attributes"]["shapes"] for p in reports[len(reports) // 2]["trace"]["phases"]
                                  if p["name"] == "warmup"),
        } for loading, reports in handler.items()
    }
    results = {
        "device": device, "runs": runs, "handler": summary, "handler_runs": handler,
        "bandwidth": bandwidth, "big_model": big, "provider_options": options,
        "targets": {
            "lazy_faster_than_eager": summary["LAZY"]["cuda_init_ms"] < summary["EAGER"]["cuda_init_ms"],
            "weights_to_gpu_over_pageable": big["weights_to_gpu_gbps"] / bandwidth["pageable_h2d_gbps"],
            "weights_to_gpu_met": big["weights_to_gpu_gbps"] >= TARGET_WEIGHTS_OVER_PAGEABLE
            * bandwidth["pageable_h2d_gbps"],
        },
    }
    (out_dir / "gpu.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "gpu.md").write_text(markdown(results))
    return results


def markdown(r: dict[str, Any]) -> str:
    lazy, eager = r["handler"]["LAZY"], r["handler"]["EAGER"]
    band, big, t = r["bandwidth"], r["big_model"], r["targets"]
    ok = {True: "met", False: "NOT met"}
    lines = [f"GPU: {r['device']}; medians of {r['runs']} fresh processes per setting, alternating.", "",
             "| the handler on CUDA (all-MiniLM-L6-v2) | LAZY | EAGER |", "|---|---:|---:|"]
    for label, key in (("init, whole (s)", "init_s"), ("cuda_init (ms)", "cuda_init_ms"),
                       ("create_session (ms)", "create_session_ms"), ("warmup (ms)", "warmup_ms"),
                       ("first request (ms)", "first_request_ms"), ("GPU memory used (MiB)", "gpu_memory_used_mb")):
        lines.append(f"| {label} | {lazy[key]:.3f} | {eager[key]:.3f} |")
    lines += ["", f"Lazy CUDA init faster than eager: {ok[t['lazy_faster_than_eager']]}.", "",
              "Warm-up per shape (LAZY, median run): first and stable ms", "", "| batch | tokens | first | stable |",
              "|---:|---:|---:|---:|"]
    lines += [f"| {s['batch_size']} | {s['sequence_length']} | {s['first_ms']:.2f} | {s['stable_ms']:.2f} |"
              for s in lazy["warmup_shapes"]]
    lines += ["", f"Big model: {big['weight_bytes'] / 2**30:.2f} GiB of weights, session on {big['providers'][0]} "
              f"in {big['create_s']:.2f} s: weights to the GPU at {big['weights_to_gpu_gbps']:.1f} GB/s.", "",
              "| bandwidth, same run | GB/s |", "|---|---:|",
              f"| host -> device, pageable | {band['pageable_h2d_gbps']:.1f} |",
              f"| host -> device, pinned | {band['pinned_h2d_gbps']:.1f} |",
              f"| weights file read, cold | {band['file_read_cold_gbps']:.1f} |",
              f"| weights file read, warm (page cache) | {band['file_read_warm_gbps']:.1f} |",
              f"| session's weights to the GPU | {big['weights_to_gpu_gbps']:.1f} |", "",
              f"Weights to the GPU / pageable host-to-device = {t['weights_to_gpu_over_pageable']:.2f} "
              f"({ok[t['weights_to_gpu_met']]}: >= {TARGET_WEIGHTS_OVER_PAGEABLE}).", "",
              "| big model shape | first (ms) | stable (ms) |", "|---|---:|---:|"]
    lines += [f"| {s['batch']}x{s['width']} | {s['first_ms']:.2f} | {s['stable_ms']:.2f} |" for s in big["shapes"]]
    lines += ["", "| CUDA provider options (all-MiniLM-L6-v2) | session (ms) | first / stable per shape (ms) |",
              "|---|---:|---|"]
    for label, report in r["provider_options"].items():
        shapes = ", ".join(f"{s['batch']}x{s['width']}: {s['first_ms']:.1f} / {s['stable_ms']:.2f}"
                           for s in report["shapes"])
        lines.append(f"| {label} | {report['create_s'] * 1000:.0f} | {shapes} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=str(REPO_ROOT / ".venv-gpu" / "bin" / "python"),
                        help="the interpreter with onnxruntime-gpu (make bench-gpu makes .venv-gpu)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-gib", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    parser.add_argument("--check", action="store_true", help="only say whether a GPU is here (exit 0 yes, 3 no)")
    args = parser.parse_args(argv)
    present, device = gpu_present()
    if not present:
        print(f"bench-gpu: skipped: {device}. Run `make bench-gpu` on a machine with an NVIDIA GPU and its "
              "driver; it installs onnxruntime-gpu and the CUDA libraries into .venv-gpu and measures there.")
        return 3 if args.check else 0
    if args.check:
        print(f"bench-gpu: {device}")
        return 0
    run(args.python, args.runs, args.big_gib, args.out, device)
    print((args.out / "gpu.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
