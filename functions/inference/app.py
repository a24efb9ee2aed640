"""The inference function: wires the shared runtime together at module scope.

Everything here runs once per execution environment, during Lambda init (or before
the SnapStart snapshot): the model is loaded, verified and warmed before the first
request arrives, and cached in ``SERVICE`` for every request after it.
"""

import os

# Before anything could load a CUDA library: load kernels on first use, not all at
# start-up. The image sets it too; this keeps zip deployments and local runs safe.
os.environ.setdefault("CUDA_MODULE_LOADING", "LAZY")

from inference_runtime.lifecycle import PhaseTrace  # noqa: E402

TRACE = PhaseTrace()
# Interpreter start, the Lambda runtime client and our imports so far, up to this line.
TRACE.record("runtime_and_imports", 0.0, TRACE.now_ms())

from inference_runtime.api.routes import build_handler  # noqa: E402
from inference_runtime.service import InferenceService  # noqa: E402

SERVICE = InferenceService.from_env(trace=TRACE)
SERVICE.start()

handler = build_handler(SERVICE)
