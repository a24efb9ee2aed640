"""Numerical parity inside the build: the artifact, run as the runtime runs it, against torch.

The candidate side is the runtime itself: ``inference_runtime``'s ONNX backend opens
the staged artifact from its verified files (the optimised graph, with its tokenizer
configured from the manifest: truncation, padding token) and runs the fixed texts as
one padded batch. The reference is the model as transformers runs it in torch, with
its default attention, each text on its own (no padding), tokenized by
transformers' tokenizer at the same maximum length, and pooled and normalised in
numpy here, independently of the graph's own pooling. So a difference in export,
offline optimisation, attention, padding, truncation, pair encoding or pooling shows.

Thresholds, chosen from what the builds printed (docs/models.md, "Parity, checked in every build"):

- embeddings: cosine similarity >= 0.9999 for every text. Measured: 0.999999999999 for
  all-MiniLM-L6-v2 and all-mpnet-base-v2 (max |diff| 1.7e-7 and 2.0e-7) and 1.0 to 12
  digits for every tiny model: float32 rounding, eight orders of magnitude inside the
  bound, so other CPUs and ONNX Runtime kernels fit too. Export faults injected in the
  tests (tests/unit/test_export_parity.py) measured 0.903 (CLS pooled where the model
  says mean) and 0.972 (padding pooled as if it were text): far outside.
- classification and reranking: max |logit difference| <= 1e-3 over every text (or
  pair), and the same top label for every text. Measured: at most 1.0e-6 (the tiny
  models, whose logits are of order 1); logits are unnormalised, so an absolute bound,
  a thousand times the measured error and still far below what changes a softmax or
  sigmoid score in its third decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference_runtime.artifact.spec import Task

from .errors import ParityError

if TYPE_CHECKING:
    from inference_runtime.artifact import Manifest

    from .model_dir import ExportPlan

MIN_COSINE = 0.9999
MAX_LOGIT_DIFF = 1e-3

# Fixed texts: short and long (past any model's maximum length, so truncation is checked),
# empty, punctuation, accents, CJK, emoji, digits, and mixed case.
PARITY_TEXTS = (
    "hello world",
    "A man is eating food.",
    "The quick brown fox jumps over the lazy dog while the cat watches from the window sill.",
    "",
    "Ünïcödé, accents — and « punctuation »!?",
    "東京は日本の首都です。 🚀 emoji too",
    "Version 3.14 was released on 2026-11-22 at 09:30 UTC; see issue #8.",
    "UPPER lower MiXeD",
    " ".join(f"word{i} appears in a very long document that goes on and on" for i in range(120)),
)
PARITY_QUERY = "how do serverless functions start quickly?"
PARITY_DOCUMENTS = (
    "Cold starts are reduced by exporting the model to ONNX at build time.",
    "The weather in Paris is mild in spring.",
    "",
    "Provisioned concurrency keeps execution environments initialised before requests arrive.",
    "東京は日本の首都です。",
    " ".join("serverless inference cold start latency" for _ in range(150)),
)


@dataclass(frozen=True)
class ParityReport:
    """What the build measured, as written into the manifest."""

    task: Task
    metric: str            # "min_cosine" or "max_abs_logit_diff"
    value: float
    threshold: float
    inputs: int
    max_abs_diff: float
    top_label_agreement: float | None = None

    @property
    def passed(self) -> bool:
        label_ok = self.top_label_agreement is None or self.top_label_agreement == 1.0
        if self.metric == "min_cosine":
            return self.value >= self.threshold and label_ok
        return self.value <= self.threshold and label_ok

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "reference": "torch (transformers, each input unpadded)",
            "candidate": "this artifact through inference_runtime's ONNX backend (one padded batch)",
            "inputs": self.inputs, self.metric: _round(self.value), "threshold": self.threshold,
            "max_abs_diff": _round(self.max_abs_diff),
        }
        if self.top_label_agreement is not None:
            record["top_label_agreement"] = self.top_label_agreement
        return record

    def summary(self) -> str:
        comparison = ">=" if self.metric == "min_cosine" else "<="
        text = (f"parity ({self.task}, {self.inputs} inputs): {self.metric} {_round(self.value)} "
                f"(threshold {comparison} {self.threshold}), max |diff| {_round(self.max_abs_diff)}")
        if self.top_label_agreement is not None:
            text += f", same top label {self.top_label_agreement:.0%}"
        return text


def _round(value: float) -> float:
    return float(f"{value:.12g}")


def check_parity(plan: ExportPlan, model: Any, tokenizer: Any, artifact_dir: Path, manifest: Manifest,
                 max_length: int) -> ParityReport:
    """Measure parity; raise ParityError (with the figures) if it does not hold."""
    import numpy as np

    texts, pairs = _inputs(plan)
    candidate = np.asarray(_run_artifact(artifact_dir, manifest, texts, pairs), dtype=np.float64)
    reference = np.asarray(_run_reference(plan, model, tokenizer, texts, pairs, max_length), dtype=np.float64)
    if candidate.shape != reference.shape:
        raise ParityError(f"the artifact gives outputs of shape {candidate.shape}, torch {reference.shape}")
    max_abs = float(np.abs(candidate - reference).max())
    if plan.task is Task.EMBEDDINGS:
        cosines = (candidate * reference).sum(axis=1) / (
            np.linalg.norm(candidate, axis=1) * np.linalg.norm(reference, axis=1))
        report = ParityReport(plan.task, "min_cosine", float(cosines.min()), MIN_COSINE, len(texts), max_abs)
    else:
        agreement = None
        if plan.task is Task.CLASSIFICATION:
            agreement = float((candidate.argmax(axis=1) == reference.argmax(axis=1)).mean())
        report = ParityReport(plan.task, "max_abs_logit_diff", max_abs, MAX_LOGIT_DIFF, len(texts), max_abs,
                              agreement)
    if not report.passed:
        raise ParityError(f"the exported model does not match torch: {report.summary()}. Nothing was written; "
                          "the export, the optimisation or the tokenizer settings change what the model computes")
    return report


def _inputs(plan: ExportPlan) -> tuple[list[str], list[str] | None]:
    if plan.task is Task.RERANKING:
        return [PARITY_QUERY] * len(PARITY_DOCUMENTS), list(PARITY_DOCUMENTS)
    return list(PARITY_TEXTS), None


def _run_artifact(artifact_dir: Path, manifest: Manifest, texts: list[str], pairs: list[str] | None) -> Any:
    # The runtime's backend, opened from the files just verified, as the loader opens it.
    return _open_backend(artifact_dir, manifest).run(texts, pairs)


def _run_reference(plan: ExportPlan, model: Any, tokenizer: Any, texts: list[str], pairs: list[str] | None,
                   max_length: int) -> Any:
    import numpy as np
    import torch

    rows = []
    with torch.inference_mode():
        for index, text in enumerate(texts):
            # A batch of one: transformers drops an empty second text given alone ("" is
            # falsy), but keeps it in a batch, as the runtime and CrossEncoder.predict do.
            args = ([text],) if pairs is None else ([text], [pairs[index]])
            encoded = tokenizer(*args, truncation=True, max_length=max_length, return_tensors="pt")
            feeds = {k: v for k, v in encoded.items() if k in ("input_ids", "attention_mask", "token_type_ids")
                     and k in _accepted(model)}
            if plan.task is not Task.EMBEDDINGS:
                rows.append(model(**feeds).logits[0].numpy())
                continue
            hidden = model(**feeds)[0][0].numpy().astype(np.float64)     # (tokens, hidden): no padding
            pooled = np.concatenate([_pool_reference(hidden, mode) for mode in plan.pooling])
            if plan.normalize:
                pooled = pooled / max(np.linalg.norm(pooled), 1e-12)
            rows.append(pooled)
    return np.stack(rows)


def _accepted(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _pool_reference(hidden: Any, mode: str) -> Any:
    """sentence-transformers' pooling of one unpadded sequence, in numpy."""
    import numpy as np

    if mode == "cls":
        return hidden[0]
    if mode == "mean":
        return hidden.mean(axis=0)
    if mode == "mean_sqrt_len_tokens":
        return hidden.sum(axis=0) / np.sqrt(hidden.shape[0])
    if mode == "max":
        return hidden.max(axis=0)
    if mode == "weightedmean":
        weights = np.arange(1, hidden.shape[0] + 1, dtype=np.float64)[:, None]
        return (hidden * weights).sum(axis=0) / weights.sum()
    if mode == "lasttoken":
        return hidden[-1]
    raise ParityError(f"no reference for pooling mode {mode!r}")


@dataclass(frozen=True)
class OptionsParity:
    """One prompt or Matryoshka size: the runtime's embeddings against sentence-transformers' ``encode``."""

    prompt_name: str | None
    dimensions: int | None
    min_cosine: float
    max_abs_diff: float
    inputs: int

    @property
    def passed(self) -> bool:
        return self.min_cosine >= MIN_COSINE

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_name": self.prompt_name, "dimensions": self.dimensions, "inputs": self.inputs,
                "min_cosine": _round(self.min_cosine), "threshold": MIN_COSINE,
                "max_abs_diff": _round(self.max_abs_diff)}

    def summary(self) -> str:
        what = f"prompt {self.prompt_name!r}" if self.prompt_name is not None else f"dimensions {self.dimensions}"
        return (f"parity with sentence-transformers ({what}, {self.inputs} inputs): min_cosine "
                f"{_round(self.min_cosine)}, max |diff| {_round(self.max_abs_diff)}")


def check_options_parity(model_dir: Path, plan: ExportPlan, artifact_dir: Path,
                         manifest: Manifest) -> list[OptionsParity]:
    """Each prompt, and each Matryoshka size, as the runtime serves it against sentence-transformers'
    ``encode(..., prompt_name=..., truncate_dim=..., normalize_embeddings=...)``; ParityError if one differs.

    The reference is sentence-transformers itself (not the numpy one above): what a user of the
    model compares with. Empty when the model has neither prompts nor Matryoshka sizes.
    """
    spec = manifest.model
    checks: list[tuple[str | None, int | None]] = [(name, None) for name in sorted(spec.prompts)]
    checks += [(None, size) for size in spec.matryoshka_dimensions]
    if spec.task is not Task.EMBEDDINGS or not checks:
        return []
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from inference_runtime.tasks import task_for

    reference_model = SentenceTransformer(str(model_dir), device="cpu")
    # The artifact's prompts (the model's, with those given at build), and no default: each
    # check names its prompt, and a Matryoshka check is made without one.
    reference_model.prompts = dict(spec.prompts)
    reference_model.default_prompt_name = None
    reference_model.max_seq_length = spec.tokenizer.max_sequence_length
    runner = task_for(manifest, _open_backend(artifact_dir, manifest))
    texts = list(PARITY_TEXTS)
    reports = []
    for prompt_name, size in checks:
        candidate = np.asarray(runner.embed(texts, prompt=spec.prompts.get(prompt_name or "", ""), dimensions=size),
                               dtype=np.float64)
        reference = np.asarray(reference_model.encode(texts, prompt_name=prompt_name, truncate_dim=size,
                                                      normalize_embeddings=spec.normalize, convert_to_numpy=True),
                               dtype=np.float64)
        if candidate.shape != reference.shape:
            raise ParityError(f"the artifact gives embeddings of shape {candidate.shape}, sentence-transformers "
                              f"{reference.shape} (prompt {prompt_name!r}, dimensions {size})")
        cosines = (candidate * reference).sum(axis=1) / np.maximum(
            np.linalg.norm(candidate, axis=1) * np.linalg.norm(reference, axis=1), 1e-12)
        report = OptionsParity(prompt_name, size, float(cosines.min()),
                               float(np.abs(candidate - reference).max()), len(texts))
        if not report.passed:
            raise ParityError(f"the exported model does not match sentence-transformers: {report.summary()}. "
                              "Nothing was written")
        reports.append(report)
    return reports


def _open_backend(artifact_dir: Path, manifest: Manifest) -> Any:
    from inference_runtime.artifact import verify_file
    from inference_runtime.backends.onnx import OnnxBackend

    paths = {}
    for entry in OnnxBackend.files(manifest):
        paths[entry.path] = artifact_dir / entry.path
        verify_file(paths[entry.path], size=entry.size, sha256=entry.sha256)
    return OnnxBackend.open(manifest, paths)
