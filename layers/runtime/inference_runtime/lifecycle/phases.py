"""The names of the cold-start phases, defined once.

The code records them (``trace.phase(InitPhase.WARMUP)``), the init log line and the EMF
document carry them (``InitPhase_<name>``: log fields, not metrics; lifecycle/metrics.py says
why), and template.yaml's dashboard tabulates them with Logs Insights:
tests/unit/test_template_translated.py holds the dashboard's columns to this enum, so a phase
added here and not there (or renamed in one place only) fails a test.
"""

from __future__ import annotations

from enum import StrEnum


class InitPhase(StrEnum):
    """Phases of an execution environment's init, in the order they start."""

    #: interpreter start, the Lambda runtime client and the handler module's first imports
    RUNTIME_AND_IMPORTS = "runtime_and_imports"
    #: the model registry entry and the verified manifest
    READ_MANIFEST = "read_manifest"
    #: start the verified fetch of the weights (bundled: hash them; S3: download, hash)
    FETCH_ARTIFACT = "fetch_artifact"
    #: import the inference library (onnxruntime)
    IMPORT_BACKEND = "import_backend"
    #: GPU only: load CUDA's libraries and create the device's context (beside the verification)
    CUDA_INIT = "cuda_init"
    #: wait for the weights' sha256 to be verified (it runs beside the imports)
    AWAIT_VERIFICATION = "await_verification"
    #: open the inference session from the verified files
    CREATE_SESSION = "create_session"
    #: the tokenizer
    LOAD_TOKENIZER = "load_tokenizer"
    #: the HTTP layer, imported while the session is created
    IMPORT_API = "import_api"
    #: synthetic requests over the configured shapes, so the first real one is not the first run
    WARMUP = "warmup"


class RestorePhase(StrEnum):
    """Phases after a SnapStart restore (Lambda counts them in its Restore Duration)."""

    AFTER_RESTORE_HOOKS = "after_restore_hooks"
