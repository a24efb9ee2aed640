"""The model of one execution environment: loaded once, cached at module scope, verified.

``InferenceService`` owns the loaded backend. ``start()`` runs during Lambda init and
loads the model; every request then reuses it. If loading fails (a corrupt artifact,
a missing file) the error is kept, never the half-loaded model: requests answer 503
with the reason, and a later request retries the load after MODEL_RETRY_SECONDS, so
a transient failure does not poison the environment for its whole life.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .api.errors import ModelUnavailableError
from .artifact import ArtifactError, read_manifest
from .backends import BackendError, backend_for
from .config import ConfigError, RuntimeConfig
from .lifecycle import PhaseTrace, init_type, instance_id
from .log import logger

if TYPE_CHECKING:
    from .backends.base import EmbeddingBackend

# A fixed, short input: enough to run every kernel once so the first real request
# does not pay for ONNX Runtime's lazy first-run work.
_WARMUP_TEXTS = ("warm-up request", "a second, slightly longer warm-up sentence")


class InferenceService:
    """Loads the model once per execution environment and serves it."""

    def __init__(self, config: RuntimeConfig, trace: PhaseTrace | None = None) -> None:
        self.config = config
        self.trace = trace or PhaseTrace()
        self._backend: EmbeddingBackend | None = None
        self._error: str | None = None
        self._last_attempt: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, trace: PhaseTrace | None = None) -> "InferenceService":
        return cls(RuntimeConfig.from_env(), trace)

    # --- loading ---------------------------------------------------------------------
    def start(self) -> None:
        """Init-time entry point: load and warm the model unless PRELOAD_MODEL=false."""
        if not self.config.preload_model:
            return
        try:
            self.load()
        except ModelUnavailableError:
            pass  # already logged; requests will say why and retry later
        logger.info("init complete", extra={
            "event": "init", "instance": instance_id(), "init_type": init_type(),
            "tier": self.config.tier, "ready": self.ready, "error": self._error,
            "trace": self.trace.to_dict(),
        })

    def load(self) -> "EmbeddingBackend":
        """Return the loaded backend, loading (and verifying) it on first use."""
        if self._backend is not None:
            return self._backend
        with self._lock:
            if self._backend is not None:
                return self._backend
            now = time.monotonic()
            if (self._error is not None and self._last_attempt is not None
                    and now - self._last_attempt < self.config.model_retry_seconds):
                raise ModelUnavailableError(self._unavailable_message())
            self._last_attempt = now
            try:
                self._backend = self._load_backend()
                self._error = None
            except (ArtifactError, BackendError, ConfigError, OSError) as exc:
                # Keep the reason, never the model: nothing unverified is ever served.
                self._error = f"{type(exc).__name__}: {exc}"
                logger.error("model load failed", extra={"event": "model_load_failed", "error": self._error,
                                                         "artifact_dir": str(self.config.artifact_dir)})
                raise ModelUnavailableError(self._unavailable_message()) from exc
            return self._backend

    def _load_backend(self) -> "EmbeddingBackend":
        with self.trace.phase("read_manifest") as attrs:
            manifest = read_manifest(self.config.artifact_dir)
            attrs.update(model=manifest.name, version=manifest.version, format=manifest.format)
        backend = backend_for(manifest.format).load(
            self.config.artifact_dir, manifest, trace=self.trace,
            intra_op_threads=self.config.intra_op_threads,
        )
        with self.trace.phase("warmup"):
            backend.embed(list(_WARMUP_TEXTS))
        return backend

    def _unavailable_message(self) -> str:
        retry = self.config.model_retry_seconds
        return (f"the model is not loaded: {self._error}. The environment retries the load at most "
                f"every {retry} s; check MODEL_ARTIFACT_DIR and the artifact's manifest.")

    # --- state -----------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._backend is not None

    @property
    def error(self) -> str | None:
        return self._error

    def model_identity(self) -> dict[str, Any]:
        if self._backend is None:
            return {"model": None, "version": None}
        manifest = self._backend.manifest
        return {"model": manifest.name, "version": manifest.version}

    def init_summary(self) -> dict[str, Any]:
        """The init trace in short: total and per-phase milliseconds (served by /warm and /health)."""
        return {"total_ms": round(self.trace.total_ms(), 3),
                "phases": {p.name: round(p.duration_ms, 3) for p in self.trace.phases}}

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self.load().embed(texts)
