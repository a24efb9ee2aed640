"""Embeddings: the graph already pools (mean, CLS or last token) and, if the model says so,
L2-normalises, so the output rows are the embeddings as sentence-transformers gives them."""

from __future__ import annotations

from collections.abc import Sequence

from ..artifact.spec import Task
from .base import TaskRunner


class EmbeddingsTask(TaskRunner):
    task = Task.EMBEDDINGS

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.backend.run(list(texts)).tolist()
