"""ONNX Runtime on CPU with the ``tokenizers`` library: the runtime backend of the image.

numpy, onnxruntime and tokenizers are imported inside ``load`` so that importing the
handler stays cheap; they are only paid for on the model-loading path.

Loading overlaps its two slow halves. Reading and hashing the artifact's files
releases the GIL, and so does creating the session, so:

    fetch thread:   every file through the cache ─┐  (read or fetch, sha256)
    load thread:    import numpy/onnxruntime ─────┴─> tokenizer ─> create session
    caller:                          (on_imported) import the HTTP layer

Imports hold the GIL, so two threads importing at once only take turns: the caller
waits for ``on_imported`` and does its own imports while the session is created.

Session choices, each measured (``make bench``, README "Load path"):
- the graph was optimised offline at build time, so runtime optimisation is off
  (same inference speed, less session-creation time);
- weights come as external data in a file beside the graph, verified, then opened by
  ONNX Runtime itself, which maps them rather than copying them;
- weight prepacking stays on: turning it off saves about 30 ms of session creation but
  makes every inference about 60% slower;
- the memory arena and thread count stay at ONNX Runtime's defaults (no measurable gain).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact import FileEntry, ManifestError
from ..lifecycle.phases import InitPhase
from .base import EmbeddingBackend
from .errors import BackendError

if TYPE_CHECKING:
    from ..artifact import Manifest
    from ..lifecycle import PhaseTrace
    from .base import FileReader


def _fetch_all(files: "FileReader", entries: list[FileEntry], trace: "PhaseTrace") -> dict[str, Path]:
    """Every file through the cache, with what each tier did in the trace."""
    with trace.phase(InitPhase.FETCH_ARTIFACT) as attrs:
        paths, per_file = {}, []
        for entry in entries:
            stats: dict[str, Any] = {}
            paths[entry.path] = files(entry, stats)
            per_file.append({k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()})
        attrs["bytes"] = sum(e.size for e in entries)
        attrs["files"] = per_file
    return paths


class OnnxEmbeddingBackend(EmbeddingBackend):
    name = "onnxruntime-cpu"

    def __init__(self, manifest: "Manifest", session: Any, tokenizer: Any, np: Any) -> None:
        super().__init__(manifest)
        self._session = session
        self._tokenizer = tokenizer
        self._np = np
        self._input_names = [i.name for i in session.get_inputs()]
        self._output_name = manifest.model.get("output") or session.get_outputs()[0].name

    @classmethod
    def load(cls, manifest: "Manifest", *, files: "FileReader", trace: "PhaseTrace",
             intra_op_threads: int = 0, on_imported: Callable[[], None] | None = None) -> "OnnxEmbeddingBackend":
        if manifest.format != "onnx":
            raise ManifestError(f"{manifest.name} is in format {manifest.format!r}; this backend runs 'onnx'")
        model_entry = manifest.file(manifest.model.get("entrypoint", "model.onnx"))
        data_entries = [manifest.file(name) for name in manifest.model.get("external_data", [])]
        tokenizer_entry = manifest.file(manifest.model.get("tokenizer", "tokenizer.json"))

        # Nothing reaches ONNX Runtime or the tokenizer unless its bytes matched the
        # manifest just before (files in the read-only image, or written by this process
        # into /tmp); the hashing runs beside the imports rather than before them.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") as pool:
            pending = pool.submit(_fetch_all, files, [model_entry, *data_entries, tokenizer_entry], trace)
            with trace.phase(InitPhase.IMPORT_BACKEND):
                import numpy as np
                import onnxruntime as ort
                from tokenizers import Tokenizer
            if on_imported is not None:
                on_imported()
            with trace.phase(InitPhase.AWAIT_VERIFICATION):
                paths = pending.result()

        with trace.phase(InitPhase.CREATE_SESSION) as attrs:
            options = ort.SessionOptions()
            if manifest.model.get("graph_optimization"):
                # Optimised at build time by the same onnxruntime version: skip it here.
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            else:
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if intra_op_threads:
                options.intra_op_num_threads = intra_op_threads
            model_path = paths[model_entry.path]
            if any(paths[e.path] != model_path.parent / e.path for e in data_entries):
                raise BackendError(f"the external data of {model_entry.path} is not beside it; the cache "
                                   "must lay files out as the manifest names them")
            try:
                # From the verified files by name: ONNX Runtime maps the external weights
                # instead of copying them (measured: ~0.2 s faster, ~170 MB less memory
                # than handing it the bytes).
                session = ort.InferenceSession(str(model_path), sess_options=options,
                                               providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise BackendError(f"ONNX Runtime could not load {model_entry.path}: {exc}") from exc
            attrs["providers"] = session.get_providers()
        # After the session: creating it releases the GIL, the tokenizer does not, so the
        # caller's imports overlap the session instead of waiting for the tokenizer.
        with trace.phase(InitPhase.LOAD_TOKENIZER):
            tokenizer = Tokenizer.from_file(str(paths[tokenizer_entry.path]))
            max_len = int(manifest.model.get("max_sequence_length", 256))
            # tokenizer.json ships fixed padding to 128; pad to the longest input instead.
            tokenizer.enable_truncation(max_length=max_len)
            # (bandit takes pad_token for a password: it is BERT's padding token.)
            tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")  # nosec B106

        return cls(manifest, session, tokenizer, np)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        np = self._np
        encodings = self._tokenizer.encode_batch(list(texts))
        feeds = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        outputs = self._session.run([self._output_name], {k: feeds[k] for k in self._input_names})
        return outputs[0].tolist()

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)
