"""Model files from memory, /tmp or S3, verified at every tier: one public ``get()``.

    L1 MemoryTier   process memory, for the life of the execution environment
    L2 DiskTier     /tmp, bounded, LRU, verified again before reuse
    L3 S3Source     parallel ranged GETs of zstd frames, verified while streaming

A model bundled in the image has no L2 or L3: its files are read from the image
directory and verified. Whatever tier answers, the bytes returned match the
manifest's sha256; failures are raised, never cached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact import read_verified
from .disk import DiskTier
from .errors import CacheCapacityError, CacheError, FetchError
from .memory import MemoryTier
from .s3 import S3Source

if TYPE_CHECKING:
    from ..artifact import FileEntry


class ModelCache:
    """The one way model files are read: ``get(entry)`` returns verified bytes."""

    def __init__(self, *, memory: MemoryTier | None = None, bundled_dir: Path | None = None,
                 disk: DiskTier | None = None, remote: S3Source | None = None) -> None:
        if (bundled_dir is None) == (remote is None):
            raise ValueError("a ModelCache reads either a bundled directory or a remote store")
        if remote is not None and disk is None:
            raise ValueError("a remote store needs a disk tier to fetch into")
        self.memory = memory or MemoryTier()
        self.bundled_dir = bundled_dir
        self.disk = disk
        self.remote = remote

    def get(self, entry: "FileEntry", stats: dict[str, Any] | None = None, on_frame: Any = None) -> bytes:
        """The file's bytes, from the nearest tier that has a verified copy."""
        stats = {} if stats is None else stats
        started = time.perf_counter()
        data: bytes | memoryview | None = self.memory._get(entry)
        if data is not None:
            stats.update(tier="memory", bytes=entry.size)
        elif self.bundled_dir is not None:
            data = read_verified(self.bundled_dir / entry.path, size=entry.size, sha256=entry.sha256)
            stats.update(tier="bundled", bytes=entry.size, verify_ms=(time.perf_counter() - started) * 1000)
        else:
            assert self.disk is not None and self.remote is not None
            data = self.disk._get(entry)
            if data is not None:
                stats.update(tier="disk", bytes=entry.size, verify_ms=(time.perf_counter() - started) * 1000)
            else:
                data = self.remote.fetch(entry, self.disk, stats, on_frame=on_frame)
        self.memory._put(entry, data)
        stats["path"] = entry.path
        stats.setdefault("wall_ms", (time.perf_counter() - started) * 1000)
        return data


__all__ = ["CacheCapacityError", "CacheError", "DiskTier", "FetchError", "MemoryTier", "ModelCache", "S3Source"]
