"""The model of one execution environment: loaded once, cached at module scope, verified.

``InferenceService`` owns the loaded model and its state (ready, the last error, the
retry); ``loading.ModelLoader`` owns how it is loaded (registry, verified fetch, backend,
warm-up, the init phases). During Lambda init ``app.py`` calls
``start_loading()`` (the load runs on a background thread, so the HTTP layer's
imports overlap it) and then ``wait_ready()``, so init ends with the model loaded,
verified and warmed; every request then reuses it.

If loading fails (a corrupt artifact, a missing file) the error is kept, never the
half-loaded model: requests answer 503 with the reason, and a later request retries
the load after MODEL_RETRY_SECONDS, so a transient failure does not poison the
environment for its whole life.

The loaded model serves one task (``task``: embeddings, classification or reranking,
from its manifest) through ``embed``, ``classify`` and ``rerank``; asking for another
raises ``TaskMismatchError`` naming the task it serves. Each of these loads the model
first if needed, so each may raise ``ModelNotReadyError`` too (the API answers it 503).
The service imports nothing from the HTTP layer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambda_shared.settings import ConfigError

from .artifact import ArtifactError
from .artifact.spec import ModelSpec, Task
from .backends import BackendError
from .config import RuntimeConfig
from .lifecycle import PhaseTrace, init_type, instance_id
from .loading import ModelLoader, ModelNotReadyError
from .tasks.errors import UnknownPromptError

if TYPE_CHECKING:
    from .backends.base import InferenceBackend
    from .lifecycle.metrics import ColdStartMetrics
    from .lifecycle.timing import RequestTimings
    from .tasks import TaskRunner


@dataclass(frozen=True)
class ModelDescription:
    """What the API may know about the loaded model: its artifact's name and version, and its contract.

    ``name`` is the artifact's (the manifest's), ``spec`` is what the export wrote
    (task, dimensions, normalize, labels, tokenizer.max_sequence_length...).
    """

    name: str
    version: str
    spec: ModelSpec


class InferenceService:
    """Loads the model once per execution environment and serves it."""

    def __init__(self, config: RuntimeConfig, trace: PhaseTrace | None = None,
                 metrics: ColdStartMetrics | None = None) -> None:
        self.config = config
        self.trace = trace or PhaseTrace()
        self.metrics = metrics
        self.warmup_results: list[dict[str, Any]] = []
        self._backend: InferenceBackend | None = None
        self._task: TaskRunner | None = None
        self._error: str | None = None
        self._last_attempt: float | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Lives as long as the service: its cache lets a retry after a failed load reuse
        # every file already verified.
        self._loader = ModelLoader(config, self.trace)

    @classmethod
    def from_env(cls, trace: PhaseTrace | None = None) -> InferenceService:
        from .lifecycle.metrics import ColdStartMetrics

        config = RuntimeConfig.from_env()
        return cls(config, trace, ColdStartMetrics(config.metrics_namespace, config.tier))

    # --- init ------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Begin loading on a background thread (unless PRELOAD_MODEL=false)."""
        if not self.config.preload_model or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load_quietly, name="model-loader", daemon=True)
        self._thread.start()

    def wait_backend_imported(self) -> None:
        """Block until the loader has imported the backend's libraries (or gave up).

        Imports hold the GIL: importing the HTTP layer at the same time as the loader
        imports onnxruntime makes both slower. After this, the loader mostly creates the
        session outside the GIL, and the caller's imports run beside it.
        """
        if self._thread is not None:
            self._loader.imported.wait()

    def wait_ready(self) -> None:
        """Block until the background load ends; log and emit the init trace once."""
        if self._thread is None:
            return
        self._thread.join()
        from .log import logger  # imported by then: app.py imports the HTTP layer during the session's creation

        logger.info("init complete", extra={
            "event": "init", "instance": instance_id(), "init_type": init_type(),
            "tier": self.config.tier, "ready": self.ready, "error": self._error,
            "trace": self.trace.to_dict(),
        })
        if self.metrics is not None:
            self.metrics.emit_init(self.trace, ready=self.ready)

    def start(self) -> None:
        """Load synchronously: start_loading() then wait_ready()."""
        self.start_loading()
        self.wait_ready()

    def _load_quietly(self) -> None:
        try:
            self.load()
        except ModelNotReadyError:
            pass  # already logged; requests will say why and retry later

    def load(self) -> InferenceBackend:
        """Return the loaded backend, loading (verified, then warmed) it on first use."""
        if self._backend is not None:
            return self._backend
        with self._lock:
            if self._backend is not None:
                return self._backend
            now = time.monotonic()
            if (self._error is not None and self._last_attempt is not None
                    and now - self._last_attempt < self.config.model_retry_seconds):
                raise ModelNotReadyError(self._unavailable_message())
            self._last_attempt = now
            try:
                loaded = self._loader.load()
                self.warmup_results = loaded.warmup_results
                self._task = loaded.task
                self._backend = loaded.backend
                self._error = None
            except (ArtifactError, BackendError, ConfigError, OSError, ImportError) as exc:
                # Keep the reason, never the model: nothing unverified is ever served.
                self._error = f"{type(exc).__name__}: {exc}"
                from .log import logger

                logger.error("model load failed", extra={"event": "model_load_failed", "error": self._error,
                                                         "artifact_dir": str(self.config.artifact_dir)})
                raise ModelNotReadyError(self._unavailable_message()) from exc
            return self._backend

    def _unavailable_message(self) -> str:
        retry = self.config.model_retry_seconds
        return (f"the model is not loaded: {self._error}. The environment retries the load at most "
                f"every {retry} s; check MODEL_NAME, the model registry and the artifact it names.")

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
        phases: dict[str, float] = {}
        for phase in self.trace.phases:  # a phase recorded twice (a retried load, two waits) counts its sum
            phases[phase.name] = phases.get(phase.name, 0.0) + phase.duration_ms
        summary: dict[str, Any] = {
            "total_ms": round(self.trace.total_ms(), 3),
            "phases": {name: round(ms, 3) for name, ms in phases.items()},
        }
        if self.trace.restored:
            summary["restored_from_snapshot"] = True
        return summary

    def describe(self) -> ModelDescription:
        """The loaded model's name, version and contract (loads it first; ModelNotReadyError if it cannot)."""
        manifest = self.load().manifest
        return ModelDescription(name=manifest.name, version=manifest.version, spec=manifest.model)

    # --- the model's task ---------------------------------------------------------
    @property
    def task(self) -> Task:
        """The task the model serves (loads it if needed)."""
        return self._loaded_task().task

    def embed(self, texts: list[str], *, prompt_name: str | None = None, dimensions: int | None = None,
              timings: RequestTimings | None = None) -> list[list[float]]:
        """One embedding per text, in order.

        ``prompt_name``: a key of the model's prompts (the API resolved it, ``tasks.prompts``),
        whose text is prepended to each text; ``dimensions``: a Matryoshka size (None: the model's).
        """
        task = self._loaded_task()
        return task.embed(texts, prompt=self._prompt_text(task, prompt_name), dimensions=dimensions,
                          timings=timings)

    def classify(self, texts: list[str], top_k: int | None = None, *, raw_scores: bool = False,
                 timings: RequestTimings | None = None) -> list[list[dict[str, Any]]]:
        """Per text, ``{"label", "score"}`` dicts by score, highest first; ``top_k`` of them (None: all);
        ``raw_scores``: the logits rather than softmax or sigmoid."""
        return self._loaded_task().classify(texts, top_k=top_k, raw_scores=raw_scores, timings=timings)

    def rerank(self, query: str, documents: list[str], *, raw_scores: bool = False,
               timings: RequestTimings | None = None) -> list[float]:
        """One relevance score per document, in the documents' order; ``raw_scores``: the logit."""
        return self._loaded_task().rerank(query, documents, raw_scores=raw_scores, timings=timings)

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the model reads for ``texts``, after truncation (for OpenAI's ``usage``)."""
        return self._loaded_task().count_tokens(texts)

    def token_counts(self, texts: list[str], *, truncate: bool = True) -> list[int]:
        """Tokens per text; ``truncate=False``: before truncation, so the API can refuse an
        over-long input when the client asked not to truncate."""
        return self.load().token_counts(texts, truncate=truncate)

    def tokenize(self, texts: list[str], *, add_special_tokens: bool = True, prompt_name: str | None = None,
                 timings: RequestTimings | None = None) -> list[list[dict[str, Any]]]:
        """Per text, its tokens as TEI's /tokenize gives them (``{"id", "text", "special", "start",
        "stop"}``, character offsets); with ``prompt_name``, of the prompted text, as embed reads it."""
        task = self._loaded_task()
        prompt = self._prompt_text(task, prompt_name)
        started = time.perf_counter()
        tokens = self.load().tokenize([prompt + text for text in texts], add_special_tokens=add_special_tokens)
        if timings is not None:
            timings.tokenize_ms += (time.perf_counter() - started) * 1000.0
        return tokens

    def decode(self, ids: list[list[int]], *, skip_special_tokens: bool = True,
               timings: RequestTimings | None = None) -> list[str]:
        """The text of each row of token ids (TaskInputError for an id outside the vocabulary)."""
        backend = self.load()
        started = time.perf_counter()
        texts = backend.decode(ids, skip_special_tokens=skip_special_tokens)
        if timings is not None:
            timings.tokenize_ms += (time.perf_counter() - started) * 1000.0
        return texts

    @staticmethod
    def _prompt_text(task: TaskRunner, prompt_name: str | None) -> str:
        if prompt_name is None:
            return ""
        prompts = task.manifest.model.prompts
        if prompt_name not in prompts:
            raise UnknownPromptError(f"prompt_name {prompt_name!r} is not one of this model's prompts "
                                     f"({', '.join(sorted(prompts)) or 'none'})")
        return prompts[prompt_name]

    def _loaded_task(self) -> TaskRunner:
        self.load()
        # load() sets the task with the backend, or raises.
        assert self._task is not None  # nosec B101
        return self._task
