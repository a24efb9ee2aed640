"""Model files from memory, /tmp or their source, verified at every tier: one public ``get()``.

    L1 MemoryTier     what this process has already verified (and the loaded model itself)
    L2 DiskTier       /tmp, bounded, LRU, verified again before reuse
    L3 a Source       BundledSource: the image's files, read in place;
                      S3Source: parallel ranged GETs of zstd frames, verified while streaming;
                      MountedSource: a shared file system (EFS, S3 Files), copied to /tmp
                      while hashed (mounted.py says why not in place)

``get(entry)`` returns the path of a local copy whose bytes match the manifest's
sha256, laid out as the manifest names it (``<view>/<entry.path>``), so a loader can
open files by name (ONNX Runtime finds ``model.onnx.data`` beside ``model.onnx``) and
map them instead of copying them. A bundled model is verified in place and has no L2.
Failures are raised, never cached. Only ``ModelCache`` combines the tiers and the
source, each through its public methods: a source fetches into the path the disk tier
hands out, and never learns the disk tier's layout.

``cache_for(entry, config)`` is the one place a registry entry becomes a cache: its URI
picks the source (``source_for``), and the disk tier sizes itself.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifact import verify_file
from .base import Source, Tier
from .bundled import BundledSource
from .errors import CacheCapacityError, CacheError, FetchError
from .memory import MemoryTier
from .stats import FetchStats

if TYPE_CHECKING:
    from ..artifact import FileEntry
    from ..config import RuntimeConfig
    from ..registry import ModelEntry
    from .disk import DiskTier
    from .mounted import MountedSource
    from .s3 import S3Source

#: Imported on first use (PEP 562): a bundled model's cold start needs none of them, and
#: they bring botocore's helpers, shutil and concurrent.futures (~10 ms of imports).
_LAZY = {"DiskTier": ".disk", "MountedSource": ".mounted", "S3Source": ".s3"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ModelCache:
    """The one way model files are read: ``get(entry)`` returns a verified local path.

    ``source`` is where the model comes from (``BundledSource``, ``S3Source``); a source
    that fetches needs ``disk``, the tier it fetches into.
    """

    def __init__(self, *, source: Source, memory: MemoryTier | None = None, disk: DiskTier | None = None,
                 view: str = "model") -> None:
        self.source = source
        self.memory = memory or MemoryTier()
        self.disk = disk
        local_dir = self.source.local_dir
        if local_dir is None and disk is None:
            raise ValueError(f"the {self.source.name} source needs a disk tier to fetch into")
        # Fetched files are stored by content hash; the view gives them their names.
        self.view_dir = local_dir if local_dir is not None else disk.root / "views" / view  # type: ignore[union-attr]

    def get(self, entry: FileEntry, stats: FetchStats | None = None) -> Path:
        """A local path, named as in the manifest, whose bytes match the entry's sha256.

        ``stats``, when given, is filled in with what it took.
        """
        stats = FetchStats() if stats is None else stats
        stats.path, stats.bytes = entry.path, entry.size
        started = time.perf_counter()
        path = self.memory.get(entry)
        if path is not None:
            stats.tier = self.memory.name
        elif self.source.local_dir is not None:
            path = self.verify_in_place(entry, stats)
        else:
            # An invariant of the constructor: a source that fetches always has a disk tier.
            assert self.disk is not None  # nosec B101
            stored = self.disk.get(entry)
            if stored is not None:
                stats.tier, stats.verify_ms = self.disk.name, (time.perf_counter() - started) * 1000
            else:
                source = self.source
                stored = self.disk.store(entry, lambda into: source.fetch(entry, into, stats), stats)
                if stats.fetched_by == "another process":
                    stats.tier = self.disk.name
            path = self._link_into_view(entry, stored)
        self.memory.put(entry, path)
        stats.wall_ms = (time.perf_counter() - started) * 1000
        return path

    def locate_in_place(self, entry: FileEntry, stats: FetchStats) -> Path | None:
        """The path of a file the source holds in place, NOT yet verified; None when ``get`` must be used.

        Only a source whose ``local_dir`` cannot change while the environment runs (the
        image's read-only layers) has files in place, so the bytes hashed later are the bytes
        a session reads now. The caller must pass the entry to ``verify_in_place`` and wait
        for it before anything made from the file runs or is served (the loader hashes the
        raw weights beside the session's creation this way).
        """
        if self.source.local_dir is None or self.memory.get(entry) is not None:
            return None
        stats.path, stats.bytes, stats.tier = entry.path, entry.size, self.source.name
        return self.source.local_dir / entry.path

    def verify_in_place(self, entry: FileEntry, stats: FetchStats) -> Path:
        """Hash a file the source holds in place (``get``'s, or one ``locate_in_place`` gave out);
        IntegrityError unless it matches the manifest."""
        started = time.perf_counter()
        path = self.source.local_dir / entry.path  # type: ignore[operator]  # only for a source with files in place
        verify_file(path, size=entry.size, sha256=entry.sha256, blake3=entry.blake3)
        stats.path, stats.bytes, stats.tier = entry.path, entry.size, self.source.name
        stats.verify_ms = stats.wall_ms = (time.perf_counter() - started) * 1000
        self.memory.put(entry, path)
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


def source_for(entry: ModelEntry, config: RuntimeConfig) -> Source:
    """The Source the registry entry's URI names: ``bundled`` (the image's files), ``s3://`` or ``file://``.

    ``file://`` is a mounted file system (an EFS or S3 Files access point). A source holding
    a client registers dropping it as SnapStart restore work, so a restored copy of the
    environment makes its own connections and credentials.
    """
    if entry.is_bundled:
        return BundledSource(config.artifact_dir)
    if entry.source.startswith("s3://"):
        from ..lifecycle.snapstart import on_restore
        from .s3 import S3Source

        remote = S3Source(entry.source, parallelism=config.s3_parallelism, max_attempts=config.s3_attempts)
        on_restore(remote.reset)
        return remote
    if entry.source.startswith("file://"):
        from .mounted import MountedSource

        return MountedSource(entry.source)
    # The registry refuses other schemes when it is read; this is its invariant.
    raise ValueError(f"model {entry.name!r}: no source reads {entry.source!r}")


def cache_for(entry: ModelEntry, config: RuntimeConfig) -> ModelCache:
    """The cache for one registry entry: its source, and a disk tier (self-sized) when it fetches."""
    source = source_for(entry, config)
    if source.local_dir is not None:
        return ModelCache(source=source)
    from .disk import DiskTier

    return ModelCache(source=source, disk=DiskTier(config.cache_dir, max_mb=config.cache_max_mb),
                      view=f"{entry.name}-{entry.version or 'published'}")


__all__ = [
    "BundledSource", "CacheCapacityError", "CacheError", "DiskTier", "FetchError", "FetchStats", "MemoryTier",
    "ModelCache", "MountedSource", "S3Source", "Source", "Tier", "cache_for", "source_for",
]
