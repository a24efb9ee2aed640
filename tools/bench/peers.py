"""The libraries people use instead of the template, laid out to run on the same weights.

fastembed runs in its own venv (.venv-peers, Python 3.11 like the probes' interpreter, the
same onnxruntime as ours), made by ``make bench-sizes`` / ``make bench``'s target and never
by ``make setup``: it pins other versions of our dependencies, and the tests must not
depend on it. Without that venv the benches print why and leave the peer's rows out.

``fastembed_dir`` lays out what fastembed loads (tools/bench/fastembed_handler.py): the
artifact's graph, external weights and tokenizer, hard-linked (no copy of gigabytes, and
onnxruntime >= 1.24 refuses external data that resolves outside the model's directory,
which a symlink would), plus the tokenizer's configuration files fastembed requires
(tokenizer_config.json, special_tokens_map.json), taken from the model's source directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PEERS_VENV = REPO_ROOT / ".venv-peers"
PEERS_DIR = REPO_ROOT / "build" / "peers"
FASTEMBED_VERSION = "0.9.1"
# From the artifact: what the graph and the tokenizer are, and the manifest (the handler reads the width).
ARTIFACT_FILES = ("model.onnx", "model.onnx.data", "tokenizer.json", "manifest.json")
# From the model's Hugging Face directory: fastembed reads the tokenizer's settings there.
CONFIG_FILES = ("tokenizer_config.json", "special_tokens_map.json", "config.json")


def peers_python() -> Path | None:
    """The peers venv's interpreter when fastembed is installed in it, else None."""
    python = PEERS_VENV / "bin" / "python"
    if not python.is_file():
        return None
    if not list((PEERS_VENV / "lib").glob(f"python3*/site-packages/fastembed-{FASTEMBED_VERSION}.dist-info")):
        return None
    return python


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system: copy (once; the layout is kept)
        shutil.copyfile(source, target)


def fastembed_dir(artifact_dir: Path, config_dir: Path, out_root: Path = PEERS_DIR) -> Path:
    """build/peers/<artifact name>: the artifact's files linked, the tokenizer's configuration copied.

    Re-laid on every call (cheap: links), so a rebuilt artifact is never read through stale links.
    """
    missing = [name for name in ARTIFACT_FILES if not (artifact_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{artifact_dir} lacks {', '.join(missing)}: build the artifact first")
    if not (config_dir / "tokenizer_config.json").is_file():
        raise FileNotFoundError(f"{config_dir} has no tokenizer_config.json, which fastembed requires")
    out = out_root / artifact_dir.name
    out.mkdir(parents=True, exist_ok=True)
    for name in ARTIFACT_FILES:
        _link(artifact_dir / name, out / name)
    for name in CONFIG_FILES:
        if (config_dir / name).is_file():
            shutil.copyfile(config_dir / name, out / name)
    return out
