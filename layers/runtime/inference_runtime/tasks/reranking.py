"""Cross-encoder reranking: each (query, document) pair is encoded as one sequence and the
graph gives one relevance logit per pair. The score is the logit through the model's
activation: sigmoid by default for a one-label cross-encoder, as sentence-transformers'
``CrossEncoder.predict`` and Text Embeddings Inference give it, or the raw logit when the
model's configuration says Identity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..artifact import ManifestError
from ..artifact.spec import ScoreActivation, Task
from .base import TaskRunner

if TYPE_CHECKING:
    from ..lifecycle.timing import RequestTimings


class RerankingTask(TaskRunner):
    task = Task.RERANKING

    def rerank(self, query: str, documents: Sequence[str], *, raw_scores: bool = False,
               timings: RequestTimings | None = None) -> list[float]:
        if not documents:
            return []
        import numpy as np  # loaded with the backend already

        logits = np.asarray(self.backend.run([query] * len(documents), pairs=list(documents), timings=timings),
                            dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != 1:
            raise ManifestError(f"{self.manifest.name} gives {logits.shape[-1]} logits per pair; a reranker "
                                "gives one (export it with TASK=classification instead)")
        scores = logits[:, 0]
        if not raw_scores and self.manifest.model.score_activation is ScoreActivation.SIGMOID:
            scores = 1.0 / (1.0 + np.exp(-scores))
        return [float(score) for score in scores]
