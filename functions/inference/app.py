"""The inference function: wires the shared runtime together at module scope.

Everything here runs once per execution environment, during Lambda init (or before
the SnapStart snapshot): the model is loaded, verified and warmed before the first
request arrives, and cached in ``SERVICE`` for every request after it.
"""

import os

# Before anything could load a CUDA library: load kernels on first use, not all at
# start-up. The image sets it too; this keeps zip deployments and local runs safe.
os.environ.setdefault("CUDA_MODULE_LOADING", "LAZY")
# numpy only builds small input arrays here; OpenBLAS would start a thread per core at
# import, competing with the model load for the CPU (measured: ~0.1 s of init on 2 cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# First, before the handler's own imports: numpy, onnxruntime and tokenizers start
# importing on a thread (most of init's imports; the loader finds them done or under way),
# and for a bundled model the thread then creates the ONNX Runtime session, which the
# loader adopts. Our imports wait until that creation is under way: imports hold the GIL,
# creating a session does not (backends/early.py).
from inference_runtime.backends import early  # noqa: E402

early.start()
early.wait_until_under_way()

from inference_runtime.lifecycle import InitPhase, PhaseTrace  # noqa: E402

TRACE = PhaseTrace()
# Interpreter start, the Lambda runtime client and our imports so far, up to this line.
TRACE.record(InitPhase.RUNTIME_AND_IMPORTS, 0.0, TRACE.now_ms())

from inference_runtime.service import InferenceService  # noqa: E402

SERVICE = InferenceService.from_env(trace=TRACE)
# The model loads on a background thread. Once it has imported onnxruntime (imports
# hold the GIL, so doing ours at the same time would only take turns), this thread
# imports the HTTP layer while the session is created.
SERVICE.start_loading()
SERVICE.wait_backend_imported()

with TRACE.phase(InitPhase.IMPORT_API):
    from inference_runtime.api.routes import build_handler
    from inference_runtime.lifecycle.snapstart import register_hooks

    handler = build_handler(SERVICE)
    register_hooks(SERVICE)

# Init ends with the model loaded, verified and warm (or with the reason it is not).
SERVICE.wait_ready()
