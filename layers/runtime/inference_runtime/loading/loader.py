"""The one loader: registry -> verified manifest -> verified files -> backend -> task -> warm-up.

``ModelLoader.load()`` owns the sequence and records every step as an init phase
(``lifecycle.phases.InitPhase``); the cache only fetches and verifies, a backend only
imports, opens and runs, and neither knows the other.

Loading overlaps its slow parts. Reading and hashing files releases the GIL, and so
does creating the session, so:

    fetch thread:   files through the cache ─┐ graph + tokenizer verified (bundled weights: located)
    load thread:    import numpy/onnxruntime ─> [CUDA init] ─┴─> create session ──┬─> warm-up
    fetch thread:                                  hash the bundled weights ──────┘
    tokenizer:                                     load the tokenizer ────────────┘
    caller:                  (wait on .imported) import the HTTP layer

Every file a library parses (the graph, the tokenizer) is verified before it is opened.
The weights bundled in the image are raw tensor bytes that ONNX Runtime maps and copies
but never parses; the image's files cannot change while the environment runs, so they
are hashed while the session is created from them, and nothing runs on the session (not
even warm-up) until their sha256 matched: a mismatch discards the session and the load
fails as before. Files fetched into /tmp (S3, a mounted file system) were verified
while they were fetched, before the session opens them. At 87 MB of weights the hash
fits inside the imports anyway; at 2 GB it is most of the difference (``make bench-sizes``).

Imports hold the GIL, so two threads importing at once only take turns: the caller
waits on the loader's ``imported`` event and does its own imports while the session
is created.

Where the files come from is the cache's business: ``cache_for`` turns the registry
entry into a cache (its URI picks the source, the disk tier sizes itself, a source
with a client registers its SnapStart restore work itself).

The cache is kept across loads, so a retry after a failed load reuses every file
already verified.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..backends import BackendError, backend_for
from ..backends.base import DeviceChoice
from ..cache import FetchStats, ModelCache, cache_for
from ..lifecycle.phases import InitPhase
from ..registry import resolve_model

if TYPE_CHECKING:
    from pathlib import Path

    from ..artifact import FileEntry, Manifest
    from ..backends.base import InferenceBackend, VerifiedPaths
    from ..config import RuntimeConfig
    from ..lifecycle import PhaseTrace
    from ..tasks import TaskRunner


@dataclass
class LoadedModel:
    """What a load gives the service: the task over the backend, the backend, and what warm-up measured."""

    task: TaskRunner
    #: the same backend the task runs over, as the full InferenceBackend (the task sees only a GraphRunner)
    backend: InferenceBackend
    warmup_results: list[dict[str, Any]] = field(default_factory=list)


class ModelLoader:
    """Loads the model ``config`` names, recording each step in ``trace``."""

    def __init__(self, config: RuntimeConfig, trace: PhaseTrace) -> None:
        self.config = config
        self.trace = trace
        #: Set once the backend's libraries are imported, or once a load gave up before that:
        #: the caller imports its own modules after it (imports only take turns under the GIL).
        self.imported = threading.Event()
        self._cache: ModelCache | None = None

    def load(self) -> LoadedModel:
        """Load, verify, open and warm the model; sets ``imported`` once the backend is imported.

        Raises ArtifactError (manifest, integrity, fetch), BackendError, ConfigError,
        OSError or ImportError; nothing unverified is ever opened.
        """
        try:
            return self._load()
        finally:
            self.imported.set()  # a load that failed before the imports must not leave the caller waiting

    def _load(self) -> LoadedModel:
        trace = self.trace
        with trace.phase(InitPhase.READ_MANIFEST) as attrs:
            manifest, cache = self._open_model()
            attrs.update(model=manifest.name, version=manifest.version, format=manifest.format,
                         source=cache.source.name)
        backend_type = backend_for(manifest.format, self.config)
        entries = backend_type.files(manifest)
        raw = backend_type.raw_data_files(manifest)

        # The fetch thread hands over the files the session opens (`located`), then hashes
        # the raw weights read in place; see the module docstring.
        located: _Result[dict[str, Path]] = _Result()
        fetch = _Background(self._fetch_all, cache, entries, raw, located, name="verify")
        try:
            with trace.phase(InitPhase.IMPORT_BACKEND):
                backend_type.import_libraries()
        finally:
            self.imported.set()
        try:
            device = self._open_device(backend_type)
            with trace.phase(InitPhase.AWAIT_VERIFICATION):
                paths = located.get()
            # Creating the session releases the GIL; the tokenizer and the caller's imports
            # hold it. So the tokenizer loads on another thread, taking turns with the
            # caller's imports, while this thread creates the session: both fit inside it.
            # It starts once this thread is about to enter ONNX Runtime: loading tokenizer.json
            # holds the GIL throughout (Rust), and begun first it kept the session from
            # starting for its whole 20-60 ms (measured, the trace's gap before create_session).
            session_starting = threading.Event()
            tokenizer_pending = _Background(self._open_tokenizer, backend_type, manifest, paths, session_starting,
                                            name="tokenizer")
            with trace.phase(InitPhase.CREATE_SESSION) as attrs:
                session_starting.set()
                session = backend_type.open_session(manifest, paths, intra_op_threads=self.config.intra_op_threads,
                                                    device=device, prepacking=self.config.prepacking)
                attrs.update(backend_type.describe_session(session, device), device=device.name,
                             device_reason=device.reason, prepacking=self.config.prepacking,
                             worker_processes=self.config.worker_processes)
            tokenizer = tokenizer_pending.result()
        finally:
            # Whatever happened above, the fetch thread has ended before the load returns or raises.
            with trace.phase(InitPhase.AWAIT_VERIFICATION):
                fetch.result()  # IntegrityError when the weights did not match: the session is dropped
        # Imported here rather than at the top: nothing before the session needs them, and
        # imports before it are on the cold start's path (the caller's during it are not).
        from ..lifecycle.environment import init_type
        from ..tasks import task_for
        from .warmup import iterations_for, run_warmup

        backend = backend_type.from_parts(manifest, session, tokenizer)
        task = task_for(manifest, backend)  # ManifestError when the task's fields are wrong
        # Ready means warmed (where warm-up runs: iterations_for): /health turns 200 only after this.
        iterations = iterations_for(self.config.warmup_iterations, device=device.name, initialization_type=init_type(),
                                    worker_processes=self.config.worker_processes)
        warmup_results = run_warmup(
            backend, trace, batch_sizes=self.config.warmup_batch_sizes,
            sequence_lengths=self.config.warmup_sequence_lengths, iterations=iterations,
        )
        return LoadedModel(task, backend, warmup_results)

    def _open_device(self, backend_type: type[InferenceBackend]) -> DeviceChoice:
        """The device the session runs on; a GPU's CUDA init is its own phase.

        With ORT_EXECUTION_PROVIDER=auto, a CUDA provider without a usable GPU falls back to
        the CPU (the reason is in the trace); with cuda, it is an error (the model is not ready).
        """
        device = backend_type.select_device(self.config.execution_provider, self.config.cuda_provider_options)
        if device.name == "cpu":
            return device
        with self.trace.phase(InitPhase.CUDA_INIT) as attrs:
            try:
                attrs.update(backend_type.init_device(device))
            except BackendError as exc:
                if self.config.execution_provider != "auto":
                    raise
                attrs["fallback"] = f"cpu: {exc}"
                return DeviceChoice("cpu", f"auto: no usable GPU ({exc})")
        return device

    def _open_tokenizer(self, backend_type: type[InferenceBackend], manifest: Manifest, paths: VerifiedPaths,
                        after: threading.Event) -> Any:
        after.wait()
        with self.trace.phase(InitPhase.LOAD_TOKENIZER):
            return backend_type.open_tokenizer(manifest, paths)

    def _fetch_all(self, cache: ModelCache, entries: list[FileEntry], raw: frozenset[str],
                   located: _Result[dict[str, Path]]) -> None:
        """Every file through the cache, with what each tier did in the trace (runs on the fetch thread).

        Hands the paths over through ``located`` as soon as the session may open them: every
        file verified, except raw weights held in place, which are hashed after that.
        """
        with self.trace.phase(InitPhase.FETCH_ARTIFACT) as attrs:
            paths: dict[str, Path] = {}
            stats = {entry.path: FetchStats() for entry in entries}
            in_place = []
            try:
                for entry in entries:
                    path = cache.locate_in_place(entry, stats[entry.path]) if entry.path in raw else None
                    if path is None:
                        path = cache.get(entry, stats[entry.path])
                    else:
                        in_place.append(entry)
                    paths[entry.path] = path
            except BaseException as exc:
                located.fail(exc)
                raise
            located.set(paths)
            for entry in in_place:
                cache.verify_in_place(entry, stats[entry.path])
            attrs["bytes"] = sum(e.size for e in entries)
            attrs["files"] = [s.to_dict() for s in stats.values()]

    def _open_model(self) -> tuple[Manifest, ModelCache]:
        """The registry's entry for MODEL_NAME: its verified manifest and the cache to read it through.

        MODEL_NAME is the registry key: it chooses the entry (where the model lives, which
        manifest sha256 is pinned). The manifest's ``name`` is the artifact's own, written
        by the build; a registry key may differ from it (``all-MiniLM-L6-v2-remote`` for
        the published ``all-MiniLM-L6-v2``), and responses name the artifact. What binds the
        two is the registry's pin of the manifest's sha256 (remote) or the image (bundled).
        """
        config = self.config
        entry = resolve_model(config.model_registry, config.model_name)
        if self._cache is None:
            self._cache = cache_for(entry, config)
        # The registry requires a pinned manifest sha256 for a remote entry (None: bundled).
        return self._cache.source.read_manifest(entry.manifest_sha256), self._cache


T = TypeVar("T")


class _Result(Generic[T]):
    """A value one thread hands another, or the exception that stopped it."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def set(self, value: T) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def get(self) -> T:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set() ran


class _Background(Generic[T]):
    """``fn(*args)`` on its own thread; ``result()`` joins it and returns or re-raises.

    A thread rather than concurrent.futures: the loader needs only this, and that module
    costs ~4 ms of imports on the cold path.
    """

    def __init__(self, fn: Callable[..., T], *args: Any, name: str) -> None:
        self._result: _Result[T] = _Result()
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._result.set(fn(*args))
        except BaseException as exc:  # handed to the caller of result()
            self._result.fail(exc)

    def result(self) -> T:
        return self._result.get()
