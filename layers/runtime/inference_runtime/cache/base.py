"""The shapes of the weight cache: a tier (memory, /tmp) and a source (bundled, S3).

A tier answers ``get(entry)`` with the local path of a verified copy, or None. A source
is where a model comes from: its verified manifest, and either its files in place (a
model bundled in the image) or a fetch that writes one file's verified bytes to the
path the cache gives it (S3). Only ``ModelCache`` combines them; none calls another.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifact import FileEntry, Manifest
    from .stats import FetchStats


class Tier(ABC):
    """One level of the cache. ``get`` returns a path only once its bytes match the entry's sha256."""

    name = "abstract"

    @abstractmethod
    def get(self, entry: FileEntry) -> Path | None:
        """A verified local copy of the file, or None (absent, or a bad copy now removed)."""


class Source(ABC):
    """Where a model's manifest and files come from."""

    name = "abstract"

    #: The directory holding the files as the manifest names them, read in place (verified
    #: on each load); None for a source whose files must be fetched into a disk tier. Its
    #: files must not change while the environment runs (the image's read-only layers):
    #: the loader hashes the raw weights while a session reads them (``locate_in_place``).
    #: A shared, writable file system is not such a directory (``mounted.py``).
    local_dir: Path | None = None

    @abstractmethod
    def read_manifest(self, expected_sha256: str | None = None) -> Manifest:
        """The model's manifest, refused unless its sha256 is ``expected_sha256`` (when given)."""

    def fetch(self, entry: FileEntry, into: Path, stats: FetchStats) -> None:
        """Write the file's bytes to ``into``, verified against the entry's sha256 before returning.

        ``into`` may hold what an interrupted fetch left; a source may resume from it.
        """
        raise NotImplementedError(f"the {self.name} source reads its files in place; it fetches nothing")

    def reset(self) -> None:  # noqa: B027 (optional: most sources hold no client)
        """Drop clients and connections (``source_for`` registers it as SnapStart restore work)."""
