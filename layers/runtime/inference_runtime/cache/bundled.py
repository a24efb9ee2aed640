"""The model bundled in the image: files read in place, verified on every load."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..artifact import MANIFEST_FILENAME, IntegrityError, read_manifest
from .base import Source

if TYPE_CHECKING:
    from ..artifact import Manifest


class BundledSource(Source):
    """An artifact directory in the image (read-only): nothing to fetch, everything to verify."""

    name = "bundled"

    def __init__(self, root: Path) -> None:
        self.local_dir = Path(root)

    def read_manifest(self, expected_sha256: str | None = None) -> Manifest:
        root = self.local_dir
        assert root is not None  # nosec B101 (set in __init__)
        if expected_sha256 is not None:
            import hashlib

            actual = hashlib.sha256((root / MANIFEST_FILENAME).read_bytes()).hexdigest()
            if actual != expected_sha256:
                raise IntegrityError(f"{root / MANIFEST_FILENAME} has sha256 {actual}, but the model registry "
                                     f"pins {expected_sha256}; rebuild the image or update models.json")
        return read_manifest(root)
