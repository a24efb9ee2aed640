"""L1: process memory. What this execution environment has already verified, for its life.

It holds the paths of files whose bytes matched their sha256 in this process, keyed
by that hash, so a second load (a retry after a failure) does not hash 90 MB again.
The loaded model itself, cached at module scope by the service, is the rest of L1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .base import Tier

if TYPE_CHECKING:
    from ..artifact import FileEntry


class MemoryTier(Tier):
    name = "memory"

    def __init__(self) -> None:
        self._verified: dict[str, Path] = {}

    def get(self, entry: FileEntry) -> Path | None:
        path = self._verified.get(entry.sha256)
        return path if path is not None and path.is_file() else None

    def put(self, entry: FileEntry, path: Path) -> None:
        """Remember a path whose bytes this process has just verified."""
        self._verified[entry.sha256] = path
