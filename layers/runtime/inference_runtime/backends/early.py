"""Init's slowest work, started first thing in the handler, before its own imports.

On one thread, started by ``app.py``'s first lines (``start``):

1. The backend's libraries: numpy, onnxruntime and tokenizers, most of init's imports.
2. For a model bundled in the image, in the default configuration: the ONNX Runtime
   session itself. Creating it is init's longest single step and it releases the GIL,
   so the handler's own imports, the tokenizer and the HTTP layer load while it runs
   rather than before it. ``app.py`` waits (``wait_until_under_way``) until it has
   started, or until it is clear there will be none, before importing anything of its
   own: imports hold the GIL, and done beside the libraries' they only take turns with
   them. Measured (all-MiniLM-L6-v2, 2 cores, 31 alternating cold starts): 33 ms less
   from spawn to the first answer than with the session opened after those imports.

The session is opened as the loader would open it (``ort_session``), from the graph file
after it matched the manifest's digest. The ONNX backend adopts it (``adopt``) only if its
``SessionKey`` (graph file, digest, options, providers), worked out here from the
environment and the manifest, is the one the loader works out from the verified manifest
and its configuration; on any difference the loader opens its own and this one is
dropped. The weights are then hashed by the loader as for any bundled model, beside the
session's creation, and nothing runs on the session until they match.

The early session covers the default case only, reading the environment leniently: any
ORT_* session setting, worker processes (Lambda Managed Instances), a model server, a
model that is not bundled (S3, a mounted file system), onnxruntime-gpu with
ORT_EXECUTION_PROVIDER auto or cuda: no early session, and the loader does all of it.
Nothing is reported from here: whatever failed, the loader meets it again and reports it
with its fix. The imports alone still run early with PRELOAD_MODEL unset or true.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from lambda_shared.env import (
    AWS_LAMBDA_MAX_CONCURRENCY,
    MODEL_ARTIFACT_DIR,
    MODEL_NAME,
    MODEL_REGISTRY,
    MODEL_SERVER,
    ORT_EXECUTION_PROVIDER,
    ORT_INTRA_OP_THREADS,
    ORT_PREPACKING,
    PRELOAD_MODEL,
)

from ..defaults import DEFAULT_MODEL_NAME, default_artifact_dir, default_registry
from .ort_session import SessionKey, session_options

#: What each MODEL_SERVER mode's backend imports in ``import_libraries()`` (OnnxBackend,
#: RemoteBackend); tests/unit/test_early_import.py holds the two equal. Importing the
#: backend modules here instead would bring the handler's own modules in before these.
LIBRARIES = {"off": ("numpy", "onnxruntime", "tokenizers"), "shared": ("numpy", "tokenizers")}
#: Imported first for a model in S3 (cache/s3.py's client): its download is then the longest
#: step, and it can start once these are in; the libraries above import while it runs.
S3_LIBRARIES = ("boto3", "botocore.config")
#: the early session runs on the CPU only: choosing a GPU is the loader's (backends/cuda.py)
CPU_PROVIDERS = ("CPUExecutionProvider",)


class EarlyPlan(NamedTuple):
    """The session to open early: from which graph file, verified against what, with which key."""

    graph: Path
    size: int
    sha256: str
    blake3: str | None
    #: ORT_EXECUTION_PROVIDER: auto (given up on onnxruntime-gpu) or cpu
    provider: str
    key: SessionKey


class _Early:
    """This process's early work: the thread, and the session once opened."""

    def __init__(self) -> None:
        self.plan: EarlyPlan | None = None
        #: set once ``plan`` is worked out (by the caller of ``start``, while the libraries import)
        self.planned = threading.Event()
        #: set once the session's creation has begun, or once there will be none
        self.under_way = threading.Event()
        self.session: Any = None
        self.adopted: Any = None
        self.thread: threading.Thread | None = None


_early: _Early | None = None


def start(environ: Mapping[str, str] | None = None) -> threading.Thread:
    """Start the imports, and the early session where ``plan`` finds one, on a daemon thread; returns it."""
    global _early
    early = _early = _Early()
    libraries = libraries_for(environ)
    source = _registry_source(environ)  # read once: for the libraries here, and for the plan
    if libraries and (source or "").startswith("s3://"):
        libraries = S3_LIBRARIES + libraries
    early.thread = threading.Thread(target=_run, args=(libraries, early), name="early-import", daemon=True)
    early.thread.start()
    # Worked out here while the thread imports (the manifest, a small JSON file), not before starting it.
    try:
        early.plan = plan(environ, source=source)
    finally:
        early.planned.set()
        if early.plan is None:
            early.under_way.set()
    return early.thread


def wait_until_under_way() -> None:
    """Block until the early session's creation has begun, or it is clear there will be none."""
    if _early is not None:
        _early.under_way.wait()


def adopt(key: SessionKey) -> Any | None:
    """The early session if it was opened with exactly ``key`` (waiting for it to be ready); else None.

    Either way the early session is given up: to the caller, or dropped.
    """
    early = _early
    if early is None or early.plan is None or early.thread is None:
        return None
    early.thread.join()
    session, early.session = early.session, None
    if session is None or early.plan.key != key:
        return None
    early.adopted = session
    return session


def opened_early(session: Any) -> bool:
    """Whether ``session`` is the one ``adopt`` handed over."""
    return _early is not None and session is not None and _early.adopted is session


def libraries_for(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The libraries the loader will import under these settings (none when the model loads on demand).

    Settings are read leniently: a value the config refuses is the loader's to report.
    """
    env = os.environ if environ is None else environ
    if env.get(PRELOAD_MODEL, "").strip().lower() in ("0", "false", "no", "off"):
        return ()  # the model loads on the first request; so do its libraries
    return LIBRARIES.get(env.get(MODEL_SERVER, "").strip().lower() or "off", LIBRARIES["off"])


def plan(environ: Mapping[str, str] | None = None, *, source: str | None = None) -> EarlyPlan | None:
    """The early session for these settings: the bundled model in the default configuration, else None.

    ``source``: where the registry says the model lives, if the caller has read it already.

    Reads ``models.json`` and the artifact's ``manifest.json`` directly (two small JSON
    files), not through the registry's and the manifest's types: importing those is the
    cost this avoids. A file that reads differently from what the loader makes of it only
    means a key that does not match, and no adoption.
    """
    env = os.environ if environ is None else environ
    if libraries_for(env) != LIBRARIES["off"]:
        return None  # no session in this process (a model server's worker), or none before the first request
    defaults = {ORT_INTRA_OP_THREADS: ("", "0"), ORT_PREPACKING: ("", "auto"), AWS_LAMBDA_MAX_CONCURRENCY: ("", "1"),
                ORT_EXECUTION_PROVIDER: ("", "auto", "cpu")}
    if any(env.get(name, "").strip().lower() not in allowed for name, allowed in defaults.items()):
        return None
    if (source or _registry_source(env)) != "bundled":
        return None
    try:
        from ..artifact.files import MANIFEST_FILENAME

        artifact_dir = Path(env.get(MODEL_ARTIFACT_DIR) or default_artifact_dir(env))
        manifest = json.loads((artifact_dir / MANIFEST_FILENAME).read_text())
        graph = manifest["model"]["graph"]
        entry = next(f for f in manifest["files"] if f["path"] == graph["entrypoint"])
        if manifest["format"] != "onnx":
            return None
        path = artifact_dir / entry["path"]
        optimized = bool(graph.get("optimization")) and graph.get("optimized_for") == "cpu"
        key = SessionKey.of(path, entry.get("blake3") or entry["sha256"], optimized=optimized, intra_op_threads=0,
                            prepacking=True, providers=CPU_PROVIDERS)
        provider = env.get(ORT_EXECUTION_PROVIDER, "").strip().lower() or "auto"
        return EarlyPlan(path, int(entry["size"]), str(entry["sha256"]), entry.get("blake3"), provider, key)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None


def _registry_source(environ: Mapping[str, str] | None) -> str | None:
    """Where the registry says MODEL_NAME lives ("bundled", s3://..., file://...); None if it cannot tell."""
    env = os.environ if environ is None else environ
    try:
        registry = json.loads(Path(env.get(MODEL_REGISTRY) or default_registry(env)).read_text())
        return str(registry["models"][env.get(MODEL_NAME) or DEFAULT_MODEL_NAME]["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _run(libraries: tuple[str, ...], early: _Early) -> None:
    try:
        for name in libraries:
            importlib.import_module(name)
        early.planned.wait()
        if early.plan is not None:
            early.session = _open(early.plan, early.under_way)
    except Exception:  # nosec B110: the loader does the same work again and reports the failure with its reason
        pass
    finally:
        early.under_way.set()


def _open(plan: EarlyPlan, under_way: threading.Event) -> Any | None:
    ort = sys.modules["onnxruntime"]
    from ..artifact.files import verify_file
    from .cuda import has_cuda_provider

    if plan.provider == "auto" and has_cuda_provider(ort):
        return None  # a GPU may be there: the loader chooses the device
    # ONNX Runtime parses the graph: it must match the manifest first (IntegrityError otherwise).
    verify_file(plan.graph, size=plan.size, sha256=plan.sha256, blake3=plan.blake3)
    under_way.set()
    return ort.InferenceSession(str(plan.graph), sess_options=session_options(ort, plan.key),
                                providers=list(plan.key.providers))
