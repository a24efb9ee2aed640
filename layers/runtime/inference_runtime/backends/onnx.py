"""ONNX Runtime on CPU with the ``tokenizers`` library: the runtime backend of the image.

numpy, onnxruntime and tokenizers are imported inside ``load`` so that importing the
handler stays cheap; they are only paid for on the model-loading path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact import ManifestError, read_verified
from .base import EmbeddingBackend
from .errors import BackendError

if TYPE_CHECKING:
    from ..artifact import Manifest
    from ..lifecycle import PhaseTrace


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
    def load(cls, artifact_dir: Path, manifest: "Manifest", *, trace: "PhaseTrace",
             intra_op_threads: int = 0) -> "OnnxEmbeddingBackend":
        if manifest.format != "onnx":
            raise ManifestError(f"{manifest.name} is in format {manifest.format!r}; this backend runs 'onnx'")
        model_entry = manifest.file(manifest.model.get("entrypoint", "model.onnx"))
        tokenizer_entry = manifest.file(manifest.model.get("tokenizer", "tokenizer.json"))

        with trace.phase("import_backend"):
            import numpy as np
            import onnxruntime as ort
            from tokenizers import Tokenizer

        # Read each file once and hash the very bytes we hand to the loaders: nothing
        # reaches ONNX Runtime or the tokenizer without matching the manifest.
        with trace.phase("verify_artifact") as attrs:
            model_bytes = read_verified(artifact_dir / model_entry.path, size=model_entry.size,
                                        sha256=model_entry.sha256)
            tokenizer_bytes = read_verified(artifact_dir / tokenizer_entry.path, size=tokenizer_entry.size,
                                            sha256=tokenizer_entry.sha256)
            attrs["bytes"] = len(model_bytes) + len(tokenizer_bytes)

        with trace.phase("load_tokenizer"):
            tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
            max_len = int(manifest.model.get("max_sequence_length", 256))
            # tokenizer.json ships fixed padding to 128; pad to the longest input instead.
            tokenizer.enable_truncation(max_length=max_len)
            tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")

        with trace.phase("create_session") as attrs:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if intra_op_threads:
                options.intra_op_num_threads = intra_op_threads
            try:
                session = ort.InferenceSession(model_bytes, sess_options=options,
                                               providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise BackendError(f"ONNX Runtime could not load {model_entry.path}: {exc}") from exc
            attrs["providers"] = session.get_providers()
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
