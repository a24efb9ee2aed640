"""L2: local disk (/tmp in Lambda), bounded, least-recently-used eviction, verified on reuse.

Files are stored by content hash (``<root>/<sha256>``), so the same file shared by
two model versions is kept once; ``<root>/views/<model>/`` gives them their manifest
names as hard links (evicting a file removes its links too, or its space would stay used).
A file appears under its final name only complete and verified: ``store`` hands the
writer (a source's fetch) ``<sha256>.partial``, which the writer may resume from and
keep its own progress beside (``<sha256>.partial.*``), and renames it once the writer
returns. A cached file is hashed again before reuse; a bad one is deleted and reported
as a miss, so the caller refetches it.

Public surface: ``get``, ``put`` (bytes already verified), ``store`` (a verified
writer's output), ``reserve``, and the paths ``path_for``/``partial_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifact import IntegrityError, atomic_write_bytes, verify_file
from .base import Tier
from .errors import CacheCapacityError

if TYPE_CHECKING:
    from ..artifact import FileEntry

PARTIAL_SUFFIX = ".partial"


class DiskTier(Tier):
    name = "disk"

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, entry: FileEntry) -> Path:
        return self.root / entry.sha256

    def partial_path(self, entry: FileEntry) -> Path:
        return self.root / f"{entry.sha256}{PARTIAL_SUFFIX}"

    def get(self, entry: FileEntry) -> Path | None:
        path = self.path_for(entry)
        if not path.is_file():
            return None
        try:
            verify_file(path, size=entry.size, sha256=entry.sha256)
        except IntegrityError:
            path.unlink(missing_ok=True)  # never reuse a bad copy; the caller refetches
            return None
        os.utime(path)  # most recently used
        return path

    def put(self, entry: FileEntry, data: bytes) -> Path:
        """Store bytes already verified by the caller (tests, small files)."""
        self.reserve(entry.size, keep=entry.sha256)
        atomic_write_bytes(self.path_for(entry), data)
        return self.path_for(entry)

    def store(self, entry: FileEntry, write: Callable[[Path], None]) -> Path:
        """Make room, let ``write`` fill ``<sha256>.partial`` with verified bytes, then give it its name.

        If ``write`` raises, the partial file stays for the next attempt to resume from.
        """
        self.reserve(entry.size, keep=entry.sha256)
        write(self.partial_path(entry))
        final = self.path_for(entry)
        os.replace(self.partial_path(entry), final)
        return final

    def used_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.iterdir() if p.is_file())

    def reserve(self, needed: int, *, keep: str) -> None:
        """Make room for ``needed`` bytes, evicting least-recently-used complete files.

        Raises CacheCapacityError, with the fix, when even an empty cache is too small.
        """
        if needed > self.max_bytes:
            raise CacheCapacityError(
                f"a model file of {needed / 2**20:.1f} MiB does not fit the local cache of "
                f"{self.max_bytes / 2**20:.1f} MiB at {self.root}; raise the function's ephemeral storage "
                "(EphemeralStorageSize) or MODEL_CACHE_MAX_MB")
        complete = sorted((p for p in self.root.iterdir() if p.is_file() and not p.name.startswith(keep)
                           and PARTIAL_SUFFIX not in p.name), key=lambda p: p.stat().st_mtime)
        while self.used_bytes() + needed > self.max_bytes and complete:
            self._evict(complete.pop(0))
        free = shutil.disk_usage(self.root).free
        if self.used_bytes() + needed > self.max_bytes or needed > free + self._partial_bytes(keep):
            raise CacheCapacityError(
                f"{needed / 2**20:.1f} MiB do not fit in {self.root}: {free / 2**20:.1f} MiB free, cache limit "
                f"{self.max_bytes / 2**20:.1f} MiB; raise EphemeralStorageSize or MODEL_CACHE_MAX_MB")

    def _evict(self, path: Path) -> None:
        """Remove a cached file and the named views of it (hard links), so its space is freed."""
        inode = path.stat().st_ino
        views = self.root / "views"
        if views.is_dir():
            for link in views.rglob("*"):
                if link.is_file() and link.stat().st_ino == inode:
                    link.unlink(missing_ok=True)
        path.unlink(missing_ok=True)

    def _partial_bytes(self, keep: str) -> int:
        partial = self.root / f"{keep}{PARTIAL_SUFFIX}"
        return partial.stat().st_size if partial.exists() else 0
