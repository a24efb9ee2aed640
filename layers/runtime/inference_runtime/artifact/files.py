"""File primitives every artifact reader and writer shares: hashing and atomic writes.

A file is only ever visible under its final name once it is complete: writers put the
bytes in a temporary file in the same directory (so the rename stays on one file
system), fsync it, then ``os.replace`` it into place.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path

from .errors import IntegrityError


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file.

    The file is mapped and hashed in one call: no copy out of the page cache, and
    hashlib releases the GIL for the whole file, so other threads run meanwhile.
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return hashlib.sha256(b"").hexdigest()
        with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as mapped:
            return hashlib.sha256(mapped).hexdigest()


def verify_file(path: str | os.PathLike[str], *, size: int, sha256: str) -> None:
    """Stream a file through sha256 and raise IntegrityError unless it matches."""
    path = Path(path)
    if not path.is_file():
        raise IntegrityError(f"{path} is missing; rebuild or re-fetch the artifact")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise IntegrityError(
            f"{path}: expected {size} bytes, found {actual_size}; rebuild or re-fetch the artifact"
        )
    actual = sha256_file(path)
    if actual != sha256:
        raise IntegrityError(
            f"{path}: sha256 {actual} does not match the manifest's {sha256}; "
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
