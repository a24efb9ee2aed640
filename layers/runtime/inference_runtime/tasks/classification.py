"""Sequence classification: the graph gives one logit per label; scores are softmax
(single-label) or sigmoid (multi-label, when the model was trained with
``problem_type == "multi_label_classification"``), as transformers' text-classification
pipeline computes them. Labels come from the manifest (``model.labels``, in logit order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..artifact import ManifestError
from ..artifact.spec import Task
from .base import GraphRunner, TaskRunner
from .errors import TaskInputError

if TYPE_CHECKING:
    from ..artifact import Manifest
    from ..lifecycle.timing import RequestTimings


class ClassificationTask(TaskRunner):
    task = Task.CLASSIFICATION

    def __init__(self, manifest: Manifest, backend: GraphRunner) -> None:
        super().__init__(manifest, backend)
        # ModelSpec refuses a classification model without labels when the manifest is read.
        self.labels = manifest.model.labels
        self.multi_label = manifest.model.multi_label

    def classify(self, texts: Sequence[str], top_k: int | None = None, *, raw_scores: bool = False,
                 timings: RequestTimings | None = None) -> list[list[dict[str, Any]]]:
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise TaskInputError(f"top_k must be a positive integer or None (every label), got {top_k!r}")
        if not texts:
            return []
        import numpy as np  # loaded with the backend already

        logits = np.asarray(self.backend.run(list(texts), timings=timings), dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise ManifestError(f"{self.manifest.name} gives {logits.shape[-1]} logits per text but its manifest "
                                f"names {len(self.labels)} labels; rebuild the artifact")
        if raw_scores:
            # The logits rank the labels as their softmax or sigmoid does (both are monotonic).
            scores = logits
        elif self.multi_label:
            scores = 1.0 / (1.0 + np.exp(-logits))
        else:
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores = shifted / shifted.sum(axis=1, keepdims=True)
        keep = len(self.labels) if top_k is None else min(top_k, len(self.labels))
        results = []
        for row in scores:
            order = np.argsort(-row, kind="stable")[:keep]
            results.append([{"label": self.labels[i], "score": float(row[i])} for i in order])
        return results
