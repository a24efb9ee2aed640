"""L2: local disk (/tmp in Lambda), bounded, least-recently-used eviction, verified on reuse.

Files are stored by content hash (``<root>/<sha256>``), so the same file shared by
two model versions is kept once; ``<root>/views/<model>/`` gives them their manifest
names as hard links (evicting a file removes its links too, or its space would stay used).
A file appears under its final name only complete and verified: ``store`` hands the
writer (a source's fetch) ``<sha256>.partial``, which the writer may resume from and
keep its own progress beside (``<sha256>.partial.*``), and renames it once the writer
returns. A cached file is hashed again before reuse; a bad one is deleted and reported
as a miss, so the caller refetches it.

Safe under many processes at once (Lambda Managed Instances run several worker
processes per execution environment, each with its own init, all sharing ``/tmp``):
``store`` holds an exclusive ``flock`` on ``<sha256>.lock`` while it fetches, so of N
processes that miss the same file at once one fetches it and the others wait on the
lock, then find the verified file and reuse it (each still hashes it before use: nothing
is loaded unverified by the process that loads it). A process that dies mid-fetch
releases its lock with its last file descriptor, and the next one resumes its partial
file. Eviction skips files whose lock another process holds.

The tier sizes itself: MODEL_CACHE_MAX_MB when given, otherwise 90% of the file
system it lives on (Lambda's /tmp is the function's EphemeralStorageSize).

Public surface: ``get``, ``store`` (a verified writer's output), ``reserve``, and the
paths ``path_for``/``partial_path``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact import IntegrityError, verify_file
from .base import Tier
from .errors import CacheCapacityError
from .stats import FetchStats

if TYPE_CHECKING:
    from ..artifact import FileEntry

PARTIAL_SUFFIX = ".partial"
LOCK_SUFFIX = ".lock"
# Without MODEL_CACHE_MAX_MB, the share of the file system the cache may fill: the rest
# is left for whatever else the function writes to /tmp.
DEFAULT_SHARE_OF_DISK = 0.9


class DiskTier(Tier):
    name = "disk"

    def __init__(self, root: Path, *, max_mb: int = 0, max_bytes: int | None = None,
                 disk_usage: Callable[[Path], Any] = shutil.disk_usage) -> None:
        """``max_mb`` (MODEL_CACHE_MAX_MB; 0: 90% of the file system); ``max_bytes`` overrides both.

        ``disk_usage`` is how the file system's room is read (``shutil.disk_usage``'s shape).
        """
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._disk_usage = disk_usage
        if max_bytes is None:
            max_bytes = max_mb * 2**20 if max_mb else int(disk_usage(self.root).total * DEFAULT_SHARE_OF_DISK)
        self.max_bytes = max_bytes

    def path_for(self, entry: FileEntry) -> Path:
        return self.root / entry.sha256

    def partial_path(self, entry: FileEntry) -> Path:
        return self.root / f"{entry.sha256}{PARTIAL_SUFFIX}"

    def get(self, entry: FileEntry, *, remove_bad: bool = False) -> Path | None:
        """The verified cached copy, or None (absent, evicted meanwhile, or bad).

        A bad copy is removed only by ``store`` (``remove_bad``), under the file's lock: a
        reader without it could otherwise delete the good copy another process has just
        put in its place.
        """
        path = self.path_for(entry)
        if not path.is_file():
            return None
        try:
            verify_file(path, size=entry.size, sha256=entry.sha256, blake3=entry.blake3)
            os.utime(path)  # most recently used
        except FileNotFoundError:
            return None  # never cached, or another process evicted it: a miss
        except IntegrityError:
            if remove_bad:
                path.unlink(missing_ok=True)  # never reuse a bad copy; the caller refetches
            return None
        return path

    def store(self, entry: FileEntry, write: Callable[[Path], object], stats: FetchStats | None = None) -> Path:
        """Make room, let ``write`` fill ``<sha256>.partial`` with verified bytes, then give it its name.

        Under the file's lock: if another process stored it while this one waited, its
        verified copy is returned and ``write`` is not called (``stats.fetched_by``
        says which happened, ``stats.lock_wait_ms`` how long the wait was). If
        ``write`` raises, the partial file stays for the next attempt to resume from.
        """
        stats = FetchStats() if stats is None else stats
        with self._locked(entry, stats):
            stored = self.get(entry, remove_bad=True)
            if stored is not None:
                stats.fetched_by = "another process"
                return stored
            self.reserve(entry.size, keep=entry.sha256)
            write(self.partial_path(entry))
            final = self.path_for(entry)
            os.replace(self.partial_path(entry), final)
            stats.fetched_by = "this process"
            return final

    @contextmanager
    def _locked(self, entry: FileEntry, stats: FetchStats) -> Iterator[None]:
        """An exclusive lock on one file of the cache, across processes (flock: released if the holder dies)."""
        started = time.perf_counter()
        with open(self.root / f"{entry.sha256}{LOCK_SUFFIX}", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            stats.lock_wait_ms = (time.perf_counter() - started) * 1000
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

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
                           and PARTIAL_SUFFIX not in p.name and not p.name.endswith(LOCK_SUFFIX)),
                          key=lambda p: p.stat().st_mtime)
        while self.used_bytes() + needed > self.max_bytes and complete:
            self._evict_unless_busy(complete.pop(0))
        free = self._disk_usage(self.root).free
        if self.used_bytes() + needed > self.max_bytes or needed > free + self._partial_bytes(keep):
            raise CacheCapacityError(
                f"{needed / 2**20:.1f} MiB do not fit in {self.root}: {free / 2**20:.1f} MiB free, cache limit "
                f"{self.max_bytes / 2**20:.1f} MiB; raise EphemeralStorageSize or MODEL_CACHE_MAX_MB")

    def _evict_unless_busy(self, path: Path) -> None:
        """Evict ``path`` unless another process holds its lock (it is fetching it right now)."""
        with open(self.root / f"{path.name}{LOCK_SUFFIX}", "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                self._evict(path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

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
