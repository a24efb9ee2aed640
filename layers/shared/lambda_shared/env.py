"""Every environment variable name either function reads, and those Lambda sets: constants only.

This module imports nothing, so any module may import it without pulling anything in.
Each function resolves its own settings from these names (``inference_runtime/config.py``,
``keepwarm/warming/settings.py``); ``template.yaml`` sets them in the cloud and the local
tools set them here. The README's configuration table documents each one.
"""

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
CUDA_MODULE_LOADING = "CUDA_MODULE_LOADING"
# One model server per execution environment (off | shared): on Lambda Managed Instances the
# worker processes send token ids to it instead of each holding a session (docs/workers.md).
MODEL_SERVER = "MODEL_SERVER"
# The model server's dynamic batching, Text Embeddings Inference's knobs: a batch's padded
# size (rows x longest row) and how long its oldest request may wait for company (0: never).
MAX_BATCH_TOKENS = "MAX_BATCH_TOKENS"
MAX_BATCH_WAIT_MS = "MAX_BATCH_WAIT_MS"
# Seconds a worker waits for the model server's answer, and for a (re)started server to be ready.
MODEL_SERVER_TIMEOUT_S = "MODEL_SERVER_TIMEOUT_S"
MODEL_SERVER_START_TIMEOUT_S = "MODEL_SERVER_START_TIMEOUT_S"
OPENBLAS_NUM_THREADS = "OPENBLAS_NUM_THREADS"

# --- both functions -----------------------------------------------------------------
# Named as Powertools names them, though the functions write their logs and EMF themselves: a
# user who adds Powertools to their own code gets the same service, level and namespace.
METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"

# --- keep-warm function -------------------------------------------------------------
# Each tier's alias, warm count and service name are per tier: lambda_shared.tiers names them.
STANDARD_ALIAS_ARN = "STANDARD_ALIAS_ARN"
PREMIUM_ALIAS_ARN = "PREMIUM_ALIAS_ARN"
STANDARD_WARM_COUNT = "STANDARD_WARM_COUNT"
PREMIUM_WARM_COUNT = "PREMIUM_WARM_COUNT"
STANDARD_SERVICE_NAME = "STANDARD_SERVICE_NAME"
PREMIUM_SERVICE_NAME = "PREMIUM_SERVICE_NAME"
WARM_HOLD_MS = "WARM_HOLD_MS"
LAMBDA_ENDPOINT_URL = "LAMBDA_ENDPOINT_URL"
KEEP_WARM_POLICY = "KEEP_WARM_POLICY"
KEEP_WARM_SCHEDULE = "KEEP_WARM_SCHEDULE"
KEEP_WARM_HISTORY_MINUTES = "KEEP_WARM_HISTORY_MINUTES"
CLOUDWATCH_ENDPOINT_URL = "CLOUDWATCH_ENDPOINT_URL"

# --- set by the Lambda service (read only) ------------------------------------------
AWS_LAMBDA_INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
AWS_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
# From the function's ApplicationLogLevel (JSON log format); it wins over LOG_LEVEL.
AWS_LAMBDA_LOG_LEVEL = "AWS_LAMBDA_LOG_LEVEL"
LAMBDA_TASK_ROOT = "LAMBDA_TASK_ROOT"
# Set on Lambda Managed Instances: the requests one execution environment serves at once,
# which for Python is its number of worker processes (each with its own init).
AWS_LAMBDA_MAX_CONCURRENCY = "AWS_LAMBDA_MAX_CONCURRENCY"

# --- pre-traffic hook functions (one per tier; functions/pretraffic) ----------------
# The version CodeDeploy is about to shift the alias to: CodeDeploy's event names only the
# deployment, so the template passes it, as AWS's SAM examples do (`!Ref <Function>.Version`,
# the version's ARN).
PRETRAFFIC_VERSION_ARN = "PRETRAFFIC_VERSION_ARN"
# The tier the version serves (lambda_shared.tiers): the /warm and /predict events carry it.
PRETRAFFIC_TIER = "PRETRAFFIC_TIER"
# How many distinct environments must answer /warm before traffic moves (the tier's warm count).
PRETRAFFIC_WARM_COUNT = "PRETRAFFIC_WARM_COUNT"
# Whether to ask Lambda for the version's provisioned concurrency and wait for READY (false
# where the template configures none, so the hook needs no GetProvisionedConcurrencyConfig).
PRETRAFFIC_WAIT_PROVISIONED = "PRETRAFFIC_WAIT_PROVISIONED"
# The most seconds the hook spends before its verdict (bounded by the function's own timeout).
PRETRAFFIC_TIMEOUT_S = "PRETRAFFIC_TIMEOUT_S"
# Seconds between GetProvisionedConcurrencyConfig polls.
PRETRAFFIC_POLL_S = "PRETRAFFIC_POLL_S"
# The smoke /predict's JSON body (the default fits the embeddings and classification tasks).
PRETRAFFIC_SMOKE_BODY = "PRETRAFFIC_SMOKE_BODY"
# CodeDeploy's endpoint (unset in the cloud; a loopback server in the tests).
CODEDEPLOY_ENDPOINT_URL = "CODEDEPLOY_ENDPOINT_URL"
