"""L1: process memory. Lives as long as the execution environment (module scope)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Tier

if TYPE_CHECKING:
    from ..artifact import FileEntry


class MemoryTier(Tier):
    name = "memory"

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}

    def _get(self, entry: "FileEntry") -> bytes | None:
        # Keyed by content hash: bytes are stored only after verification, so a hit is verified.
        return self._files.get(entry.sha256)

    def _put(self, entry: "FileEntry", data: bytes) -> None:
        self._files[entry.sha256] = data

    def clear(self) -> None:
        self._files.clear()
