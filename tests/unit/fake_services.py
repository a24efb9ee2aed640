"""In-memory stand-ins for InferenceService serving the tasks no packaged model serves yet.

They have the service's public surface that the HTTP layer uses (``config``, ``metrics``,
``ready``, ``load()``, ``task``, ``embed``/``classify``/``rerank``, ``count_tokens``,
``model_identity``, ``init_summary``) and deterministic answers, so the routes of every
task can be tested in process; the real model is used wherever a task has one.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from inference_runtime.config import RuntimeConfig

LABELS = ("negative", "neutral", "positive")


class FakeService:
    metrics = None
    ready = True
    error = None

    def __init__(self, task: str, *, name: str | None = None, dimensions: int = 8, normalized: bool = False) -> None:
        self.task = task
        self.config = RuntimeConfig.from_env({})
        self.calls: list[tuple[str, Any]] = []
        self._dimensions = dimensions
        model = {"task": task, "normalized": normalized}
        if task == "embeddings":
            model["embedding_dim"] = dimensions
        self._backend = SimpleNamespace(manifest=SimpleNamespace(name=name or f"fake-{task}", version="0",
                                                                 model=model))

    def load(self) -> Any:
        return self._backend

    def describe(self) -> Any:
        """The service's ModelDescription for this fake (what the API's handlers read)."""
        from inference_runtime.artifact.spec import GraphSpec, ModelSpec, Task, TokenizerSpec
        from inference_runtime.service import ModelDescription

        task, model = Task(self.task), self._backend.manifest.model
        spec = ModelSpec(task=task, graph=GraphSpec(), tokenizer=TokenizerSpec(),
                         dimensions=self._dimensions if task is Task.EMBEDDINGS else None,
                         normalize=bool(model["normalized"]), labels=LABELS if task is Task.CLASSIFICATION else ())
        return ModelDescription(name=self._backend.manifest.name, version="0", spec=spec)

    def model_identity(self) -> dict[str, Any]:
        return {"model": self._backend.manifest.name, "version": "0"}

    def init_summary(self) -> dict[str, Any]:
        return {"total_ms": 0.0, "phases": {}}

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(text.split()) + 2 for text in texts)

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(("embed", texts))
        return [[float(len(text) + i) for i in range(self._dimensions)] for text in texts]

    def classify(self, texts: list[str], top_k: int | None = None) -> list[list[dict[str, Any]]]:
        self.calls.append(("classify", (texts, top_k)))
        out = []
        for text in texts:
            # The score order depends on the text, so sorting is visible.
            scores = [(len(text) + i) % 3 + 1 for i in range(len(LABELS))]
            total = sum(scores)
            pairs = sorted(zip(LABELS, scores, strict=True), key=lambda pair: -pair[1])
            ranked: list[dict[str, Any]] = [{"label": label, "score": s / total} for label, s in pairs]
            out.append(ranked[:top_k] if top_k else ranked)
        return out

    def rerank(self, query: str, documents: list[str]) -> list[float]:
        self.calls.append(("rerank", (query, documents)))
        # Longer documents score higher: a known order for the tests.
        return [len(document) / (1 + len(document)) for document in documents]
