"""The shape every inference backend has: load a verified artifact, run its graph on texts.

A backend knows nothing of tasks: it tokenizes (single texts, or text pairs for a
cross-encoder), feeds the graph the inputs it asks for, and returns the output the
manifest names, one row per input. What the rows mean (an embedding, label logits, a
relevance logit) is ``inference_runtime.tasks``' business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from ..artifact import FileEntry, Manifest
    from ..lifecycle import PhaseTrace

#: ``files(entry, stats)``: the path of a verified local copy, named as in the manifest
#: (the cache's ``get``); fills ``stats`` with what the fetch cost.
FileReader = Callable[["FileEntry", dict[str, Any]], "Path"]


class InferenceBackend(ABC):
    """A loaded model: tokenizer and graph."""

    #: short backend name for traces and responses
    name: str = "abstract"

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    @classmethod
    @abstractmethod
    def load(cls, manifest: Manifest, *, files: FileReader, trace: PhaseTrace,
             intra_op_threads: int = 0, on_imported: Callable[[], None] | None = None) -> InferenceBackend:
        """Load the artifact's files (``files`` returns verified local paths), recording phases in ``trace``.

        ``on_imported`` is called once the backend's libraries are imported: from then
        on loading mostly runs outside the GIL, and the caller may do Python work.
        """

    @abstractmethod
    def run(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> Any:
        """The graph's output for a batch, a float32 array with one row per text.

        With ``pairs``, row ``i`` is the encoding of the pair ``(texts[i], pairs[i])``
        (a cross-encoder's query and document). Texts are truncated at the model's
        maximum sequence length.
        """

    @abstractmethod
    def count_tokens(self, texts: str | Sequence[str], pairs: Sequence[str] | None = None) -> int:
        """How many tokens the model reads for ``texts`` (after truncation, special tokens included)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """The output rows as lists (for an embedding model: one embedding per text)."""
        return self.run(texts).tolist()


#: The name this shape had when every model was an embedding model.
EmbeddingBackend = InferenceBackend
