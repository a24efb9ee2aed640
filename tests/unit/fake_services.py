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

    def __init__(self, task: str, *, name: str | None = None, dimensions: int = 8, normalized: bool = False,
                 prompts: dict[str, str] | None = None, default_prompt_name: str | None = None,
                 matryoshka: tuple[int, ...] = (), max_tokens: int = 256) -> None:
        self._prompts, self._default_prompt, self._matryoshka = dict(prompts or {}), default_prompt_name, matryoshka
        self._max_tokens = max_tokens
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
        embeddings = task is Task.EMBEDDINGS
        spec = ModelSpec(task=task, graph=GraphSpec(), tokenizer=TokenizerSpec(max_sequence_length=self._max_tokens),
                         dimensions=self._dimensions if embeddings else None,
                         normalize=bool(model["normalized"]), labels=LABELS if task is Task.CLASSIFICATION else (),
                         prompts=self._prompts if embeddings else {},
                         default_prompt_name=self._default_prompt if embeddings else None,
                         matryoshka_dimensions=self._matryoshka if embeddings else ())
        return ModelDescription(name=self._backend.manifest.name, version="0", spec=spec)

    def model_identity(self) -> dict[str, Any]:
        return {"model": self._backend.manifest.name, "version": "0"}

    def init_summary(self) -> dict[str, Any]:
        return {"total_ms": 0.0, "phases": {}}

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(text.split()) + 2 for text in texts)

    def token_counts(self, texts: list[str], *, truncate: bool = True) -> list[int]:
        counts = [len(text.split()) + 2 for text in texts]
        return [min(c, self._max_tokens) for c in counts] if truncate else counts

    def tokenize(self, texts: list[str], *, add_special_tokens: bool = True,
                 prompt_name: str | None = None) -> list[list[dict[str, Any]]]:
        self.calls.append(("tokenize", (texts, add_special_tokens, prompt_name)))
        out = []
        for text in texts:
            text = self._prompts.get(prompt_name, "") + text if prompt_name else text
            tokens: list[dict[str, Any]] = [
                {"id": 1000 + i, "text": word, "special": False, "start": None, "stop": None}
                for i, word in enumerate(text.split())]
            special: list[dict[str, Any]] = [{"id": 101, "text": "[CLS]", "special": True, "start": None, "stop": None}]
            out.append([*special, *tokens] if add_special_tokens else tokens)
        return out

    def decode(self, ids: list[list[int]], *, skip_special_tokens: bool = True) -> list[str]:
        self.calls.append(("decode", (ids, skip_special_tokens)))
        return [" ".join(f"t{i}" for i in row if not (skip_special_tokens and i < 1000)) for row in ids]

    def embed(self, texts: list[str], *, prompt_name: str | None = None, dimensions: int | None = None,
              timings: Any = None) -> list[list[float]]:
        from inference_runtime.tasks.errors import DimensionsNotSupportedError

        self.calls.append(("embed", texts) if prompt_name is None and dimensions is None
                          else ("embed", (texts, prompt_name, dimensions)))
        if dimensions is not None and (not self._matryoshka or dimensions > self._dimensions):
            raise DimensionsNotSupportedError(f"dimensions={dimensions} is not allowed")
        if timings is not None:
            timings.tokenize_ms += 1.0
            timings.infer_ms += 2.0
        prefix = len(self._prompts.get(prompt_name, "")) if prompt_name else 0
        size = dimensions or self._dimensions
        return [[float(prefix + len(text) + i) for i in range(size)] for text in texts]

    def classify(self, texts: list[str], top_k: int | None = None, *, raw_scores: bool = False,
                 timings: Any = None) -> list[list[dict[str, Any]]]:
        self.calls.append(("classify", (texts, top_k) if not raw_scores else (texts, top_k, raw_scores)))
        out = []
        for text in texts:
            # The score order depends on the text, so sorting is visible.
            scores = [(len(text) + i) % 3 + 1 for i in range(len(LABELS))]
            total = 1 if raw_scores else sum(scores)
            pairs = sorted(zip(LABELS, scores, strict=True), key=lambda pair: -pair[1])
            ranked: list[dict[str, Any]] = [{"label": label, "score": s / total} for label, s in pairs]
            out.append(ranked[:top_k] if top_k else ranked)
        return out

    def rerank(self, query: str, documents: list[str], *, raw_scores: bool = False, timings: Any = None) -> list[float]:
        self.calls.append(("rerank", (query, documents)))
        # Longer documents score higher: a known order for the tests; raw: the length itself.
        return [float(len(document)) if raw_scores else len(document) / (1 + len(document)) for document in documents]
