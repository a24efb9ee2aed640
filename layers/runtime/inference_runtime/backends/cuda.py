"""The GPU, for ONNX Runtime's CUDA execution provider: find it, initialise CUDA, read its memory.

Used only when the execution provider may be CUDA (ORT_EXECUTION_PROVIDER auto or cuda)
and onnxruntime has the CUDA provider (the onnxruntime-gpu package, the GPU image).
Everything goes through ctypes on the libraries the image already holds (libcudart from
the nvidia-cuda-runtime wheel, libcuda from the host's driver), so nothing more is
imported and nothing is loaded on a CPU-only machine.

CUDA init is its own step (and its own phase, ``cuda_init``) rather than a hidden part of
session creation, because it is one of the larger parts of a GPU cold start and the one
``CUDA_MODULE_LOADING=LAZY`` changes (measured on an H100 host: 0.31-0.38 s lazy against
3.0-3.9 s eager): ``init_cuda`` loads the CUDA and cuDNN libraries of the nvidia wheels
(``onnxruntime.preload_dlls``), then creates the device's primary context with
``cudaFree(0)``; the session ONNX Runtime then creates uses that context.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Mapping
from typing import Any

from lambda_shared.env import CUDA_MODULE_LOADING

from .errors import BackendError

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
# The CUDA runtime library of NVIDIA's wheel (preload_dlls loads it): CUDA 13 for the
# onnxruntime-gpu the GPU image pins, 12 for older builds.
_CUDART_NAMES = ("libcudart.so.13", "libcudart.so.12", "libcudart.so")

# CUDA execution provider options. Encoders have no convolutions, so cuDNN's exhaustive
# algorithm search would benchmark nothing useful on the first run of every shape;
# the arena grows by what is asked rather than to the next power of two, since several
# worker processes of one environment share the GPU's memory (Lambda Managed Instances).
# `make bench-gpu` measures these against ONNX Runtime's defaults; ORT_CUDA_PROVIDER_OPTIONS
# (config.py) overrides them.
DEFAULT_CUDA_OPTIONS: dict[str, str] = {
    "device_id": "0",
    "arena_extend_strategy": "kSameAsRequested",
    "cudnn_conv_algo_search": "HEURISTIC",
    "do_copy_in_default_stream": "1",
}


def cuda_provider_options(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runtime's CUDA provider options with ``overrides`` (RuntimeConfig.cuda_provider_options) on top."""
    options = {**DEFAULT_CUDA_OPTIONS, **(overrides or {})}
    if not options["device_id"].isdigit():
        raise BackendError(f"the CUDA provider option device_id must be a device number, got {options['device_id']!r}")
    return options


def has_cuda_provider(ort: Any) -> bool:
    """Whether this onnxruntime build has the CUDA execution provider (onnxruntime-gpu)."""
    return CUDA_PROVIDER in ort.get_available_providers()


def cudart() -> Any:
    errors = []
    for name in _CUDART_NAMES:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            errors.append(str(exc))
    raise BackendError(f"the CUDA runtime library could not be loaded ({'; '.join(errors)}); install "
                       "NVIDIA's CUDA runtime wheel (the GPU image has it: requirements-gpu.txt)")


def gpu_memory_mb(runtime: Any) -> tuple[float, float]:
    """(used, total) MiB of the current device, as cudaMemGetInfo reports them (all processes)."""
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    status = runtime.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total))
    if status != 0:
        raise BackendError(f"cudaMemGetInfo failed with CUDA error {status}")
    return (total.value - free.value) / 2**20, total.value / 2**20


def init_cuda(ort: Any, device_id: int = 0) -> dict[str, Any]:
    """Load CUDA's libraries and create device ``device_id``'s context; what it took, for the trace.

    Raises BackendError, naming what is missing, when there is no usable GPU.
    """
    attributes: dict[str, Any] = {"module_loading": os.environ.get(CUDA_MODULE_LOADING, "(unset: EAGER)"),
                                  "device_id": device_id}
    started = time.perf_counter()
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:  # onnxruntime >= 1.21: the nvidia wheels' libraries, before the provider needs them
        preload(cuda=True, cudnn=True, msvc=False)
    attributes["load_libraries_ms"] = round((time.perf_counter() - started) * 1000, 3)
    runtime = cudart()
    count = ctypes.c_int(0)
    status = runtime.cudaGetDeviceCount(ctypes.byref(count))
    if status != 0 or count.value == 0:
        raise BackendError(f"no CUDA device is usable here (cudaGetDeviceCount: error {status}, "
                           f"{count.value} devices); run on a GPU, or set ORT_EXECUTION_PROVIDER=cpu")
    if device_id >= count.value:
        raise BackendError(f"the CUDA provider option device_id is {device_id}, but there are {count.value} devices")
    status = runtime.cudaSetDevice(device_id)  # the device the session will use, for the context and memory below
    if status != 0:
        raise BackendError(f"cudaSetDevice({device_id}) failed with CUDA error {status}")
    started_context = time.perf_counter()
    status = runtime.cudaFree(None)  # creates the primary context: the expensive part of CUDA init
    if status != 0:
        raise BackendError(f"creating the CUDA context failed with CUDA error {status}")
    attributes["context_ms"] = round((time.perf_counter() - started_context) * 1000, 3)
    attributes["devices"] = count.value
    used, total = gpu_memory_mb(runtime)
    attributes.update(gpu_memory_used_mb=round(used, 1), gpu_memory_total_mb=round(total, 1))
    return attributes


def gpu_memory_used_mb() -> float | None:
    """The device's used memory now (all processes), or None where there is no CUDA runtime."""
    try:
        return round(gpu_memory_mb(cudart())[0], 1)
    except BackendError:
        return None
