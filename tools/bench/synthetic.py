"""Big encoders with random weights, built through the project's own export into build/artifacts/.

    python -m tools.bench.synthetic [bert-large-random] [xlmr-large-random] [--force]

A cold start reads, hashes and deserialises bytes; it does not depend on their values. So
the sizes bench needs no download: a model directory is made from a transformers config
(BERT-large: 24 layers of 1024, ~1.3 GB in float32; XLM-R-large: the same encoder with a
250,002-token embedding, ~2.2 GB), its weights drawn at random (seeded), and exported by
``tools.export.build`` exactly as ``make artifact MODEL=dir`` would (manifest, sha256s,
external data, the parity check against torch). The tokenizer is all-MiniLM-L6-v2's (the
BERT uncased WordPiece, the package's files): BERT-large uses that vocabulary; XLM-R's
SentencePiece tokenizer ships in no package here, so its model keeps its own vocabulary
size (the embedding's bytes are what matter) and reads MiniLM's ids, all below 30,522.

A built artifact is kept, and so is its model directory (build/models/<name>, which the naive
handler loads): a model whose manifest exists is not built again (minutes each).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "build" / "artifacts"
MODELS_DIR = REPO_ROOT / "build" / "models"
# The tokenizer files transformers needs to load MiniLM's tokenizer as a fast one.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
SEED = 16


@dataclass(frozen=True)
class SyntheticModel:
    name: str
    model_type: str
    config: dict[str, Any]
    description: str


# The published models' configurations (bert-large-uncased, xlm-roberta-large), written out so
# that nothing is fetched from a hub.
SYNTHETIC_MODELS = {
    model.name: model for model in (
        SyntheticModel("bert-large-random", "bert", {
            "vocab_size": 30522, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
            "intermediate_size": 4096, "max_position_embeddings": 512, "type_vocab_size": 2,
        }, "BERT-large's configuration, random weights (~1.3 GB)"),
        SyntheticModel("xlmr-large-random", "xlm-roberta", {
            "vocab_size": 250002, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
            "intermediate_size": 4096, "max_position_embeddings": 514, "type_vocab_size": 1,
            # Token ids, not secrets (bandit reads a key ending in "_token_id" as a password's name).
            "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,  # nosec B105
        }, "XLM-R-large's configuration, random weights (~2.2 GB)"),
    )
}


def artifact_dir(name: str) -> Path:
    return ARTIFACTS_DIR / name


def is_built(name: str) -> bool:
    return (artifact_dir(name) / "manifest.json").is_file()


def tokenizer_source() -> Path:
    from tools.export import packaged_model_dir

    return packaged_model_dir("all-MiniLM-L6-v2")


def write_model_dir(model: SyntheticModel, directory: Path) -> None:
    """A Hugging Face model directory: config, random safetensors weights, MiniLM's tokenizer files."""
    import torch
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(SEED)
    config = AutoConfig.for_model(model.model_type, **model.config)
    network = AutoModel.from_config(config)
    network.save_pretrained(directory, safe_serialization=True)
    del network
    source = tokenizer_source()
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, directory / name)


def model_dir(name: str) -> Path:
    """The Hugging Face directory of ``name``'s random weights: the export's input, the naive handler's model."""
    return MODELS_DIR / name


def ensure_model_dir(model: SyntheticModel) -> Path:
    """The model directory, written when missing (seeded: the same weights every time)."""
    directory = model_dir(model.name)
    if (directory / "config.json").is_file() and any(directory.glob("*.safetensors")):
        return directory
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=MODELS_DIR))
    try:
        write_model_dir(model, staging)
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def build_one(model: SyntheticModel, *, force: bool = False) -> Path:
    """The artifact of ``model`` in build/artifacts/<name>, built when missing (or ``force``)."""
    out = artifact_dir(model.name)
    if is_built(model.name) and not force:
        return out
    from tools.export import build

    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = build(out, model_dir=ensure_model_dir(model), name=model.name,
                   source={"synthetic": model.description, "seed": SEED, "config": model.config,
                           "tokenizer": "all-MiniLM-L6-v2's"})
    total = sum(entry.size for entry in result.manifest.files)
    print(f"built {model.name}: {total / 2**20:.0f} MiB in {time.perf_counter() - started:.0f} s -> {out}",
          flush=True)
    return out


def ensure(names: list[str] | None = None, *, model_dirs: bool = False) -> dict[str, Path]:
    """Build the artifacts missing among ``names`` (None: all; and their model directories, with ``model_dirs``),
    each in a child process, so that its memory is returned before the bench measures anything."""
    import subprocess  # nosec B404: a fixed argument list of this interpreter, never a shell

    paths = {}
    for name in list(SYNTHETIC_MODELS) if names is None else names:
        missing_dir = model_dirs and not (model_dir(name) / "config.json").is_file()
        if not is_built(name) or missing_dir:
            print(f"building the synthetic model {name} (minutes; kept in build/artifacts, build/models)",
                  flush=True)
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
            subprocess.run([sys.executable, "-m", "tools.bench.synthetic", name], cwd=REPO_ROOT,  # nosec B603
                           env=env, check=True)
        paths[name] = artifact_dir(name)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(SYNTHETIC_MODELS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="build again even when the manifest exists")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in SYNTHETIC_MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}: use {', '.join(SYNTHETIC_MODELS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    for name in args.names or list(SYNTHETIC_MODELS):
        path = build_one(SYNTHETIC_MODELS[name], force=args.force)
        ensure_model_dir(SYNTHETIC_MODELS[name])
        manifest = json.loads((path / "manifest.json").read_text())
        print(f"{name}: {sum(f['size'] for f in manifest['files']) / 2**20:.0f} MiB in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
