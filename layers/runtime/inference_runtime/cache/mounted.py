"""L3: a mounted file system (an EFS access point, Amazon S3 Files) shared by many functions.

The registry names it ``file:///mnt/models/<name>/<version>/``: an artifact directory as
``make artifact`` builds it (``manifest.json`` beside the files it lists), copied there as
it is, with its manifest's sha256 pinned in the registry entry like an S3 entry's.

Why each file is copied into /tmp while it is hashed, instead of being opened in place
(as a bundled model is): the image is read-only and belongs to this function alone, a
mounted file system does not. Any client with write access (another function, a sync
job, an operator's ``cp`` of a new version over the old one) can change a file after
this process has hashed it. ONNX Runtime maps the weights and reads their pages when it
needs them, long after any hash, so a file verified in place could still serve bytes
nobody verified. NFS gives no way to pin a file's contents for a reader (no lease, no
immutable flag the client can check), and a read-only access point only stops *this*
function from writing. So the bytes that are hashed are the very bytes that are kept:
one pass reads the mount, feeds the hash and writes ``<sha256>.partial`` in /tmp, and the
disk tier renames it only once the hash matches the manifest. /tmp belongs to the
execution environment; nothing else writes it. The rejected alternative, reading each
file once into anonymous memory, would hold a second copy of the weights in RAM beside
the session's (2 GB more at 2 GB) and needs a path-less loader.

The price is one write of the weights to /tmp (EphemeralStorageSize must hold them) and
nothing else: the same disk tier, locks and LRU as S3, so N worker processes (Lambda
Managed Instances) copy a file once and share it.

The manifest is read once into memory, its sha256 checked against the registry's pin and
parsed from those same bytes, so it cannot change between the check and the parse.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..artifact import MANIFEST_FILENAME, FileDigest, IntegrityError, ManifestError, parse_manifest
from .base import Source
from .errors import FetchError

if TYPE_CHECKING:
    from ..artifact import FileEntry, Manifest
    from .stats import FetchStats

SCHEME = "file"
#: Bytes per read: large enough that NFS issues full-size reads (EFS serves up to 1 MiB per
#: request) and that hashlib releases the GIL, small enough to stay in the CPU's caches.
CHUNK_BYTES = 8 * 2**20


def parse_file_uri(uri: str) -> Path:
    """``file:///mnt/models/m/1/`` -> ``/mnt/models/m/1``; anything else is a ManifestError with the form."""
    parts = urlsplit(uri)
    path = unquote(parts.path)
    if parts.scheme != SCHEME or parts.netloc not in ("", "localhost") or not path.startswith("/"):
        raise ManifestError(f"{uri!r} is not a file:///absolute/path/ location (three slashes: no host)")
    return Path(path)


class MountedSource(Source):
    """An artifact directory on a mounted file system: each file copied to /tmp while it is verified."""

    name = "file"

    def __init__(self, uri: str, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.root = parse_file_uri(uri)
        self.chunk_bytes = chunk_bytes

    def read_manifest(self, expected_sha256: str | None = None) -> Manifest:
        """The artifact's manifest, refused unless its sha256 is the one the registry pins."""
        path = self.root / MANIFEST_FILENAME
        if expected_sha256 is None:
            raise ManifestError(f"{path}: a manifest on a shared file system is read only with the sha256 the "
                                "model registry pins for it; add manifest_sha256 to models.json")
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise FetchError(f"{path} does not exist: is the file system mounted at {self.root.parent} "
                             "(the function's FileSystemConfigs) and the artifact copied there?") from exc
        except OSError as exc:
            raise FetchError(f"could not read {path}: {exc}") from exc
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise IntegrityError(f"{path} has sha256 {actual}, but the model registry pins {expected_sha256}; "
                                 "copy the artifact the registry names, or update models.json")
        return parse_manifest(raw, str(path))

    def fetch(self, entry: FileEntry, into: Path, stats: FetchStats) -> None:
        """Copy one file from the mount into ``into``, hashing the bytes written; IntegrityError if they differ."""
        source = self.root / entry.path
        started = time.perf_counter()
        stats.tier, stats.bytes = self.name, entry.size
        hasher = FileDigest(sha256=entry.sha256, blake3=entry.blake3)
        copied = 0
        buffer = bytearray(self.chunk_bytes)
        view = memoryview(buffer)
        try:
            with open(source, "rb", buffering=0) as reader, open(into, "wb") as writer:
                while True:
                    t0 = time.perf_counter()
                    count = reader.readinto(buffer)
                    t1 = time.perf_counter()
                    if not count:
                        break
                    chunk = view[:count]
                    hasher.update(chunk)
                    t2 = time.perf_counter()
                    writer.write(chunk)
                    copied += count
                    stats.io_wait_ms += (t1 - t0) * 1000
                    stats.verify_ms += (t2 - t1) * 1000
        except FileNotFoundError as exc:
            Path(into).unlink(missing_ok=True)
            raise FetchError(f"{source} does not exist, but the manifest lists it: the copy on the file "
                             "system is incomplete; copy the whole artifact directory again") from exc
        except OSError as exc:
            Path(into).unlink(missing_ok=True)
            raise FetchError(f"could not copy {source} into {into}: {exc}") from exc
        if copied != entry.size or not hasher.matches():
            # Never kept: the disk tier renames only what returns from here.
            Path(into).unlink(missing_ok=True)
            raise IntegrityError(f"{source} read as {copied} bytes with {hasher.algorithm} {hasher.hexdigest()}, "
                                 f"but the manifest lists {entry.size} bytes with {hasher.algorithm} "
                                 f"{hasher.expected}: the file on the "
                                 "shared file system was changed or is being rewritten; copy the artifact again "
                                 "(a new version goes in a new directory, never over a served one)")
        stats.wall_ms = (time.perf_counter() - started) * 1000


__all__ = ["MountedSource", "parse_file_uri"]
