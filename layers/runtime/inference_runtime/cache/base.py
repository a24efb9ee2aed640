"""The shape of a cache tier: the local path of a verified copy of a manifest entry, or None."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifact import FileEntry


class Tier(ABC):
    """One level of the cache. ``_get`` returns a path only once its bytes match the entry's sha256."""

    name = "abstract"

    @abstractmethod
    def _get(self, entry: FileEntry) -> Path | None:
        """A verified local copy of the file, or None (absent, or a bad copy now removed)."""
