"""Where the session runs: CUDA when asked for or available, CPU otherwise, and the choice in the trace.

This machine has the CPU build of onnxruntime and no GPU, so these tests run the CPU
paths for real and the CUDA fallback through a backend whose device init fails the way
``backends/cuda.py`` fails without a GPU. `make bench-gpu` runs the CUDA path on a GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.backends import BackendError
from inference_runtime.backends.base import DeviceChoice
from inference_runtime.backends.cuda import DEFAULT_CUDA_OPTIONS, cuda_provider_options
from inference_runtime.backends.onnx import OnnxBackend
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import InitPhase, PhaseTrace
from inference_runtime.loading import ModelLoader
from inference_runtime.service import InferenceService
from lambda_shared.settings import ConfigError
from tests.helpers import body, load_event
from tests.tiny_models import tiny_artifact


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built by the real exporter, in place of the real one (unit tests stay small)."""
    return tiny_artifact(tmp_path_factory.mktemp("tiny"))


def phase(trace: PhaseTrace, name: str) -> Any:
    return next((p for p in trace.phases if p.name == name), None)


def test_auto_runs_on_the_cpu_where_onnxruntime_has_no_cuda_provider(artifact_dir: Path) -> None:
    # GIVEN the default execution provider (auto) and the CPU build of onnxruntime
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_dir))
    # WHEN the model loads
    service.start()
    # THEN it runs on the CPU, the trace says why, and no CUDA init was attempted
    assert service.ready, service.error
    session = phase(service.trace, InitPhase.CREATE_SESSION)
    assert session.attributes["device"] == "cpu" and session.attributes["providers"] == ["CPUExecutionProvider"]
    assert "no CUDA execution provider" in session.attributes["device_reason"]
    assert phase(service.trace, InitPhase.CUDA_INIT) is None


def test_asking_for_cuda_without_it_is_a_503_that_says_what_to_do(artifact_dir: Path) -> None:
    service = InferenceService(RuntimeConfig.from_env({"ORT_EXECUTION_PROVIDER": "cuda"}, artifact_dir=artifact_dir,
                                                      model_retry_seconds=3600))
    service.start()
    answer = build_handler(service)(load_event("predict.json"), None)
    assert not service.ready and answer["statusCode"] == 503
    message = body(answer)["error"]["message"]
    assert "no CUDA execution provider" in message and "ORT_EXECUTION_PROVIDER=auto" in message


class _GpuWithoutDevice(OnnxBackend):
    """onnxruntime-gpu on a machine with no usable GPU: the provider is there, CUDA init fails."""

    @classmethod
    def select_device(cls, execution_provider: str, provider_options: Any = None) -> DeviceChoice:
        return DeviceChoice("cuda", "test: the CUDA provider is there", cuda_provider_options(provider_options))

    @classmethod
    def init_device(cls, device: DeviceChoice) -> dict[str, Any]:
        raise BackendError("no CUDA device is usable here (cudaGetDeviceCount: error 100, 0 devices)")


@pytest.mark.parametrize("provider", ["auto", "cuda"])
def test_a_cuda_provider_without_a_gpu_falls_back_only_on_auto(artifact_dir: Path, provider: str) -> None:
    trace = PhaseTrace()
    loader = ModelLoader(RuntimeConfig.from_env({"ORT_EXECUTION_PROVIDER": provider}, artifact_dir=artifact_dir),
                         trace)
    if provider == "cuda":
        with pytest.raises(BackendError, match="no CUDA device"):
            loader._open_device(_GpuWithoutDevice)
        return
    device = loader._open_device(_GpuWithoutDevice)
    assert device.name == "cpu" and "no usable GPU" in device.reason
    assert "cpu: no CUDA device" in phase(trace, InitPhase.CUDA_INIT).attributes["fallback"]


def test_prepacking_is_off_when_worker_processes_share_the_environment(artifact_dir: Path) -> None:
    assert RuntimeConfig.from_env({}).prepacking is True
    # Lambda Managed Instances set AWS_LAMBDA_MAX_CONCURRENCY: N processes, N private packed copies otherwise
    lmi = RuntimeConfig.from_env({"AWS_LAMBDA_MAX_CONCURRENCY": "8"}, artifact_dir=artifact_dir)
    assert (lmi.prepacking, lmi.worker_processes) == (False, 8)
    assert RuntimeConfig.from_env({}, worker_processes=8).prepacking is False  # however the count is given
    assert RuntimeConfig.from_env({"AWS_LAMBDA_MAX_CONCURRENCY": "8", "ORT_PREPACKING": "true"}).prepacking is True
    assert RuntimeConfig.from_env({"ORT_PREPACKING": "false"}).prepacking is False
    with pytest.raises(ConfigError, match="ORT_PREPACKING"):
        RuntimeConfig.from_env({"ORT_PREPACKING": "sometimes"})
    with pytest.raises(ConfigError, match="ORT_EXECUTION_PROVIDER"):
        RuntimeConfig.from_env({"ORT_EXECUTION_PROVIDER": "tpu"})
    # AND the loaded session says which it got, and still answers the same
    service = InferenceService(lmi)
    service.start()
    assert phase(service.trace, InitPhase.CREATE_SESSION).attributes["prepacking"] is False
    packed = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_dir))
    packed.start()
    unpacked, reference = service.embed(["a cold start"]), packed.embed(["a cold start"])
    assert max(abs(a - b) for a, b in zip(unpacked[0], reference[0], strict=True)) < 1e-5


def test_cuda_provider_options_default_and_override() -> None:
    # GIVEN no options, then a JSON object of overrides, as ORT_CUDA_PROVIDER_OPTIONS holds them
    assert RuntimeConfig.from_env({}).cuda_provider_options == {}
    assert cuda_provider_options(RuntimeConfig.from_env({}).cuda_provider_options) == DEFAULT_CUDA_OPTIONS
    given = RuntimeConfig.from_env({"ORT_CUDA_PROVIDER_OPTIONS": '{"arena_extend_strategy": "kNextPowerOfTwo", '
                                                                 '"device_id": 1, "enable_cuda_graph": true}'})
    # THEN they sit on top of the runtime's, as the strings ONNX Runtime reads
    assert cuda_provider_options(given.cuda_provider_options) == {
        **DEFAULT_CUDA_OPTIONS, "arena_extend_strategy": "kNextPowerOfTwo", "device_id": "1",
        "enable_cuda_graph": "true"}
    # AND what is not an object is refused when the environment starts, saying what to give
    with pytest.raises(ConfigError, match="must be a JSON object"):
        RuntimeConfig.from_env({"ORT_CUDA_PROVIDER_OPTIONS": "[1, 2]"})
    with pytest.raises(ConfigError, match="is not JSON"):
        RuntimeConfig.from_env({"ORT_CUDA_PROVIDER_OPTIONS": "{arena: 1}"})
    with pytest.raises(BackendError, match="device_id must be a device number"):
        cuda_provider_options({"device_id": "first"})


class _FakeCudaRuntime:
    """libcudart as ctypes sees it, with ``devices`` GPUs (the device probe is the boundary faked)."""

    def __init__(self, devices: int) -> None:
        self.devices = devices

    def cudaGetDeviceCount(self, count: Any) -> int:  # noqa: N802 (CUDA's names)
        count._obj.value = self.devices
        return 0 if self.devices else 100

    def cudaSetDevice(self, device: int) -> int:  # noqa: N802
        return 0

    def cudaFree(self, pointer: Any) -> int:  # noqa: N802
        return 0

    def cudaMemGetInfo(self, free: Any, total: Any) -> int:  # noqa: N802
        free._obj.value, total._obj.value = 70 * 2**30, 80 * 2**30
        return 0


@pytest.mark.parametrize("providers, devices, expected, reason", [
    # onnxruntime-gpu reports the CUDA provider and a GPU is there: CUDA
    (["CUDAExecutionProvider", "CPUExecutionProvider"], 1, "cuda", "has the CUDA execution provider"),
    # onnxruntime-gpu on a machine without a GPU: the CPU, saying why
    (["CUDAExecutionProvider", "CPUExecutionProvider"], 0, "cpu", "auto: no usable GPU"),
    # the CPU build of onnxruntime: the CPU, saying why
    (["CPUExecutionProvider"], 1, "cpu", "has no CUDA execution provider"),
])
def test_auto_picks_cuda_only_where_the_provider_and_a_gpu_are_there(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, providers: list[str], devices: int, expected: str,
        reason: str) -> None:
    import onnxruntime

    from inference_runtime.backends import cuda

    # GIVEN what onnxruntime reports and what the device probe finds (faked at those two boundaries)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(providers))
    monkeypatch.setattr(onnxruntime, "preload_dlls", lambda **kwargs: None, raising=False)
    monkeypatch.setattr(cuda, "cudart", lambda: _FakeCudaRuntime(devices))
    trace = PhaseTrace()
    loader = ModelLoader(RuntimeConfig.from_env({"ORT_EXECUTION_PROVIDER": "auto"}, artifact_dir=tmp_path), trace)
    # WHEN the loader picks the device for the real ONNX backend
    device = loader._open_device(OnnxBackend)
    # THEN it is the expected one, with its reason, and CUDA init ran only where the provider is there
    assert (device.name, reason in device.reason) == (expected, True), device
    cuda_init = phase(trace, InitPhase.CUDA_INIT)
    assert (cuda_init is not None) == ("CUDAExecutionProvider" in providers)
    if expected == "cuda":
        assert cuda_init.attributes["devices"] == 1 and device.options["device_id"] == "0"
