"""The inference function's settings: every environment variable it reads, resolved once, in one place.

The names are constants in ``lambda_shared.env`` (keep-warm reads its own there too, and
resolves them in ``keepwarm/warming/settings.py``); the way each is resolved (explicit
argument, then the environment variable, then the default) is ``lambda_shared.settings``.
In the cloud only ``template.yaml`` sets these; locally the emulator tools do. Values are
validated when ``RuntimeConfig`` is created, so a typo in a template parameter fails init
with a message naming the variable, not later with a confusing error deep in a request.

The README's "Environment variables" table documents each one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lambda_shared.env import (
    AWS_LAMBDA_MAX_CONCURRENCY,
    LATENCY_TIER,
    MAX_BATCH_TOKENS,
    MAX_BATCH_WAIT_MS,
    MAX_BODY_BYTES,
    MAX_INPUT_CHARS,
    MAX_INPUTS,
    MAX_WARM_HOLD_MS,
    METRICS_NAMESPACE,
    MODEL_ARTIFACT_DIR,
    MODEL_CACHE_DIR,
    MODEL_CACHE_MAX_MB,
    MODEL_NAME,
    MODEL_REGISTRY,
    MODEL_RETRY_SECONDS,
    MODEL_SERVER,
    MODEL_SERVER_START_TIMEOUT_S,
    MODEL_SERVER_TIMEOUT_S,
    ORT_CUDA_PROVIDER_OPTIONS,
    ORT_EXECUTION_PROVIDER,
    ORT_INTRA_OP_THREADS,
    ORT_PREPACKING,
    PRELOAD_MODEL,
    S3_ATTEMPTS,
    S3_PARALLELISM,
    WARMUP_BATCH_SIZES,
    WARMUP_ITERATIONS,
    WARMUP_SEQUENCE_LENGTHS,
)
from lambda_shared.settings import (
    resolve,
    resolve_bool,
    resolve_choice,
    resolve_int,
    resolve_int_list,
    resolve_json_object,
    resolve_tier,
)
from lambda_shared.tiers import DEFAULT_TIER

from .defaults import DEFAULT_MODEL_NAME, default_artifact_dir, default_registry

# Lambda's only writable directory. Nothing there is trusted: every cached file is written
# under a temporary name, renamed when verified, and verified again before reuse.
DEFAULT_CACHE_DIR = "/tmp/model-cache"  # nosec B108

#: ORT_EXECUTION_PROVIDER: auto (CUDA when onnxruntime-gpu and a GPU are there, else CPU), cuda, cpu
EXECUTION_PROVIDERS = ("auto", "cuda", "cpu")
#: MODEL_SERVER: off (each process its own session, as on Lambda on demand) or shared (one model
#: server per execution environment, the workers send it token ids: Lambda Managed Instances)
MODEL_SERVER_MODES = ("off", "shared")


def resolve_prepacking(explicit: bool | None = None, *, workers: int = 1,
                       environ: Mapping[str, str] | None = None) -> bool:
    """ORT_PREPACKING: true, false, or auto (the default): on, unless worker processes share the environment.

    Prepacking copies the weights into ONNX Runtime's packed layout once per process, so
    they no longer come from the read-only map of the weights file that processes share.
    Measured (make bench-workers, 8 workers): each extra worker adds 81 MB with prepacking
    against 40 MB without on all-MiniLM-L6-v2 (87 MB of weights), 365 MB against 43 MB on
    all-mpnet-base-v2 (416 MB); a worker alone infers 24-29% faster with it. One process
    per environment (Lambda on demand, provisioned, SnapStart) pays the copy once; N
    worker processes (``workers``: AWS_LAMBDA_MAX_CONCURRENCY on Lambda Managed Instances)
    pay it N times, so auto turns it off there.
    """
    if explicit is not None:
        return explicit
    env = os.environ if environ is None else environ
    if str(resolve(ORT_PREPACKING, None, "auto", env)).strip().lower() == "auto":
        return workers == 1
    return resolve_bool(ORT_PREPACKING, None, True, env)


def resolve_int_or_auto(name: str, explicit: int | None, *, minimum: int, maximum: int,
                        environ: Mapping[str, str]) -> int | None:
    """A whole number in [minimum, maximum], or auto (the default, or unset): None, for the part
    of the runtime that knows enough to choose (WARMUP_ITERATIONS, MAX_BATCH_TOKENS)."""
    if explicit is None and str(environ.get(name, "")).strip().lower() in ("", "auto"):
        return None
    return resolve_int(name, explicit, minimum, minimum=minimum, maximum=maximum, environ=environ)


@dataclass(frozen=True)
class RuntimeConfig:
    """Configuration of one inference execution environment."""

    artifact_dir: Path
    model_name: str = DEFAULT_MODEL_NAME
    model_registry: Path = Path("models.json")
    cache_dir: Path = Path(DEFAULT_CACHE_DIR)
    cache_max_mb: int = 0
    s3_parallelism: int = 8
    s3_attempts: int = 4
    tier: str = DEFAULT_TIER
    preload_model: bool = True
    max_inputs: int = 64
    max_input_chars: int = 10_000
    max_body_bytes: int = 256 * 1024
    max_warm_hold_ms: int = 2_000
    intra_op_threads: int = 0
    execution_provider: str = "auto"
    #: CUDA execution provider options over the runtime's defaults (backends/cuda.py), from a JSON object
    cuda_provider_options: Mapping[str, str] = field(default_factory=dict)
    #: ONNX Runtime's weight prepacking: faster inference, but a private copy of the packed
    #: weights in every process (see resolve_prepacking)
    prepacking: bool = True
    #: worker processes sharing this execution environment (1 but on Lambda Managed Instances)
    worker_processes: int = 1
    model_retry_seconds: int = 5
    warmup_batch_sizes: tuple[int, ...] = (2,)
    warmup_sequence_lengths: tuple[int, ...] = (16,)
    #: runs per warm-up shape; None: auto (loading/warmup.py iterations_for)
    warmup_iterations: int | None = None
    metrics_namespace: str = "FastInference"
    #: off, or shared: the environment's model server runs the graph (inference_runtime.modelserver)
    model_server: str = "off"
    #: the model server's batch bound, rows x longest row; None: auto (modelserver/batching.py max_batch_tokens_for)
    max_batch_tokens: int | None = None
    #: how long a batch's oldest request may wait for more (0: run whatever is queued when the model is free)
    max_batch_wait_ms: int = 0
    model_server_timeout_s: int = 30
    model_server_start_timeout_s: int = 300

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **explicit: object) -> RuntimeConfig:
        env = os.environ if environ is None else environ

        def num(name: str, key: str, default: int, lo: int, hi: int) -> int:
            return resolve_int(name, explicit.get(key), default, minimum=lo, maximum=hi, environ=env)  # type: ignore[arg-type]

        workers = num(AWS_LAMBDA_MAX_CONCURRENCY, "worker_processes", 1, 1, 4096)
        return cls(
            artifact_dir=Path(str(resolve(MODEL_ARTIFACT_DIR, explicit.get("artifact_dir"),
                                          default_artifact_dir(env), env))),
            model_name=str(resolve(MODEL_NAME, explicit.get("model_name"), DEFAULT_MODEL_NAME, env)),
            model_registry=Path(str(resolve(MODEL_REGISTRY, explicit.get("model_registry"),
                                            default_registry(env), env))),
            cache_dir=Path(str(resolve(MODEL_CACHE_DIR, explicit.get("cache_dir"), DEFAULT_CACHE_DIR, env))),
            # 0: 90% of what the file system under MODEL_CACHE_DIR can hold (EphemeralStorageSize in Lambda).
            cache_max_mb=num(MODEL_CACHE_MAX_MB, "cache_max_mb", 0, 0, 10_240),
            s3_parallelism=num(S3_PARALLELISM, "s3_parallelism", 8, 1, 64),
            s3_attempts=num(S3_ATTEMPTS, "s3_attempts", 4, 1, 20),
            tier=resolve_tier(LATENCY_TIER, explicit.get("tier"), env),  # type: ignore[arg-type]
            preload_model=resolve_bool(PRELOAD_MODEL, explicit.get("preload_model"), True, env),  # type: ignore[arg-type]
            max_inputs=num(MAX_INPUTS, "max_inputs", 64, 1, 4096),
            max_input_chars=num(MAX_INPUT_CHARS, "max_input_chars", 10_000, 1, 1_000_000),
            # 1 MB is the largest body an ALB passes to Lambda.
            max_body_bytes=num(MAX_BODY_BYTES, "max_body_bytes", 256 * 1024, 1, 1_000_000),
            max_warm_hold_ms=num(MAX_WARM_HOLD_MS, "max_warm_hold_ms", 2_000, 0, 10_000),
            intra_op_threads=num(ORT_INTRA_OP_THREADS, "intra_op_threads", 0, 0, 64),
            execution_provider=resolve_choice(ORT_EXECUTION_PROVIDER, explicit.get("execution_provider"),
                                              "auto", EXECUTION_PROVIDERS, env),
            cuda_provider_options=resolve_json_object(ORT_CUDA_PROVIDER_OPTIONS,
                                                      explicit.get("cuda_provider_options"), env),
            prepacking=resolve_prepacking(explicit.get("prepacking"), workers=workers, environ=env),  # type: ignore[arg-type]
            worker_processes=workers,
            model_retry_seconds=num(MODEL_RETRY_SECONDS, "model_retry_seconds", 5, 0, 3600),
            # One small shape by default: on CPU only the very first run of the session
            # is slow, later new shapes are not (measured; docs/cold-start.md "Warm-up"). On a GPU,
            # list the shapes you serve. Sequence lengths stop at the model's 256 tokens.
            warmup_batch_sizes=resolve_int_list(WARMUP_BATCH_SIZES, explicit.get("warmup_batch_sizes"), (2,),
                                                minimum=1, maximum=256, environ=env),
            warmup_sequence_lengths=resolve_int_list(WARMUP_SEQUENCE_LENGTHS,
                                                     explicit.get("warmup_sequence_lengths"), (16,),
                                                     minimum=2, maximum=256, environ=env),
            warmup_iterations=resolve_int_or_auto(WARMUP_ITERATIONS, explicit.get("warmup_iterations"),  # type: ignore[arg-type]
                                                  minimum=0, maximum=100, environ=env),
            metrics_namespace=str(resolve(METRICS_NAMESPACE, explicit.get("metrics_namespace"),
                                          "FastInference", env)),
            model_server=resolve_choice(MODEL_SERVER, explicit.get("model_server"), "off", MODEL_SERVER_MODES, env),
            max_batch_tokens=resolve_int_or_auto(MAX_BATCH_TOKENS, explicit.get("max_batch_tokens"),  # type: ignore[arg-type]
                                                 minimum=1, maximum=1_048_576, environ=env),
            max_batch_wait_ms=num(MAX_BATCH_WAIT_MS, "max_batch_wait_ms", 0, 0, 10_000),
            model_server_timeout_s=num(MODEL_SERVER_TIMEOUT_S, "model_server_timeout_s", 30, 1, 900),
            # Managed Instances allow an init of up to 15 minutes; a server loading from S3 may take most of it.
            model_server_start_timeout_s=num(MODEL_SERVER_START_TIMEOUT_S, "model_server_start_timeout_s",
                                             300, 1, 900),
        )
