"""One fresh process of `make bench-gpu`: run one measurement on the GPU, print one JSON line.

    python -m tools.bench.gpu_probe handler                  # the real handler's cold start on CUDA
    python -m tools.bench.gpu_probe bandwidth FILE           # host-to-device copies and file reads
    python -m tools.bench.gpu_probe session MODEL.onnx [--shapes 1x8192,8x8192] [--options JSON] [--iobinding]

Runs in the GPU venv (onnxruntime-gpu and the nvidia wheels; `make bench-gpu` makes it).
CUDA_MODULE_LOADING comes from the parent, so each process sees one setting from its
start. The CUDA runtime is reached through ctypes (libcudart of the nvidia wheel,
loaded by ``onnxruntime.preload_dlls``), as the runtime itself does (backends/cuda.py).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HOST_TO_DEVICE = 1  # cudaMemcpyHostToDevice
COPY_BYTES = 1 << 30
CHUNK = 64 << 20


def _report(kind: str, **values: Any) -> None:
    sys.stdout.write(json.dumps({"probe": kind, **values}) + "\n")
    sys.stdout.flush()


def _cudart() -> Any:
    import onnxruntime as ort

    from inference_runtime.backends.cuda import cudart as load_cudart

    ort.preload_dlls(cuda=True, cudnn=True, msvc=False)
    cudart = load_cudart()
    cudart.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
    cudart.cudaMallocHost.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
    cudart.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    cudart.cudaFree.argtypes = [ctypes.c_void_p]
    cudart.cudaFreeHost.argtypes = [ctypes.c_void_p]
    return cudart


def _check(status: int, what: str) -> None:
    if status != 0:
        raise RuntimeError(f"{what} failed with CUDA error {status}")


def _copy_rate(cudart: Any, source: int, device: int, size: int, repeats: int = 5) -> float:
    """Median GB/s of cudaMemcpy host -> device (synchronous for pageable and pinned alike)."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        _check(cudart.cudaMemcpy(device, source, size, HOST_TO_DEVICE), "cudaMemcpy")
        _check(cudart.cudaDeviceSynchronize(), "cudaDeviceSynchronize")
        rates.append(size / (time.perf_counter() - started) / 1e9)
    return statistics.median(rates)


def _read_rate(path: Path, *, cold: bool) -> float:
    """GB/s reading ``path`` whole; cold: its pages dropped from the page cache first."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        if cold:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        started, total = time.perf_counter(), 0
        while read := handle.readinto(view):
            total += read
    return total / (time.perf_counter() - started) / 1e9


def bandwidth(path: Path) -> None:
    import numpy as np

    cudart = _cudart()
    device = ctypes.c_void_p()
    _check(cudart.cudaMalloc(ctypes.byref(device), COPY_BYTES), "cudaMalloc")
    pageable = np.ones(COPY_BYTES, dtype=np.uint8)
    pinned = ctypes.c_void_p()
    _check(cudart.cudaMallocHost(ctypes.byref(pinned), COPY_BYTES), "cudaMallocHost")
    ctypes.memset(pinned, 1, COPY_BYTES)
    if device.value is None or pinned.value is None:
        raise RuntimeError("cudaMalloc or cudaMallocHost returned no memory")
    try:
        _report("bandwidth",
                pageable_h2d_gbps=_copy_rate(cudart, pageable.ctypes.data, device.value, COPY_BYTES),
                pinned_h2d_gbps=_copy_rate(cudart, pinned.value, device.value, COPY_BYTES),
                file_bytes=path.stat().st_size,
                file_read_cold_gbps=_read_rate(path, cold=True),
                file_read_warm_gbps=_read_rate(path, cold=False))
    finally:
        cudart.cudaFreeHost(pinned)
        cudart.cudaFree(device)


def handler() -> None:
    """The real handler's init on CUDA, in this fresh process: the trace says what each phase took."""
    from inference_runtime.backends.cuda import gpu_memory_used_mb

    started = time.perf_counter()
    # The inference function's app.py (gpu.py puts functions/inference on PYTHONPATH), imported by
    # name at run time: to mypy, `app` is keep-warm's (pyproject's mypy_path), a different module.
    # Its import is the init: CUDA init, session, warm-up over WARMUP_* shapes.
    app: Any = importlib.import_module("app")

    init_s = time.perf_counter() - started
    event = json.loads((Path(app.__file__).resolve().parents[2] / "events" / "predict.json").read_text())
    first_started = time.perf_counter()
    status = app.handler(event, None)["statusCode"]
    first_ms = (time.perf_counter() - first_started) * 1000
    _report("handler", status=status, ready=app.SERVICE.ready, error=app.SERVICE.error, init_s=init_s,
            first_request_ms=first_ms, module_loading=os.environ.get("CUDA_MODULE_LOADING"),
            gpu_memory_used_mb=gpu_memory_used_mb(), trace=app.TRACE.to_dict())


def session(model: Path, shapes: list[tuple[int, int]], options: dict[str, str] | None, iobinding: bool,
            *, cpu: bool = False) -> None:
    """Create a CUDA session for ``model``; first and stable run per [batch, width] input shape.

    ``cpu``: the same on the CPU (the benchmark's own test runs it so, where there is no GPU).
    """
    import onnxruntime as ort

    from inference_runtime.backends.cuda import DEFAULT_CUDA_OPTIONS, gpu_memory_used_mb, init_cuda

    provider_options = DEFAULT_CUDA_OPTIONS if options is None else options
    cuda = {} if cpu else init_cuda(ort, int(provider_options.get("device_id", "0")))
    sess_options = ort.SessionOptions()
    sess_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers: list[Any] = ["CPUExecutionProvider"]
    if not cpu:
        providers.insert(0, ("CUDAExecutionProvider", provider_options))
    started = time.perf_counter()
    created = ort.InferenceSession(str(model), sess_options, providers=providers)
    create_s = time.perf_counter() - started
    results = []
    for batch, width in shapes:
        feeds = _feeds(created, batch, width)
        times = []
        for _ in range(12):
            started = time.perf_counter()
            if iobinding:
                binding = created.io_binding()
                for name, value in feeds.items():
                    binding.bind_cpu_input(name, value)
                binding.bind_output(created.get_outputs()[0].name, "cpu")
                created.run_with_iobinding(binding)
                binding.copy_outputs_to_cpu()
            else:
                created.run(None, feeds)
            times.append((time.perf_counter() - started) * 1000)
        results.append({"batch": batch, "width": width, "first_ms": times[0],
                        "stable_ms": statistics.median(times[2:])})
    weights = sum(p.stat().st_size for p in model.parent.iterdir() if p.is_file())
    _report("session", model=str(model), providers=created.get_providers(), create_s=create_s, weight_bytes=weights,
            weights_to_gpu_gbps=weights / create_s / 1e9, shapes=results, cuda_init=cuda,
            provider_options=provider_options, iobinding=iobinding,
            gpu_memory_used_mb=None if cpu else gpu_memory_used_mb(), outputs=_output_checksums(created, shapes))


def _output_checksums(session: Any, shapes: list[tuple[int, int]]) -> list[float]:
    """The sum of each shape's output: the same inputs on any device give (nearly) the same sums."""
    return [float(session.run(None, _feeds(session, batch, width))[0].sum()) for batch, width in shapes]


def _feeds(session: Any, batch: int, width: int) -> dict[str, Any]:
    """Inputs of shape [batch, width] for every graph input: token ids and masks for an encoder
    (``width`` tokens), random floats for the big MatMul model (``width`` features)."""
    import numpy as np

    feeds: dict[str, Any] = {}
    for graph_input in session.get_inputs():
        if graph_input.type == "tensor(int64)":
            fill = 0 if graph_input.name == "token_type_ids" else 1
            feeds[graph_input.name] = np.full((batch, width), fill, dtype=np.int64)
        else:
            feeds[graph_input.name] = np.random.default_rng(0).standard_normal((batch, width), dtype=np.float32)
    return feeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("handler")
    band = sub.add_parser("bandwidth")
    band.add_argument("file", type=Path)
    sess = sub.add_parser("session")
    sess.add_argument("model", type=Path)
    sess.add_argument("--shapes", default="1x8192,8x8192,64x8192")
    sess.add_argument("--options", default=None, help="CUDA provider options, a JSON object (default: the runtime's)")
    sess.add_argument("--iobinding", action="store_true")
    sess.add_argument("--cpu", action="store_true", help="run on the CPU instead (tests)")
    args = parser.parse_args(argv)
    if args.command == "handler":
        handler()
    elif args.command == "bandwidth":
        bandwidth(args.file)
    else:
        shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.shapes.split(",")]
        session(args.model, shapes, json.loads(args.options) if args.options else None,  # type: ignore[arg-type]
                args.iobinding, cpu=args.cpu)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
