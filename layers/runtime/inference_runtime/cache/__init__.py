"""Model files from memory, /tmp or S3, verified at every tier: one public ``get()``.

    L1 MemoryTier   what this process has already verified (and the loaded model itself)
    L2 DiskTier     /tmp, bounded, LRU, verified again before reuse
    L3 S3Source     parallel ranged GETs of zstd frames, verified while streaming

``get(entry)`` returns the path of a local copy whose bytes match the manifest's
sha256, laid out as the manifest names it (``<view>/<entry.path>``), so a loader can
open files by name (ONNX Runtime finds ``model.onnx.data`` beside ``model.onnx``) and
map them instead of copying them. A model bundled in the image is verified in place
and has no L2 or L3. Failures are raised, never cached.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact import verify_file
from .disk import DiskTier
from .errors import CacheCapacityError, CacheError, FetchError
from .memory import MemoryTier
from .s3 import S3Source

if TYPE_CHECKING:
    from ..artifact import FileEntry


class ModelCache:
    """The one way model files are read: ``get(entry)`` returns a verified local path."""

    def __init__(self, *, memory: MemoryTier | None = None, bundled_dir: Path | None = None,
                 disk: DiskTier | None = None, remote: S3Source | None = None,
                 view: str = "model") -> None:
        if (bundled_dir is None) == (remote is None):
            raise ValueError("a ModelCache reads either a bundled directory or a remote store")
        if remote is not None and disk is None:
            raise ValueError("a remote store needs a disk tier to fetch into")
        self.memory = memory or MemoryTier()
        self.bundled_dir = bundled_dir
        self.disk = disk
        self.remote = remote
        # Fetched files are stored by content hash; the view gives them their names.
        self.view_dir = bundled_dir if bundled_dir is not None else disk.root / "views" / view  # type: ignore[union-attr]

    def get(self, entry: FileEntry, stats: dict[str, Any] | None = None, on_frame: Any = None) -> Path:
        """A local path, named as in the manifest, whose bytes match the entry's sha256."""
        stats = {} if stats is None else stats
        started = time.perf_counter()
        path = self.memory._get(entry)
        if path is not None:
            stats.update(tier="memory", bytes=entry.size)
        elif self.bundled_dir is not None:
            path = self.bundled_dir / entry.path
            verify_file(path, size=entry.size, sha256=entry.sha256)
            stats.update(tier="bundled", bytes=entry.size, verify_ms=(time.perf_counter() - started) * 1000)
        else:
            # An invariant of the constructor: a remote model always gets both tiers.
            assert self.disk is not None and self.remote is not None  # nosec B101
            stored = self.disk._get(entry)
            if stored is not None:
                stats.update(tier="disk", bytes=entry.size, verify_ms=(time.perf_counter() - started) * 1000)
            else:
                stored = self.remote.fetch(entry, self.disk, stats, on_frame=on_frame)
            path = self._link_into_view(entry, stored)
        self.memory._put(entry, path)
        stats["path"] = entry.path
        stats.setdefault("wall_ms", (time.perf_counter() - started) * 1000)
        return path

    def _link_into_view(self, entry: FileEntry, stored: Path) -> Path:
        """Give a content-addressed file its manifest name, atomically (a hard link, no copy)."""
        target = self.view_dir / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.link")
        temporary.unlink(missing_ok=True)
        os.link(stored, temporary)
        os.replace(temporary, target)
        return target


__all__ = ["CacheCapacityError", "CacheError", "DiskTier", "FetchError", "MemoryTier", "ModelCache", "S3Source"]
