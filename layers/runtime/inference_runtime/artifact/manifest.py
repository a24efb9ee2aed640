"""The artifact manifest: what a model directory holds, and how to prove it.

``manifest.json`` sits beside the files it describes. It names the model, its version
and format, how the runtime should drive it (``model``), where the weights came from
(``source``), and every file with its size and sha256. Nothing in an artifact is loaded
before its bytes have been checked against this list.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ManifestError
from .files import atomic_write_bytes, sha256_file, verify_file

MANIFEST_FILENAME = "manifest.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact: its path relative to the artifact root, size and sha256."""

    path: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        pure = PurePosixPath(self.path)
        # A manifest is data from outside the process: never let it name a file
        # outside the artifact directory.
        if not self.path or pure.is_absolute() or ".." in pure.parts:
            raise ManifestError(f"file path {self.path!r} must be relative and stay inside the artifact")
        if not isinstance(self.size, int) or self.size < 0:
            raise ManifestError(f"{self.path}: size must be a non-negative integer, got {self.size!r}")
        if not (isinstance(self.sha256, str) and len(self.sha256) == 64
                and all(c in "0123456789abcdef" for c in self.sha256)):
            raise ManifestError(f"{self.path}: sha256 must be 64 lowercase hex digits")


@dataclass(frozen=True)
class Manifest:
    """A model artifact's description; see the module docstring for the fields."""

    name: str
    version: str
    format: str
    files: tuple[FileEntry, ...]
    model: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label in ("name", "version", "format"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value:
                raise ManifestError(f"manifest field {label!r} must be a non-empty string")
        paths = [entry.path for entry in self.files]
        if len(paths) != len(set(paths)):
            raise ManifestError("manifest lists the same file twice")

    def file(self, path: str) -> FileEntry:
        """Return the entry for ``path``, or raise ManifestError naming what is there."""
        for entry in self.files:
            if entry.path == path:
                return entry
        listed = ", ".join(e.path for e in self.files) or "nothing"
        raise ManifestError(f"the manifest of {self.name} lists no {path!r} (it lists {listed})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "version": self.version,
            "format": self.format,
            "model": self.model,
            "source": self.source,
            "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in self.files],
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        if not isinstance(data, dict):
            raise ManifestError("a manifest must be a JSON object")
        if data.get("schema") != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema {data.get('schema')!r} is not supported (expected {SCHEMA_VERSION}); "
                "rebuild the artifact with this version of the tools"
            )
        try:
            files = tuple(FileEntry(f["path"], f["size"], f["sha256"]) for f in data["files"])
            return cls(
                name=data["name"],
                version=data["version"],
                format=data["format"],
                files=files,
                model=dict(data.get("model") or {}),
                source=dict(data.get("source") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"manifest is missing or mistypes a required field: {exc}") from exc


def describe_files(root: str | os.PathLike[str], paths: list[str]) -> tuple[FileEntry, ...]:
    """Hash the named files under ``root`` into manifest entries."""
    root = Path(root)
    return tuple(
        FileEntry(path=p, size=(root / p).stat().st_size, sha256=sha256_file(root / p)) for p in paths
    )


def content_version(files: tuple[FileEntry, ...]) -> str:
    """A version derived from the files' hashes: the same bytes always get the same version."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e.path):
        digest.update(f"{entry.path}\0{entry.sha256}\n".encode())
    return digest.hexdigest()[:12]


def read_manifest(root: str | os.PathLike[str]) -> Manifest:
    """Read and validate ``manifest.json`` in ``root``."""
    path = Path(root) / MANIFEST_FILENAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ManifestError(
            f"no {MANIFEST_FILENAME} in {root}; build the artifact first (make artifact) "
            "or point MODEL_ARTIFACT_DIR at one"
        ) from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from exc
    return Manifest.from_dict(data)


def write_manifest(root: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write ``manifest.json`` into ``root`` atomically and return its path."""
    path = Path(root) / MANIFEST_FILENAME
    atomic_write_bytes(path, (json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n").encode())
    return path


def verify_artifact(root: str | os.PathLike[str], manifest: Manifest | None = None) -> Manifest:
    """Check every file the manifest lists; return the manifest when all match."""
    manifest = manifest or read_manifest(root)
    for entry in manifest.files:
        verify_file(Path(root) / entry.path, size=entry.size, sha256=entry.sha256)
    return manifest
