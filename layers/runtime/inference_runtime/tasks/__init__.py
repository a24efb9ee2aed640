"""Tasks: what a model's output means, one module per task.

- ``embeddings``      texts in, one vector each (pooling and normalisation are in the graph)
- ``classification``  texts in, labels with softmax or sigmoid scores, top-k
- ``reranking``       a query and documents in, one relevance score per document

``task_for(manifest, backend)`` picks the task the manifest names (``model.task``;
none means embeddings). Each task answers its own call and raises
``TaskMismatchError`` for the others, naming the task it serves. Importing this
package is cheap: numpy is used only inside the calls, once a backend has loaded it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..artifact.manifest import DEFAULT_TASK, TASKS
from .base import Task
from .errors import WHAT_EACH_TASK_DOES, TaskError, TaskInputError, TaskMismatchError

if TYPE_CHECKING:
    from ..artifact import Manifest
    from ..backends.base import InferenceBackend


def task_for(manifest: Manifest, backend: InferenceBackend) -> Task:
    """The task ``manifest`` names, wrapped around ``backend``; ManifestError if its fields are wrong."""
    name = manifest.task
    if name == "classification":
        from .classification import ClassificationTask

        return ClassificationTask(manifest, backend)
    if name == "reranking":
        from .reranking import RerankingTask

        return RerankingTask(manifest, backend)
    from .embeddings import EmbeddingsTask

    return EmbeddingsTask(manifest, backend)


__all__ = ["DEFAULT_TASK", "TASKS", "WHAT_EACH_TASK_DOES", "Task", "TaskError", "TaskInputError",
           "TaskMismatchError", "task_for"]
