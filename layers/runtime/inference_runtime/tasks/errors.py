"""Errors raised by tasks: model-level, with no HTTP in them (the API maps them to statuses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifact.spec import Task


class TaskError(Exception):
    """Raised when a task cannot do what it was asked; the base of the task errors."""


class TaskMismatchError(TaskError):
    """Raised when a model is asked for a task it does not serve (classify on an embedding model)."""

    def __init__(self, *, model: str, served: Task, requested: Task) -> None:
        self.model = model
        self.served = served
        self.requested = requested
        super().__init__(
            f"the model {model!r} serves {served}, not {requested}: {served.what_it_does}; "
            f"serve a {requested} model for that (make artifact MODEL=<dir> TASK={requested})"
        )


class TaskInputError(TaskError, ValueError):
    """Raised when a task's arguments are out of range (``top_k`` below 1, a pair count that does not match)."""



class UnknownPromptError(TaskInputError):
    """Raised when a request names a prompt the model does not have."""

    code = "unknown_prompt"


class InputTypeNotSupportedError(TaskInputError):
    """Raised when ``input_type`` has no prompt in this model to map to (or is not query/document)."""

    code = "input_type_not_supported"


class DimensionsNotSupportedError(TaskInputError):
    """Raised when ``dimensions`` asks for a size the model cannot give: the model is not
    Matryoshka-trained (truncating it would silently degrade its vectors), or the size is out of range."""

    code = "dimensions_not_supported"


class UnknownTokenIdError(TaskInputError):
    """Raised when ``/decode`` is given a token id outside the model's vocabulary."""

    code = "invalid_token_id"
