"""Embeddings: the graph already pools (mean, CLS or last token) and, if the model says so,
L2-normalises, so the output rows are the embeddings as sentence-transformers gives them.

Two request options act here, each as sentence-transformers does them:
- a prompt (``encode(..., prompt_name=...)``): its text is prepended to every text before
  tokenising;
- Matryoshka ``dimensions`` (``encode(..., truncate_dim=d, normalize_embeddings=True)``):
  the vector's first ``d`` values, then L2-renormalised when the model normalises (a
  truncated unit vector is no longer one, and clients use the dot product). Only a model
  declared Matryoshka-trained (``model.matryoshka_dimensions``) may be truncated: the
  leading values of any other model's vector do not carry its meaning, and truncating it
  would degrade results silently. Like ``truncate_dim``, any size from 1 to the model's own
  is accepted; the declared sizes are those it was trained at (the best ones to ask for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..artifact.spec import ModelSpec, Task
from .base import TaskRunner
from .errors import DimensionsNotSupportedError

if TYPE_CHECKING:
    from ..lifecycle.timing import RequestTimings


def check_dimensions(spec: ModelSpec, dimensions: int | None) -> int | None:
    """The size to truncate to, or None for the model's own vector; DimensionsNotSupportedError if not allowed."""
    if dimensions is None:
        return None
    own = spec.dimensions
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise DimensionsNotSupportedError(f"dimensions must be a positive integer, got {dimensions!r}")
    if own is not None and dimensions == own:
        return None
    if own is not None and dimensions > own:
        raise DimensionsNotSupportedError(f"dimensions {dimensions} is more than this model's {own}")
    if not spec.matryoshka_dimensions:
        raise DimensionsNotSupportedError(
            f"this model gives {own}-dimensional vectors and was not trained for shorter ones (Matryoshka): "
            "truncating them would degrade results silently; ask for its own size or omit dimensions")
    return dimensions


class EmbeddingsTask(TaskRunner):
    task = Task.EMBEDDINGS

    def embed(self, texts: Sequence[str], *, prompt: str = "", dimensions: int | None = None,
              timings: RequestTimings | None = None) -> list[list[float]]:
        spec = self.manifest.model
        size = check_dimensions(spec, dimensions)
        if not texts:
            return []
        rows = self.backend.run([prompt + text for text in texts] if prompt else list(texts), timings=timings)
        if size is None:
            return rows.tolist()
        import numpy as np  # loaded with the backend already

        rows = np.asarray(rows)[:, :size]
        if spec.normalize:
            # As torch.nn.functional.normalize: a zero vector stays zero rather than NaN.
            rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return rows.tolist()
