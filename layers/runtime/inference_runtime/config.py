"""Every environment variable the runtime reads, named and resolved in one place.

In the cloud only ``template.yaml`` sets these; locally the emulator tools do. Each
value is resolved the same way: an explicit argument, then the environment variable,
then the default. Values are validated when the config object is created, so a typo
in a template parameter fails init with a message naming the variable, not later
with a confusing error deep in a request.

The README's "Environment variables" table documents each one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# --- inference function -------------------------------------------------------------
MODEL_ARTIFACT_DIR = "MODEL_ARTIFACT_DIR"
MODEL_NAME = "MODEL_NAME"
MODEL_REGISTRY = "MODEL_REGISTRY"
MODEL_CACHE_DIR = "MODEL_CACHE_DIR"
MODEL_CACHE_MAX_MB = "MODEL_CACHE_MAX_MB"
S3_PARALLELISM = "S3_PARALLELISM"
S3_ATTEMPTS = "S3_ATTEMPTS"
LATENCY_TIER = "LATENCY_TIER"
PRELOAD_MODEL = "PRELOAD_MODEL"
MAX_INPUTS = "MAX_INPUTS"
MAX_INPUT_CHARS = "MAX_INPUT_CHARS"
MAX_BODY_BYTES = "MAX_BODY_BYTES"
MAX_WARM_HOLD_MS = "MAX_WARM_HOLD_MS"
ORT_INTRA_OP_THREADS = "ORT_INTRA_OP_THREADS"
ORT_EXECUTION_PROVIDER = "ORT_EXECUTION_PROVIDER"
ORT_CUDA_PROVIDER_OPTIONS = "ORT_CUDA_PROVIDER_OPTIONS"
ORT_PREPACKING = "ORT_PREPACKING"
MODEL_RETRY_SECONDS = "MODEL_RETRY_SECONDS"
WARMUP_BATCH_SIZES = "WARMUP_BATCH_SIZES"
WARMUP_SEQUENCE_LENGTHS = "WARMUP_SEQUENCE_LENGTHS"
WARMUP_ITERATIONS = "WARMUP_ITERATIONS"
# Named as Powertools names them, though the runtime writes its logs and EMF itself: a user
# who adds Powertools to their own code gets the same service, level and namespace.
METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
CUDA_MODULE_LOADING = "CUDA_MODULE_LOADING"
OPENBLAS_NUM_THREADS = "OPENBLAS_NUM_THREADS"

# --- keep-warm function -------------------------------------------------------------
STANDARD_ALIAS_ARN = "STANDARD_ALIAS_ARN"
PREMIUM_ALIAS_ARN = "PREMIUM_ALIAS_ARN"
STANDARD_WARM_COUNT = "STANDARD_WARM_COUNT"
PREMIUM_WARM_COUNT = "PREMIUM_WARM_COUNT"
WARM_HOLD_MS = "WARM_HOLD_MS"
LAMBDA_ENDPOINT_URL = "LAMBDA_ENDPOINT_URL"
KEEP_WARM_POLICY = "KEEP_WARM_POLICY"
KEEP_WARM_SCHEDULE = "KEEP_WARM_SCHEDULE"
KEEP_WARM_HISTORY_MINUTES = "KEEP_WARM_HISTORY_MINUTES"
CLOUDWATCH_ENDPOINT_URL = "CLOUDWATCH_ENDPOINT_URL"
STANDARD_SERVICE_NAME = "STANDARD_SERVICE_NAME"
PREMIUM_SERVICE_NAME = "PREMIUM_SERVICE_NAME"
#: The pre-warming policy keep-warm runs unless KEEP_WARM_POLICY says otherwise: the one
#: ``python -m tools.prewarm.report`` chose by measurement (README "Pre-warming: the policy,
#: measured"); the report warns when the two differ.
DEFAULT_KEEP_WARM_POLICY = "refresh"
#: Policies that decide without the tiers' history; keep-warm does not read CloudWatch for them.
DEFAULT_KEEP_WARM_SCHEDULE = "rate(5 minutes)"

# --- set by the Lambda service (read only) ------------------------------------------
AWS_LAMBDA_INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
AWS_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
# From the function's ApplicationLogLevel (JSON log format); it wins over LOG_LEVEL.
AWS_LAMBDA_LOG_LEVEL = "AWS_LAMBDA_LOG_LEVEL"
LAMBDA_TASK_ROOT = "LAMBDA_TASK_ROOT"
# Set on Lambda Managed Instances: the requests one execution environment serves at once,
# which for Python is its number of worker processes (each with its own init).
AWS_LAMBDA_MAX_CONCURRENCY = "AWS_LAMBDA_MAX_CONCURRENCY"

# Lambda's only writable directory. Nothing there is trusted: every cached file is written
# under a temporary name, renamed when verified, and verified again before reuse.
DEFAULT_CACHE_DIR = "/tmp/model-cache"  # nosec B108

TIERS = ("standard", "premium", "gpu")
#: ORT_EXECUTION_PROVIDER: auto (CUDA when onnxruntime-gpu and a GPU are there, else CPU), cuda, cpu
EXECUTION_PROVIDERS = ("auto", "cuda", "cpu")
DEFAULT_TIER = "standard"


class ConfigError(ValueError):
    """Raised when an environment variable holds a value the runtime cannot use."""


def resolve(name: str, explicit: object | None = None, default: str | None = None,
            environ: Mapping[str, str] | None = None) -> str | None:
    """Explicit argument, then environment variable, then default."""
    if explicit is not None:
        return str(explicit)
    env = os.environ if environ is None else environ
    value = env.get(name)
    return value if value not in (None, "") else default


def resolve_int(name: str, explicit: int | None, default: int, *, minimum: int, maximum: int,
                environ: Mapping[str, str] | None = None) -> int:
    raw = resolve(name, explicit, str(default), environ)
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range; use {minimum}..{maximum}")
    return value


def resolve_bool(name: str, explicit: bool | None, default: bool,
                 environ: Mapping[str, str] | None = None) -> bool:
    raw = resolve(name, None if explicit is None else str(explicit).lower(), str(default).lower(), environ)
    lowered = str(raw).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def resolve_tier(name: str, explicit: str | None = None,
                 environ: Mapping[str, str] | None = None) -> str:
    tier = str(resolve(name, explicit, DEFAULT_TIER, environ)).strip().lower()
    if tier not in TIERS:
        raise ConfigError(f"{name}={tier!r} is not a tier; use one of {', '.join(TIERS)}")
    return tier


def resolve_choice(name: str, explicit: object | None, default: str, choices: tuple[str, ...],
                   environ: Mapping[str, str] | None = None) -> str:
    value = str(resolve(name, explicit, default, environ)).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def resolve_json_object(name: str, explicit: object | None = None,
                        environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A JSON object of string values (numbers and booleans are written as ONNX Runtime reads them)."""
    import json

    if isinstance(explicit, Mapping):
        given: object = dict(explicit)
    else:
        raw = resolve(name, explicit, None, environ)
        if raw is None:
            return {}
        try:
            given = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} is not JSON ({exc}); give an object such as "
                              '{"arena_extend_strategy": "kNextPowerOfTwo"}') from exc
    if not isinstance(given, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(given).__name__}")
    return {str(key): str(value).lower() if isinstance(value, bool) else str(value) for key, value in given.items()}


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


def resolve_int_list(name: str, explicit: object | None, default: tuple[int, ...], *, minimum: int,
                     maximum: int, environ: Mapping[str, str] | None = None) -> tuple[int, ...]:
    """A comma-separated list of integers, e.g. WARMUP_BATCH_SIZES=1,8."""
    if isinstance(explicit, (tuple, list)):
        raw = ",".join(str(v) for v in explicit)
    else:
        raw = str(resolve(name, explicit, ",".join(map(str, default)), environ))
    try:
        values = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a comma-separated list of integers") from exc
    if not all(minimum <= v <= maximum for v in values):
        raise ConfigError(f"{name}={raw!r}: every value must be in {minimum}..{maximum}")
    return values


def _default_registry(environ: Mapping[str, str]) -> str:
    task_root = environ.get(LAMBDA_TASK_ROOT)
    if task_root:
        return str(Path(task_root) / "models.json")
    return str(Path(__file__).resolve().parents[3] / "functions" / "inference" / "models.json")


def _default_artifact_dir(environ: Mapping[str, str]) -> str:
    # In the image the artifact sits beside the code; from a checkout, where make builds it.
    task_root = environ.get(LAMBDA_TASK_ROOT)
    if task_root:
        return str(Path(task_root) / "model")
    return str(Path(__file__).resolve().parents[3] / "build" / "artifacts" / "all-MiniLM-L6-v2")


@dataclass(frozen=True)
class RuntimeConfig:
    """Configuration of one inference execution environment."""

    artifact_dir: Path
    model_name: str = "all-MiniLM-L6-v2"
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
    warmup_iterations: int = 2
    metrics_namespace: str = "FastInference"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **explicit: object) -> RuntimeConfig:
        env = os.environ if environ is None else environ

        def num(name: str, key: str, default: int, lo: int, hi: int) -> int:
            return resolve_int(name, explicit.get(key), default, minimum=lo, maximum=hi, environ=env)  # type: ignore[arg-type]

        workers = num(AWS_LAMBDA_MAX_CONCURRENCY, "worker_processes", 1, 1, 4096)
        return cls(
            artifact_dir=Path(str(resolve(MODEL_ARTIFACT_DIR, explicit.get("artifact_dir"),
                                          _default_artifact_dir(env), env))),
            model_name=str(resolve(MODEL_NAME, explicit.get("model_name"), "all-MiniLM-L6-v2", env)),
            model_registry=Path(str(resolve(MODEL_REGISTRY, explicit.get("model_registry"),
                                            _default_registry(env), env))),
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
            # is slow, later new shapes are not (measured; README "Warm-up"). On a GPU,
            # list the shapes you serve. Sequence lengths stop at the model's 256 tokens.
            warmup_batch_sizes=resolve_int_list(WARMUP_BATCH_SIZES, explicit.get("warmup_batch_sizes"), (2,),
                                                minimum=1, maximum=256, environ=env),
            warmup_sequence_lengths=resolve_int_list(WARMUP_SEQUENCE_LENGTHS,
                                                     explicit.get("warmup_sequence_lengths"), (16,),
                                                     minimum=2, maximum=256, environ=env),
            warmup_iterations=num(WARMUP_ITERATIONS, "warmup_iterations", 2, 0, 100),
            metrics_namespace=str(resolve(METRICS_NAMESPACE, explicit.get("metrics_namespace"),
                                          "FastInference", env)),
        )


@dataclass(frozen=True)
class WarmTarget:
    """One tier's alias and how many environments keep-warm holds warm there.

    ``count`` is what the fixed policy sends every round, the most any policy sends in one,
    and what keep-warm falls back to when the tier's metrics cannot be read. ``service`` is
    the tier's POWERTOOLS_SERVICE_NAME: the ``service`` dimension of its EMF metrics.
    """

    tier: str
    function: str
    count: int
    service: str = ""


def parse_rate_s(expression: str) -> int | None:
    """Seconds between runs of an EventBridge ``rate(N unit)`` expression; None for cron() and at()."""
    text = expression.strip()
    if not text.startswith("rate(") or not text.endswith(")"):
        return None
    parts = text[5:-1].split()
    units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86_400, "days": 86_400}
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in units or int(parts[0]) < 1:
        raise ConfigError(f"{KEEP_WARM_SCHEDULE}={expression!r} is not a rate expression like rate(5 minutes)")
    return int(parts[0]) * units[parts[1]]


@dataclass(frozen=True)
class KeepWarmConfig:
    """Configuration of the keep-warm function."""

    targets: tuple[WarmTarget, ...]
    hold_ms: int = 250
    endpoint_url: str | None = None
    policy: str = DEFAULT_KEEP_WARM_POLICY
    #: Seconds between keep-warm rounds (the schedule's rate): the policies plan one round ahead.
    interval_s: int = 300
    history_minutes: int = 1440
    cloudwatch_endpoint_url: str | None = None
    metrics_namespace: str = "FastInference"

    @property
    def reads_history(self) -> bool:
        from .prewarm import POLICIES

        return POLICIES[self.policy].reads_history

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeepWarmConfig:
        env = os.environ if environ is None else environ
        targets = []
        for tier, arn_var, count_var, service_var in (
            ("standard", STANDARD_ALIAS_ARN, STANDARD_WARM_COUNT, STANDARD_SERVICE_NAME),
            ("premium", PREMIUM_ALIAS_ARN, PREMIUM_WARM_COUNT, PREMIUM_SERVICE_NAME),
        ):
            count = resolve_int(count_var, None, 0, minimum=0, maximum=100, environ=env)
            function = resolve(arn_var, None, None, env)
            if count and not function:
                raise ConfigError(f"{count_var}={count} but {arn_var} is not set")
            if count:
                # The template names each tier's service inference-<tier> (its POWERTOOLS_SERVICE_NAME).
                service = str(resolve(service_var, None, f"inference-{tier}", env))
                targets.append(WarmTarget(tier=tier, function=str(function), count=count, service=service))
        # Imported here: the names live with the policies, and config stays a leaf for every other caller.
        from .prewarm import POLICIES, POLICY_NAMES

        policy = str(resolve(KEEP_WARM_POLICY, None, DEFAULT_KEEP_WARM_POLICY, env)).strip().lower()
        if policy not in POLICY_NAMES:
            raise ConfigError(f"{KEEP_WARM_POLICY}={policy!r} is not a pre-warming policy; use one of "
                              f"{', '.join(POLICY_NAMES)}")
        schedule = str(resolve(KEEP_WARM_SCHEDULE, None, DEFAULT_KEEP_WARM_SCHEDULE, env))
        interval_s = parse_rate_s(schedule)
        if interval_s is None:
            if POLICIES[policy].reads_history:
                raise ConfigError(f"{KEEP_WARM_SCHEDULE}={schedule!r}: the {policy} policy plans one round ahead "
                                  f"and needs a rate() schedule; use rate(5 minutes), or {KEEP_WARM_POLICY}=fixed")
            interval_s = 300
        return cls(
            targets=tuple(targets),
            hold_ms=resolve_int(WARM_HOLD_MS, None, 250, minimum=0, maximum=10_000, environ=env),
            endpoint_url=resolve(LAMBDA_ENDPOINT_URL, None, None, env),
            policy=policy,
            interval_s=interval_s,
            # 14 days of minutes: CloudWatch keeps 60-second data points for 15 days.
            history_minutes=resolve_int(KEEP_WARM_HISTORY_MINUTES, None, 1440, minimum=10, maximum=14 * 1440,
                                        environ=env),
            cloudwatch_endpoint_url=resolve(CLOUDWATCH_ENDPOINT_URL, None, None, env),
            metrics_namespace=str(resolve(METRICS_NAMESPACE, None, "FastInference", env)),
        )
