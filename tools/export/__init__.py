"""Build-time export: a local Hugging Face model directory to a verified ONNX artifact.

Torch and transformers are imported inside the functions that need them, so the CLI
answers ``--help`` (and reports a bad argument) without paying for them.

- ``model_dir``  read the directory: task, pooling, labels, lengths (no torch)
- ``graph``      torch + transformers -> one ONNX graph (pooling and normalisation inside)
- ``parity``     the artifact as the runtime runs it against torch; fails the build
- ``build``      the sequence, and the atomic write of the artifact
- ``packages``   real models shipped in PyPI packages (the default, and the tests')
"""

from .build import BuildResult, build
from .errors import ExportError, ParityError
from .model_dir import ExportPlan, inspect_model
from .packages import PACKAGED_MODELS, packaged_model_dir
from .parity import MAX_LOGIT_DIFF, MIN_COSINE, ParityReport

__all__ = ["MAX_LOGIT_DIFF", "MIN_COSINE", "PACKAGED_MODELS", "BuildResult", "ExportError", "ExportPlan",
           "ParityError", "ParityReport", "build", "inspect_model", "packaged_model_dir"]
