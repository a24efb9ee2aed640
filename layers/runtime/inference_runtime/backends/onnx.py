"""ONNX Runtime (CPU, or CUDA in the GPU image) with the ``tokenizers`` library: the runtime's backend.

numpy, onnxruntime and tokenizers are imported in ``import_libraries`` so that importing
the handler stays cheap; they are only paid for on the model-loading path. This module
only imports, opens and runs: fetching and verifying the files, and running the fetch
beside ``import_libraries``, are the loader's (``inference_runtime.loading``).

The graph is run generically: it is fed the inputs it declares, from what the
tokenizer gives (``input_ids``, ``attention_mask``, ``token_type_ids``), and its output
is read by the name the manifest gives, whatever the task. Texts are truncated at the
manifest's ``max_sequence_length``; a pair (query, document) is encoded as one sequence
with the tokenizer's own pair template, truncating the longer side first, as
transformers' tokenizers do by default.

The device: ``select_device`` picks CUDA when asked for (ORT_EXECUTION_PROVIDER=cuda)
or, by default (auto), when this onnxruntime has the CUDA execution provider; the loader
then runs ``init_device`` (CUDA init, ``backends/cuda.py``) as its own phase, and on an
auto choice falls back to the CPU, with the reason in the trace, if there is no GPU.

Session choices, each measured (``make bench``, docs/cold-start.md "Load path"):
- the graph was optimised offline at build time for the provider the manifest names
  (``optimized_for``, CPU by default), so runtime optimisation is off when the session
  runs there (same inference speed, less session-creation time), and on otherwise;
- weights come as external data in a file beside the graph, verified, then opened by
  ONNX Runtime itself, which maps them rather than copying them;
- weight prepacking is on for one process per environment and off for several
  (config.resolve_prepacking: a private packed copy per process against ~30% faster
  inference; ``make bench-workers``);
- the memory arena and thread count stay at ONNX Runtime's defaults (no measurable gain).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..artifact import ManifestError
from ..tasks.errors import UnknownTokenIdError
from . import early
from .base import DeviceChoice, InferenceBackend
from .errors import BackendError
from .ort_session import SessionKey, session_options

if TYPE_CHECKING:
    from ..artifact import FileEntry, Manifest
    from ..lifecycle.timing import RequestTimings
    from .base import VerifiedPaths


# The graph inputs a tokenizer encoding can fill, and how.
TOKENIZER_INPUTS = {
    "input_ids": lambda encoding: encoding.ids,
    "attention_mask": lambda encoding: encoding.attention_mask,
    "token_type_ids": lambda encoding: encoding.type_ids,
}


class OnnxBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, manifest: Manifest, session: Any, tokenizer: Any, np: Any) -> None:
        super().__init__(manifest)
        self._session = session
        self._tokenizer = tokenizer
        self._np = np
        # The tokenizer as it is, without truncation or padding, for /tokenize and the
        # untruncated count; made on first use (most environments never need it).
        self._plain_tokenizer: Any = None
        self._plain_lock = threading.Lock()
        self._input_names = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        self._output_name = manifest.model.graph.output or outputs[0]
        unknown = [name for name in self._input_names if name not in TOKENIZER_INPUTS]
        if unknown:
            raise BackendError(f"the graph of {manifest.name} asks for input(s) {', '.join(unknown)}, which the "
                               f"tokenizer does not give (it gives {', '.join(TOKENIZER_INPUTS)}); export the model "
                               "with these tools")
        if self._output_name not in outputs:
            raise BackendError(f"the manifest of {manifest.name} names output {self._output_name!r}, the graph "
                               f"has {', '.join(outputs)}")

    @classmethod
    def from_parts(cls, manifest: Manifest, session: Any, tokenizer: Any) -> OnnxBackend:
        import numpy as np

        return cls(manifest, session, tokenizer, np)

    @classmethod
    def files(cls, manifest: Manifest) -> list[FileEntry]:
        """The graph, its external data (kept beside it) and the tokenizer."""
        if manifest.format != "onnx":
            raise ManifestError(f"{manifest.name} is in format {manifest.format!r}; this backend runs 'onnx'")
        return [_model_entry(manifest), *_data_entries(manifest), _tokenizer_entry(manifest)]

    @classmethod
    def raw_data_files(cls, manifest: Manifest) -> frozenset[str]:
        """The external data: initializers' bytes at offsets the graph names, copied, never parsed."""
        return frozenset(e.path for e in _data_entries(manifest))

    @classmethod
    def import_libraries(cls) -> None:
        import numpy  # noqa: F401
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401

    @classmethod
    def select_device(cls, execution_provider: str,
                      provider_options: Mapping[str, str] | None = None) -> DeviceChoice:
        import onnxruntime as ort

        from .cuda import cuda_provider_options, has_cuda_provider

        if execution_provider == "cpu":
            return DeviceChoice("cpu", "ORT_EXECUTION_PROVIDER=cpu")
        if has_cuda_provider(ort):
            return DeviceChoice("cuda", f"ORT_EXECUTION_PROVIDER={execution_provider} and onnxruntime "
                                        f"{ort.__version__} has the CUDA execution provider",
                                cuda_provider_options(provider_options))
        if execution_provider == "cuda":
            raise BackendError(f"ORT_EXECUTION_PROVIDER=cuda, but onnxruntime {ort.__version__} has no CUDA "
                               f"execution provider (it has {', '.join(ort.get_available_providers())}); "
                               "run the GPU image (onnxruntime-gpu), or set ORT_EXECUTION_PROVIDER=auto")
        return DeviceChoice("cpu", f"onnxruntime {ort.__version__} has no CUDA execution provider")

    @classmethod
    def init_device(cls, device: DeviceChoice) -> dict[str, Any]:
        if device.name != "cuda":
            return {}
        import onnxruntime as ort

        from .cuda import init_cuda

        return init_cuda(ort, int(device.options["device_id"]))

    @classmethod
    def open_session(cls, manifest: Manifest, paths: VerifiedPaths, *, intra_op_threads: int = 0,
                     device: DeviceChoice | None = None, prepacking: bool = True) -> Any:
        import onnxruntime as ort

        device = device or DeviceChoice("cpu", "default")
        model_entry = _model_entry(manifest)
        graph = manifest.model.graph
        from .cuda import CPU_PROVIDER, CUDA_PROVIDER

        providers: list[Any] = [CPU_PROVIDER]
        if device.name == "cuda":
            providers = [(CUDA_PROVIDER, dict(device.options)), CPU_PROVIDER]
        model_path = paths[model_entry.path]
        if any(paths[e.path] != model_path.parent / e.path for e in _data_entries(manifest)):
            raise BackendError(f"the external data of {model_entry.path} is not beside it; the cache "
                               "must lay files out as the manifest names them")
        key = SessionKey.of(model_path, model_entry.blake3 or model_entry.sha256,
                            # optimised at build time for this provider: not again here
                            optimized=bool(graph.optimization) and graph.optimized_for == device.name,
                            intra_op_threads=intra_op_threads, prepacking=prepacking,
                            providers=tuple(p if isinstance(p, str) else p[0] for p in providers))
        # Opened before the runtime's imports, exactly as it would be here (backends/early.py)?
        session = early.adopt(key)
        if session is not None:
            return session
        try:
            # From the verified files by name: ONNX Runtime maps the external weights
            # instead of copying them (measured: ~0.2 s faster, ~170 MB less memory
            # than handing it the bytes).
            session = ort.InferenceSession(str(model_path), sess_options=session_options(ort, key),
                                           providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise BackendError(f"ONNX Runtime could not load {model_entry.path}: {exc}") from exc
        if device.name == "cuda" and session.get_providers()[0] != providers[0][0]:
            # ONNX Runtime falls back to the CPU quietly when its CUDA provider cannot start.
            raise BackendError(f"ONNX Runtime created the session on {session.get_providers()} rather than "
                               "CUDA; check the CUDA and cuDNN libraries (onnxruntime-gpu's requirements)")
        return session

    @classmethod
    def describe_session(cls, session: Any, device: DeviceChoice) -> dict[str, Any]:
        described: dict[str, Any] = {"providers": list(session.get_providers()),
                                     "opened_early": early.opened_early(session)}
        if device.name == "cuda":
            from .cuda import gpu_memory_used_mb

            described["gpu_memory_used_mb"] = gpu_memory_used_mb()
        return described

    @classmethod
    def open_tokenizer(cls, manifest: Manifest, paths: VerifiedPaths) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(paths[_tokenizer_entry(manifest).path]))
        _configure_tokenizer(tokenizer, manifest)
        return tokenizer

    def run(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
            timings: RequestTimings | None = None) -> Any:
        np = self._np
        started = time.perf_counter()
        encodings = self._encode(texts, pairs)
        feeds = {name: np.asarray([TOKENIZER_INPUTS[name](e) for e in encodings], dtype=np.int64)
                 for name in self._input_names}
        tokenized = time.perf_counter()
        output = self._session.run([self._output_name], feeds)[0]
        if timings is not None:
            timings.tokenize_ms += (tokenized - started) * 1000.0
            timings.infer_ms += (time.perf_counter() - tokenized) * 1000.0
        return output

    def count_tokens(self, texts: str | Sequence[str], pairs: Sequence[str] | None = None) -> int:
        batch = [texts] if isinstance(texts, str) else texts
        return sum(sum(e.attention_mask) for e in self._encode(batch, pairs))

    def token_counts(self, texts: Sequence[str], *, truncate: bool = True) -> list[int]:
        if truncate:
            return [sum(e.attention_mask) for e in self._encode(texts, None)]
        return [len(e.ids) for e in self._plain().encode_batch(list(texts))]

    def tokenize(self, texts: Sequence[str], *, add_special_tokens: bool = True) -> list[list[dict[str, Any]]]:
        tokenized = []
        for text, encoding in zip(texts, self._plain().encode_batch(list(texts),
                                                                   add_special_tokens=add_special_tokens),
                                  strict=True):
            tokens = []
            for token_id, token, special, (start, stop) in zip(encoding.ids, encoding.tokens,
                                                               encoding.special_tokens_mask, encoding.offsets,
                                                               strict=True):
                if special:
                    # As TEI: a special token is in no part of the text, so it has no offsets.
                    tokens.append({"id": token_id, "text": token, "special": True, "start": None, "stop": None})
                else:
                    tokens.append({"id": token_id, "text": text[start:stop], "special": False,
                                   "start": start, "stop": stop})
            tokenized.append(tokens)
        return tokenized

    def decode(self, ids: Sequence[Sequence[int]], *, skip_special_tokens: bool = True) -> list[str]:
        vocabulary = self._tokenizer.get_vocab_size(with_added_tokens=True)
        for row in ids:
            for token_id in row:
                if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 <= token_id < vocabulary:
                    raise UnknownTokenIdError(f"token id {token_id!r} is not in this model's vocabulary "
                                         f"(0 to {vocabulary - 1})")
        return list(self._tokenizer.decode_batch([list(row) for row in ids], skip_special_tokens=skip_special_tokens))

    def _plain(self) -> Any:
        if self._plain_tokenizer is None:
            with self._plain_lock:
                if self._plain_tokenizer is None:
                    from tokenizers import Tokenizer

                    plain = Tokenizer.from_str(self._tokenizer.to_str())
                    plain.no_truncation()
                    plain.no_padding()
                    self._plain_tokenizer = plain
        return self._plain_tokenizer

    def _encode(self, texts: Sequence[str], pairs: Sequence[str] | None) -> list[Any]:
        if pairs is None:
            return self._tokenizer.encode_batch(list(texts))
        if len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs; give one pair per text")
        return self._tokenizer.encode_batch(list(zip(texts, pairs, strict=True)))


def _model_entry(manifest: Manifest) -> FileEntry:
    return manifest.file(manifest.model.graph.entrypoint)


def _data_entries(manifest: Manifest) -> list[FileEntry]:
    return [manifest.file(name) for name in manifest.model.graph.external_data]


def _tokenizer_entry(manifest: Manifest) -> FileEntry:
    return manifest.file(manifest.model.tokenizer.file)


def _configure_tokenizer(tokenizer: Any, manifest: Manifest) -> None:
    """Truncate at the model's length and pad to the longest input, with the model's padding token.

    tokenizer.json files often ship fixed padding (all-MiniLM-L6-v2's pads to 128) or
    none; a batch is padded to its longest input instead, with the padding token the
    export read from the model's tokenizer (``model.tokenizer``).
    """
    settings = manifest.model.tokenizer
    tokenizer.enable_truncation(max_length=settings.max_sequence_length)
    if tokenizer.token_to_id(settings.pad_token) != settings.pad_token_id:
        raise ManifestError(f"the padding token {settings.pad_token!r} (id {settings.pad_token_id}) of "
                            f"{manifest.name} is not in its tokenizer; rebuild the artifact with these tools")
    tokenizer.enable_padding(pad_id=settings.pad_token_id, pad_token=settings.pad_token)
