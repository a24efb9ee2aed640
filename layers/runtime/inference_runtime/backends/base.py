"""The shape every inference backend has: load a verified artifact, embed a batch of texts."""

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


class EmbeddingBackend(ABC):
    """A loaded sentence-embedding model."""

    #: short backend name for traces and responses
    name: str = "abstract"

    def __init__(self, manifest: "Manifest") -> None:
        self.manifest = manifest

    @classmethod
    @abstractmethod
    def load(cls, manifest: "Manifest", *, files: "FileReader", trace: "PhaseTrace",
             intra_op_threads: int = 0, on_imported: Callable[[], None] | None = None) -> "EmbeddingBackend":
        """Load the artifact's files (``files`` returns verified local paths), recording phases in ``trace``.

        ``on_imported`` is called once the backend's libraries are imported: from then
        on loading mostly runs outside the GIL, and the caller may do Python work.
        """

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised embedding per text, in order."""
