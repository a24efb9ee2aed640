"""The shape of a task: what a model's raw output means, and the calls it answers.

A task wraps a loaded backend. Each task implements the one call it serves; the
others raise ``TaskMismatchError`` naming the task the model does serve, so a caller
(the HTTP layer) can say so instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..artifact.spec import Task
from .errors import TaskMismatchError

if TYPE_CHECKING:
    from ..artifact import Manifest
    from ..lifecycle.timing import RequestTimings


class GraphRunner(Protocol):
    """The part of a backend a task uses: the graph's rows and the token count.

    Every ``InferenceBackend`` is one; naming only these two calls lets a task run over
    fixed rows in its tests, without a session, a tokenizer or a manifest's files.
    """

    def run(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
            timings: RequestTimings | None = None) -> Any: ...

    def count_tokens(self, texts: str | Sequence[str], pairs: Sequence[str] | None = None) -> int: ...


class TaskRunner:
    """Runs a model's task. Subclasses set ``task`` and override the call they serve."""

    task: Task

    def __init__(self, manifest: Manifest, backend: GraphRunner) -> None:
        self.manifest = manifest
        self.backend = backend

    def embed(self, texts: Sequence[str], *, prompt: str = "", dimensions: int | None = None,
              timings: RequestTimings | None = None) -> list[list[float]]:
        """One embedding per text, in order; ``prompt`` (its text) prepended to each, ``dimensions``
        the Matryoshka size to truncate to (None: the model's own)."""
        raise self._mismatch(Task.EMBEDDINGS)

    def classify(self, texts: Sequence[str], top_k: int | None = None, *, raw_scores: bool = False,
                 timings: RequestTimings | None = None) -> list[list[dict[str, Any]]]:
        """Per text, ``{"label", "score"}`` by score, highest first; ``top_k`` of them (all when None);
        ``raw_scores``: the logits, not softmax or sigmoid."""
        raise self._mismatch(Task.CLASSIFICATION)

    def rerank(self, query: str, documents: Sequence[str], *, raw_scores: bool = False,
               timings: RequestTimings | None = None) -> list[float]:
        """One relevance score per document, in the documents' order; ``raw_scores``: the logit."""
        raise self._mismatch(Task.RERANKING)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model reads for ``texts``, after truncation (special tokens included)."""
        return self.backend.count_tokens(list(texts))

    def _mismatch(self, requested: Task) -> TaskMismatchError:
        return TaskMismatchError(model=self.manifest.name, served=self.task, requested=requested)
