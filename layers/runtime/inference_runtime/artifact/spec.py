"""The model contract: what the export writes about a model and everything at run time reads.

One typed record, ``ModelSpec``, in the manifest's ``model`` object. The export
(``tools/export``) builds it; the backend reads the graph and tokenizer parts, the tasks
read their own part, the API reads ``task``, ``dimensions`` and ``normalize``. Nothing
reads ``manifest.model`` as a loose dict any more: a field is added here, once, with its
check.

Each section is its own small frozen dataclass, validated when created, so a manifest a
user edited by hand fails at load with a message naming the field, not later inside a
request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import ManifestError

_E = TypeVar("_E", bound=enum.StrEnum)


class Task(enum.StrEnum):
    """What a model does; ``inference_runtime.tasks`` has one module each."""

    EMBEDDINGS = "embeddings"
    CLASSIFICATION = "classification"
    RERANKING = "reranking"

    @property
    def what_it_does(self) -> str:
        return _WHAT_EACH_TASK_DOES[self]


_WHAT_EACH_TASK_DOES = {
    Task.EMBEDDINGS: "texts in, one vector each",
    Task.CLASSIFICATION: "texts in, labels with scores",
    Task.RERANKING: "a query and documents in, one relevance score per document",
}


class ScoreActivation(enum.StrEnum):
    """How a reranker's single logit becomes its score."""

    SIGMOID = "sigmoid"
    IDENTITY = "identity"


@dataclass(frozen=True)
class GraphSpec:
    """The ONNX graph: its files, its input and output names, how it was optimised."""

    entrypoint: str = "model.onnx"
    #: files the graph's external-data references name (the weights), beside it
    external_data: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ("input_ids", "attention_mask")
    output: str = ""
    #: the ORT optimisation level applied offline ("extended"), or None: the runtime applies it
    optimization: str | None = None
    #: the device the offline optimisation was made for; applied only on that device
    optimized_for: str = "cpu"

    def __post_init__(self) -> None:
        if not self.inputs or not all(isinstance(name, str) and name for name in self.inputs):
            raise ManifestError("model.graph.inputs must name at least one input")


@dataclass(frozen=True)
class TokenizerSpec:
    """The tokenizer file and how the runtime pads and truncates with it."""

    file: str = "tokenizer.json"
    max_sequence_length: int = 256
    pad_token: str = "[PAD]"
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.max_sequence_length, bool) or not isinstance(self.max_sequence_length, int) \
                or self.max_sequence_length < 1:
            raise ManifestError(f"model.tokenizer.max_sequence_length must be a positive integer, "
                                f"got {self.max_sequence_length!r}")
        if isinstance(self.pad_token_id, bool) or not isinstance(self.pad_token_id, int) or self.pad_token_id < 0:
            raise ManifestError(f"model.tokenizer.pad_token_id must be a non-negative integer, "
                                f"got {self.pad_token_id!r}")


@dataclass(frozen=True)
class ModelSpec:
    """Everything the runtime needs to drive one exported model.

    Task-specific fields are set only for their task (the export writes them so, and
    ``__post_init__`` refuses a classification model without labels, and so on).
    """

    task: Task
    graph: GraphSpec
    tokenizer: TokenizerSpec
    #: the Hugging Face architecture it was exported from (information only)
    architecture: str = ""
    # --- embeddings
    #: the vector size
    dimensions: int | None = None
    #: whether the graph L2-normalises its output (then a client may use the dot product)
    normalize: bool = False
    pooling: tuple[str, ...] = ()
    #: sentence-transformers prompts by name ("query": "query: "), prepended to texts
    prompts: Mapping[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    #: the sizes a Matryoshka-trained model may be truncated to, largest first; empty: not
    #: Matryoshka-trained, so ``dimensions`` below its own is refused (truncating would degrade it)
    matryoshka_dimensions: tuple[int, ...] = ()
    # --- classification
    #: label names in the order of the graph's logits
    labels: tuple[str, ...] = ()
    multi_label: bool = False
    # --- reranking
    score_activation: ScoreActivation = ScoreActivation.SIGMOID

    def __post_init__(self) -> None:
        if self.task is Task.EMBEDDINGS and self.dimensions is not None and (
                isinstance(self.dimensions, bool) or not isinstance(self.dimensions, int) or self.dimensions < 1):
            raise ManifestError(f"model.dimensions must be a positive integer, got {self.dimensions!r}")
        if self.task is Task.CLASSIFICATION and not self.labels:
            raise ManifestError("a classification model's manifest must name its labels (model.labels)")
        if self.default_prompt_name is not None and self.default_prompt_name not in self.prompts:
            raise ManifestError(f"model.default_prompt_name {self.default_prompt_name!r} is not one of its prompts "
                                f"({', '.join(self.prompts) or 'none'})")
        for size in self.matryoshka_dimensions:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1 \
                    or (self.dimensions is not None and size > self.dimensions):
                raise ManifestError(f"model.matryoshka_dimensions must be positive integers no larger than "
                                    f"model.dimensions ({self.dimensions}), got {size!r}")
        if list(self.matryoshka_dimensions) != sorted(set(self.matryoshka_dimensions), reverse=True):
            raise ManifestError(f"model.matryoshka_dimensions must be distinct and largest first, "
                                f"got {list(self.matryoshka_dimensions)}")

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "task": self.task.value,
            "architecture": self.architecture,
            "graph": {
                "entrypoint": self.graph.entrypoint,
                "external_data": list(self.graph.external_data),
                "inputs": list(self.graph.inputs),
                "output": self.graph.output,
                "optimization": self.graph.optimization,
                "optimized_for": self.graph.optimized_for,
            },
            "tokenizer": {
                "file": self.tokenizer.file,
                "max_sequence_length": self.tokenizer.max_sequence_length,
                "pad_token": self.tokenizer.pad_token,
                "pad_token_id": self.tokenizer.pad_token_id,
            },
        }
        if self.task is Task.EMBEDDINGS:
            record.update(dimensions=self.dimensions, normalize=self.normalize, pooling=list(self.pooling),
                          prompts=dict(self.prompts), default_prompt_name=self.default_prompt_name,
                          matryoshka_dimensions=list(self.matryoshka_dimensions))
        elif self.task is Task.CLASSIFICATION:
            record.update(labels=list(self.labels), multi_label=self.multi_label)
        else:
            record.update(score_activation=self.score_activation.value)
        return record

    @classmethod
    def from_dict(cls, data: object) -> ModelSpec:
        """Read the manifest's ``model`` object; ManifestError naming the field when it is wrong."""
        if not isinstance(data, Mapping):
            raise ManifestError("the manifest's model must be a JSON object")
        task = _enum(Task, data.get("task"), "model.task")
        graph = _section(data, "graph")
        tokenizer = _section(data, "tokenizer")
        try:
            return cls(
                task=task,
                architecture=str(data.get("architecture", "")),
                graph=GraphSpec(
                    entrypoint=str(graph.get("entrypoint", "model.onnx")),
                    external_data=tuple(str(name) for name in graph.get("external_data", ())),
                    inputs=tuple(str(name) for name in graph.get("inputs", ("input_ids", "attention_mask"))),
                    output=str(graph.get("output") or ""),
                    optimization=graph.get("optimization"),
                    optimized_for=str(graph.get("optimized_for", "cpu")),
                ),
                tokenizer=TokenizerSpec(
                    file=str(tokenizer.get("file", "tokenizer.json")),
                    max_sequence_length=tokenizer.get("max_sequence_length", 256),
                    pad_token=str(tokenizer.get("pad_token", "[PAD]")),
                    pad_token_id=tokenizer.get("pad_token_id", 0),
                ),
                dimensions=data.get("dimensions"),
                normalize=bool(data.get("normalize", False)),
                pooling=tuple(str(p) for p in data.get("pooling") or ()),
                prompts={str(k): str(v) for k, v in (data.get("prompts") or {}).items()},
                default_prompt_name=data.get("default_prompt_name"),
                matryoshka_dimensions=tuple(data.get("matryoshka_dimensions") or ()),
                labels=tuple(str(label) for label in data.get("labels") or ()),
                multi_label=bool(data.get("multi_label", False)),
                score_activation=_enum(ScoreActivation, data.get("score_activation", "sigmoid"),
                                       "model.score_activation"),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"the manifest's model is mistyped: {exc}") from exc


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = data.get(name) or {}
    if not isinstance(section, Mapping):
        raise ManifestError(f"model.{name} must be a JSON object")
    return section


def _enum(kind: type[_E], value: object, label: str) -> _E:
    if isinstance(value, str) and value in {member.value for member in kind}:
        return kind(value)
    choices = ", ".join(member.value for member in kind)
    raise ManifestError(f"{label} {value!r} is not one of {choices}; rebuild the artifact with these tools "
                        "(make artifact MODEL=<dir> TASK=<task>)")
