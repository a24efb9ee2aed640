"""Tasks: what a model's output means, one module per task.

- ``embeddings``      texts in, one vector each (pooling and normalisation are in the graph)
- ``classification``  texts in, labels with softmax or sigmoid scores, top-k
- ``reranking``       a query and documents in, one relevance score per document

``task_for(manifest, backend)`` picks the runner for the manifest's ``model.task`` (the
``Task`` enum of ``artifact.spec``). Each runner answers its own call and raises
``TaskMismatchError`` for the others, naming the task it serves. Importing this
package is cheap: numpy is used only inside the calls, once a backend has loaded it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..artifact.spec import Task
from .base import GraphRunner, TaskRunner
from .errors import TaskError, TaskInputError, TaskMismatchError

if TYPE_CHECKING:
    from ..artifact import Manifest


def task_for(manifest: Manifest, backend: GraphRunner) -> TaskRunner:
    """The runner for the task ``manifest`` names, wrapped around ``backend``."""
    task = manifest.model.task
    if task is Task.CLASSIFICATION:
        from .classification import ClassificationTask

        return ClassificationTask(manifest, backend)
    if task is Task.RERANKING:
        from .reranking import RerankingTask

        return RerankingTask(manifest, backend)
    from .embeddings import EmbeddingsTask

    return EmbeddingsTask(manifest, backend)


__all__ = ["GraphRunner", "Task", "TaskError", "TaskInputError", "TaskMismatchError", "TaskRunner", "task_for"]
