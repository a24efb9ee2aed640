"""File primitives every artifact reader and writer shares: hashing and atomic writes.

Every file in a manifest has two digests: its sha256 (its identity: what tools, S3 and
people check it with, what a published manifest is pinned by) and, from builds of this
version on, its BLAKE3. The runtime verifies a file against its BLAKE3 when the manifest
records one, and its sha256 otherwise. Why: both are 256-bit cryptographic hashes with
the same security for this use (128-bit collision resistance, 256-bit preimage), both
sit in the same manifest, whose own sha256 the registry pins or the image carries, so
forging a file means breaking one of them; but BLAKE3 runs at ~5 GB/s on one core here
against sha256's ~1.1 GB/s (measured, 2.2 GB, page cache warm). At 2 GB of weights sha256
was 2 s of a core beside a session that needs the other one (``make bench-sizes``). A
manifest without BLAKE3 digests (built before) is still verified, by sha256.

A file is only ever visible under its final name once it is complete: writers put the
bytes in a temporary file in the same directory (so the rename stays on one file
system), fsync it, then ``os.replace`` it into place.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

from .errors import IntegrityError

#: the manifest's file name in an artifact directory (here, not in manifest.py, so that a
#: reader may find it without importing the manifest's types: backends/early.py)
MANIFEST_FILENAME = "manifest.json"


#: How much of a file is mapped at once while it is hashed. The hash never copies the bytes
#: out of the page cache, but mapped pages count in the process's resident memory: mapped
#: whole, 87 MB of weights hashed while ONNX Runtime maps and packs the same file put the
#: peak RSS of a cold start 60 MB up (measured: 182 MB against 121).
_HASH_WINDOW = 16 * 1024 * 1024


def _hash_file(path: str | os.PathLike[str], hasher: Any) -> str:
    """Feed a file to ``hasher`` window by window (mapped: no copy); both hashes release the GIL meanwhile."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        for offset in range(0, size, _HASH_WINDOW):
            with mmap.mmap(handle.fileno(), min(_HASH_WINDOW, size - offset), offset=offset,
                           access=mmap.ACCESS_READ) as window:
                hasher.update(window)
    return str(hasher.hexdigest())


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file."""
    import hashlib  # OpenSSL's init (~2.5 ms) off the cold path: the runtime checks BLAKE3 where it can

    return _hash_file(path, hashlib.sha256())


def blake3_file(path: str | os.PathLike[str]) -> str:
    """Return the hex BLAKE3 of a file."""
    import blake3  # the runtime's and the build's dependency; imported when a file is hashed

    return _hash_file(path, blake3.blake3())


class FileDigest:
    """A streaming hash of one file's bytes, in the algorithm the runtime verifies it with.

    BLAKE3 when the manifest records the file's BLAKE3, sha256 otherwise (the module
    docstring says why). For readers that see the bytes go by (a copy, a download).
    """

    def __init__(self, *, sha256: str, blake3: str | None = None) -> None:
        self._hasher: Any
        if blake3:
            import blake3 as _blake3

            self.algorithm, self.expected, self._hasher = "blake3", blake3, _blake3.blake3()
        else:
            import hashlib

            self.algorithm, self.expected, self._hasher = "sha256", sha256, hashlib.sha256()

    def update(self, data: bytes | memoryview) -> None:
        self._hasher.update(data)

    def hexdigest(self) -> str:
        return str(self._hasher.hexdigest())

    def matches(self) -> bool:
        return self.hexdigest() == self.expected


def verify_file(path: str | os.PathLike[str], *, size: int, sha256: str, blake3: str | None = None) -> None:
    """Hash a file and raise IntegrityError unless it matches: BLAKE3 when the manifest has it, else sha256."""
    path = Path(path)
    if not path.is_file():
        raise IntegrityError(f"{path} is missing; rebuild or re-fetch the artifact")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise IntegrityError(
            f"{path}: expected {size} bytes, found {actual_size}; rebuild or re-fetch the artifact"
        )
    algorithm, expected = ("blake3", blake3) if blake3 else ("sha256", sha256)
    actual = blake3_file(path) if blake3 else sha256_file(path)
    if actual != expected:
        raise IntegrityError(
            f"{path}: {algorithm} {actual} does not match the manifest's {expected}; "
            "rebuild or re-fetch the artifact"
        )


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see either the old file or the whole new one."""
    import tempfile  # writers only (builds, the disk tier): not on a bundled model's cold path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; artifacts are read by other users (a container's runtime user).
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        # Never leave a half-written temporary file behind, whatever interrupted us.
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
