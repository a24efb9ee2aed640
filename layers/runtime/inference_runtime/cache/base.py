"""The shape of a cache tier: return verified bytes for a manifest entry, or None."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..artifact import FileEntry


class Tier(ABC):
    """One level of the cache. ``_get`` returns bytes only once they match the entry's sha256."""

    name = "abstract"

    @abstractmethod
    def _get(self, entry: "FileEntry") -> bytes | None:
        """The file's verified bytes, or None when this tier does not hold it (or held a bad copy)."""

    def _put(self, entry: "FileEntry", data: bytes) -> None:
        """Keep verified bytes for next time (tiers that cannot keep anything ignore it)."""
