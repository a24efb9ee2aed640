"""How this runtime opens an ONNX Runtime session: its options and its identity, in one place.

Two callers open sessions: the ONNX backend (``onnx.OnnxBackend.open_session``, through
the loader) and the early session (``early.py``), which starts before the runtime's own
modules are imported. Both build their options here, and the backend adopts the early
session only when ``SessionKey`` says it is the very session it would have opened.

It imports nothing: ``ort`` is the caller's onnxruntime module.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple


class SessionKey(NamedTuple):
    """Everything that makes two sessions the same: the graph file, its digest, the options, the providers."""

    model_path: str
    #: the manifest's digest of the graph file the session was opened from (BLAKE3, or sha256)
    graph_digest: str
    optimized: bool
    intra_op_threads: int
    prepacking: bool
    providers: tuple[str, ...]

    @classmethod
    def of(cls, model_path: str | os.PathLike[str], graph_digest: str, *, optimized: bool, intra_op_threads: int,
           prepacking: bool, providers: tuple[str, ...]) -> SessionKey:
        # realpath: a relative MODEL_ARTIFACT_DIR and the absolute path the cache gives are one file
        return cls(os.path.realpath(model_path), graph_digest, optimized, intra_op_threads, prepacking, providers)


def session_options(ort: Any, key: SessionKey) -> Any:
    """The ``SessionOptions`` a session with this key is opened with."""
    options = ort.SessionOptions()
    # Optimised at build time for this provider: skip it here.
    options.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_DISABLE_ALL if key.optimized
                                        else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    if key.intra_op_threads:
        options.intra_op_num_threads = key.intra_op_threads
    if not key.prepacking:
        options.add_session_config_entry("session.disable_prepacking", "1")
    return options
