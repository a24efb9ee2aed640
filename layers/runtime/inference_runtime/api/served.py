"""What the OpenAI- and TEI-shaped routes need to know about the loaded model, in one place.

``served_model`` gathers, beside the service's ``embed``/``classify``/``rerank``, what
the shapes need: the task, the token count, the name, the dimensions and whether the
graph normalises. Loading is the service's: a model that is not ready raises
ModelNotReadyError (answered 503) from ``service.load()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from .errors import TaskNotServedError
from .spec import ROUTE_SPECS, ModelFacts

if TYPE_CHECKING:
    from ..service import InferenceService


class ServedModel(NamedTuple):
    name: str
    task: str
    #: the embedding size, when the manifest states it
    dimensions: int | None
    #: whether the model's own output is already L2-normalised
    normalized: bool
    count_tokens: Callable[[list[str]], int]

    def facts(self) -> ModelFacts:
        return ModelFacts(name=self.name, task=self.task, dimensions=self.dimensions, normalized=self.normalized)

    def require(self, tasks: tuple[str, ...], route: str) -> None:
        """422 task_not_supported, naming the model's task, unless it is one of ``tasks``."""
        if self.task not in tasks:
            serving = ", ".join(f"{r.method} {r.path}" for r in ROUTE_SPECS if self.task in r.tasks and r.request)
            raise TaskNotServedError(
                f"{route} needs a model for {' or '.join(tasks)}; this deployment serves {self.name}, a model for "
                f"{self.task}. Its routes: {serving}")


def served_model(service: InferenceService) -> ServedModel:
    """The loaded model as the routes see it (loads it first, or raises ModelNotReadyError).

    The task and the token count are the service's; the size and whether the graph
    normalises are read from the manifest (``model.embedding_dim``, ``model.normalize``),
    which the service does not expose otherwise.
    """
    manifest = service.load().manifest
    info = manifest.model
    dimensions = info.get("embedding_dim")
    return ServedModel(name=manifest.name, task=service.task,
                       dimensions=dimensions if isinstance(dimensions, int) and dimensions > 0 else None,
                       # "normalize" since issue 8's builder, "normalized" in artifacts built before
                       normalized=bool(info.get("normalize", info.get("normalized", False))),
                       count_tokens=service.count_tokens)
