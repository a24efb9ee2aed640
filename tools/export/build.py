"""One model directory in, one verified artifact out.

    read the directory (task, pooling, labels...)   model_dir.py
    -> torch + transformers export to ONNX          graph.py
    -> ONNX Runtime offline optimisation            optimise_offline (below)
    -> tokenizer.json, manifest.json, verified
    -> parity against torch, run as the runtime runs it   parity.py (fails the build)
    -> the parity figures into the manifest, renamed into place

Everything is written into a temporary sibling directory and renamed into place only
once complete and checked, so an interrupted or failed build never leaves a half
artifact behind, nor replaces a good one.

Two choices make the runtime's session creation cheap (measured by ``make bench``):
the graph is optimised here, once, by the same onnxruntime version the image runs
(level EXTENDED: operator fusions that are portable across CPUs, unlike ALL's layout
transforms), so the runtime skips graph optimisation; and the weights are stored as
external data (``model.onnx.data``), which ONNX Runtime maps instead of parsing them
out of a large protobuf.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference_runtime.artifact import (
    GraphSpec,
    Manifest,
    ManifestError,
    ModelSpec,
    Task,
    TokenizerSpec,
    content_version,
    describe_files,
    sha256_file,
    verify_artifact,
    write_manifest,
)

from .errors import ExportError
from .graph import export_onnx, load_model, load_tokenizer, usable_positions
from .model_dir import ExportPlan, inspect_model
from .parity import PARITY_TEXTS, OptionsParity, ParityReport, check_options_parity, check_parity

ONNX_FILENAME = "model.onnx"
WEIGHTS_FILENAME = "model.onnx.data"
TOKENIZER_FILENAME = "tokenizer.json"
RAW_EXPORT_FILENAME = "exported.onnx"
RAW_EXPORT_DIRNAME = "raw-export"
# A model whose tokenizer and configuration name no length at all: what BERT-sized encoders read.
FALLBACK_MAX_LENGTH = 512


@dataclass(frozen=True)
class BuildResult:
    manifest: Manifest
    plan: ExportPlan
    parity: ParityReport
    #: against sentence-transformers, per prompt and Matryoshka size (empty: the model has neither)
    options_parity: tuple[OptionsParity, ...] = ()

    @property
    def spec(self) -> ModelSpec:
        """The contract the artifact's manifest carries."""
        return self.manifest.model


def build(out_dir: Path, *, model_dir: Path, name: str, version: str | None = None, task: Task | str | None = None,
          pooling: str | None = None, source: dict[str, Any] | None = None,
          prompts: Mapping[str, str] | None = None, default_prompt_name: str | None = None,
          matryoshka_dimensions: Sequence[int] | None = None) -> BuildResult:
    """Export ``model_dir`` into a verified artifact at ``out_dir``: its manifest, what was inferred, the parity.

    ``source`` adds to the manifest's ``source`` (where the weights came from); ``task`` and
    ``pooling`` override what the directory says; ``prompts`` add to (or replace by name) the
    model's sentence-transformers prompts, ``default_prompt_name`` names its default, and
    ``matryoshka_dimensions`` declares it Matryoshka-trained (nothing in a model directory says
    so reliably: sentence-transformers records MatryoshkaLoss only in the model card's prose).
    Raises ExportError (ParityError when the artifact does not match torch, or
    sentence-transformers with a prompt or a truncation), leaving ``out_dir`` as it was.
    """
    import torch
    import transformers
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()   # one bar per weight load: noise in a build log
    plan = _with_options(inspect_model(Path(model_dir), task=task, pooling=pooling), prompts, default_prompt_name)
    matryoshka = tuple(sorted({int(d) for d in matryoshka_dimensions or ()}, reverse=True))
    if matryoshka and plan.task is not Task.EMBEDDINGS:
        raise ExportError(f"Matryoshka dimensions apply to embeddings; this export is {plan.task}")
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes 0700; the image's runtime user must read it
    try:
        tokenizer = load_tokenizer(plan)
        model = load_model(plan, attn_implementation="eager")
        max_length = _max_length(plan, model)
        sample = tokenizer(list(PARITY_TEXTS[1:3]), padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt")
        # The raw export in a folder of its own: past 2 GB torch writes every tensor as a file
        # beside the graph, and none of those may end up in the artifact.
        raw_dir = staging / RAW_EXPORT_DIRNAME
        raw_dir.mkdir()
        graph_fields = export_onnx(plan, model, tokenizer, sample, raw_dir / RAW_EXPORT_FILENAME)
        del model  # the reference below is loaded afresh: never hold two copies of a large model
        ort_version = optimise_offline(raw_dir / RAW_EXPORT_FILENAME, staging / ONNX_FILENAME, WEIGHTS_FILENAME)
        shutil.rmtree(raw_dir)
        _write_tokenizer(tokenizer, staging / TOKENIZER_FILENAME)

        files = describe_files(staging, [ONNX_FILENAME, WEIGHTS_FILENAME, TOKENIZER_FILENAME])
        try:
            spec = model_spec(plan, graph_fields, max_length=max_length, pad_token=str(tokenizer.pad_token),
                              pad_token_id=int(tokenizer.pad_token_id), matryoshka_dimensions=matryoshka)
        except ManifestError as exc:
            raise ExportError(str(exc)) from exc
        provenance = {**_source(plan), **(source or {}), "model_type": plan.model_type, "onnxruntime": ort_version,
                      "exported_with": f"torch {torch.__version__}, transformers {transformers.__version__}"}
        manifest = Manifest(name=name, version=version or content_version(files), format="onnx", files=files,
                            model=spec, source=provenance)
        write_manifest(staging, manifest)
        verify_artifact(staging, manifest)

        # The reference runs the model as transformers does by default (not the eager
        # attention the graph was traced with).
        reference = load_model(plan)
        report = check_parity(plan, reference, tokenizer, staging, manifest, max_length)
        del reference
        options_parity = check_options_parity(Path(model_dir), plan, staging, manifest)
        # The build's own check, for people reading the manifest (the runtime never reads it).
        checked: dict[str, Any] = {"parity": report.to_dict()}
        if options_parity:
            checked["parity_sentence_transformers"] = [entry.to_dict() for entry in options_parity]
        manifest = Manifest(name=manifest.name, version=manifest.version, format="onnx", files=files, model=spec,
                            source={**provenance, **checked})
        write_manifest(staging, manifest)
        verify_artifact(staging, manifest)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(manifest, plan, report, tuple(options_parity))


def _with_options(plan: ExportPlan, prompts: Mapping[str, str] | None, default_prompt_name: str | None) -> ExportPlan:
    if prompts is None and default_prompt_name is None:
        return plan
    if plan.task is not Task.EMBEDDINGS:
        raise ExportError(f"prompts apply to embeddings; this export is {plan.task}")
    merged = {**plan.prompts, **{str(k): str(v) for k, v in (prompts or {}).items()}}
    default = default_prompt_name or plan.default_prompt_name
    if default is not None and default not in merged:
        raise ExportError(f"the default prompt {default!r} is not one of the prompts ({', '.join(merged) or 'none'})")
    return dataclasses.replace(plan, prompts=merged, default_prompt_name=default)


def model_spec(plan: ExportPlan, graph_fields: dict[str, Any], *, max_length: int, pad_token: str,
               pad_token_id: int, matryoshka_dimensions: tuple[int, ...] = ()) -> ModelSpec:
    """The contract the runtime reads: the plan's task fields, the exported graph, the tokenizer's settings."""
    graph = GraphSpec(entrypoint=ONNX_FILENAME, external_data=(WEIGHTS_FILENAME,),
                      inputs=tuple(graph_fields["inputs"]), output=str(graph_fields["output"]),
                      optimization="extended", optimized_for="cpu")
    tokenizer = TokenizerSpec(file=TOKENIZER_FILENAME, max_sequence_length=max_length, pad_token=pad_token,
                              pad_token_id=pad_token_id)
    common: dict[str, Any] = {"task": plan.task, "graph": graph, "tokenizer": tokenizer,
                              "architecture": plan.architecture}
    if plan.task is Task.EMBEDDINGS:
        return ModelSpec(**common, dimensions=int(graph_fields["width"]), normalize=plan.normalize,
                         pooling=plan.pooling, prompts=dict(plan.prompts), default_prompt_name=plan.default_prompt_name,
                         matryoshka_dimensions=matryoshka_dimensions)
    if plan.task is Task.CLASSIFICATION:
        if int(graph_fields["width"]) != len(plan.labels):
            raise ExportError(f"the graph gives {graph_fields['width']} logits but the model names "
                              f"{len(plan.labels)} labels")
        return ModelSpec(**common, labels=plan.labels, multi_label=plan.multi_label)
    return ModelSpec(**common, score_activation=plan.score_activation)


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


def _max_length(plan: ExportPlan, model: Any) -> int:
    """What the model was configured to read, capped by what its position embeddings cover."""
    limits = [n for n in (plan.max_sequence_length, usable_positions(model)) if n]
    if not limits:
        return FALLBACK_MAX_LENGTH
    return min(limits)


def _write_tokenizer(tokenizer: Any, path: Path) -> None:
    """The tokenizer exactly as transformers loaded it (its tokenizer.json, with any template fixes),
    without the truncation and padding it may carry: the runtime sets both from the manifest."""
    backend = tokenizer.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()
    backend.save(str(path))


def _source(plan: ExportPlan) -> dict[str, Any]:
    weights = {p.name: sha256_file(p) for p in plan.weights}
    record: dict[str, Any] = {"model_dir": plan.path.name, "weights": weights}
    if len(weights) == 1:
        record["weights_sha256"] = next(iter(weights.values()))
    return record


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` with ``staging`` so readers never see a partial directory."""
    if out_dir.exists():
        retired = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, retired)
        os.replace(staging, out_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


__all__ = ["BuildResult", "ExportError", "build", "model_spec", "optimise_offline"]
