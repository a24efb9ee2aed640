"""Sequence classification: the graph gives one logit per label; scores are softmax
(single-label) or sigmoid (multi-label, when the model was trained with
``problem_type == "multi_label_classification"``), as transformers' text-classification
pipeline computes them. Labels come from the manifest (the model's ``id2label``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..artifact import ManifestError
from .base import Task
from .errors import TaskInputError

if TYPE_CHECKING:
    from ..artifact import Manifest
    from ..backends.base import InferenceBackend


class ClassificationTask(Task):
    name = "classification"

    def __init__(self, manifest: Manifest, backend: InferenceBackend) -> None:
        super().__init__(manifest, backend)
        self.labels = labels_of(manifest)
        self.multi_label = bool(manifest.model.get("multi_label", False))

    def classify(self, texts: Sequence[str], top_k: int | None = None) -> list[list[dict[str, Any]]]:
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise TaskInputError(f"top_k must be a positive integer or None (every label), got {top_k!r}")
        if not texts:
            return []
        import numpy as np  # loaded with the backend already

        logits = np.asarray(self.backend.run(list(texts)), dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise ManifestError(f"{self.manifest.name} gives {logits.shape[-1]} logits per text but its manifest "
                                f"names {len(self.labels)} labels; rebuild the artifact")
        if self.multi_label:
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


def labels_of(manifest: Manifest) -> list[str]:
    """The manifest's ``labels`` ({"0": "negative", ...}, the model's id2label) as a list by index."""
    raw = manifest.model.get("labels")
    if not isinstance(raw, dict) or not raw:
        raise ManifestError(f"the manifest of {manifest.name} (a classification model) names no labels; "
                            "rebuild the artifact with these tools")
    try:
        by_index = {int(index): str(label) for index, label in raw.items()}
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"the labels of {manifest.name} must map indices to names: {exc}") from exc
    if sorted(by_index) != list(range(len(by_index))):
        raise ManifestError(f"the labels of {manifest.name} must be numbered 0..{len(by_index) - 1}, "
                            f"got {sorted(by_index)}")
    return [by_index[i] for i in range(len(by_index))]
