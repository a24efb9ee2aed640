"""Model artifacts: the manifest that describes one, and verified reads of its files.

Build-time code (export, publish) lives in ``tools/``; this package holds only what
the runtime needs to trust what it loads.
"""

from typing import TYPE_CHECKING

from .errors import ArtifactError, IntegrityError, ManifestError
from .files import MANIFEST_FILENAME, FileDigest, atomic_write_bytes, blake3_file, sha256_file, verify_file

if TYPE_CHECKING:
    from .manifest import (
        CompressedLayout,
        FileEntry,
        Frame,
        Manifest,
        content_version,
        describe_files,
        manifest_bytes,
        parse_manifest,
        read_manifest,
        verify_artifact,
        write_manifest,
    )
    from .spec import GraphSpec, ModelSpec, ScoreActivation, Task, TokenizerSpec

#: Imported on first use (PEP 562): the early session (backends/early.py) verifies the graph
#: with ``files`` before the manifest's and the spec's types are needed (their dataclasses
#: take ~6 ms to create, on the cold start's path if imported with the package).
_LAZY = {name: ".manifest" for name in (
    "CompressedLayout", "FileEntry", "Frame", "Manifest", "content_version", "describe_files",
    "manifest_bytes", "parse_manifest", "read_manifest", "verify_artifact", "write_manifest")}
_LAZY.update({name: ".spec" for name in ("GraphSpec", "ModelSpec", "ScoreActivation", "Task", "TokenizerSpec")})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MANIFEST_FILENAME",
    "ArtifactError",
    "CompressedLayout",
    "Frame",
    "FileEntry",
    "GraphSpec",
    "IntegrityError",
    "Manifest",
    "ManifestError",
    "ModelSpec",
    "ScoreActivation",
    "Task",
    "TokenizerSpec",
    "atomic_write_bytes",
    "content_version",
    "describe_files",
    "manifest_bytes",
    "parse_manifest",
    "read_manifest",
    "FileDigest",
    "blake3_file",
    "sha256_file",
    "verify_artifact",
    "verify_file",
    "write_manifest",
]
