"""Embeddings: the graph already pools (mean, CLS or last token) and, if the model says so,
L2-normalises, so the output rows are the embeddings as sentence-transformers gives them."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Task


class EmbeddingsTask(Task):
    name = "embeddings"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.backend.run(list(texts)).tolist()
