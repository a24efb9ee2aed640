"""Model artifacts: the manifest that describes one, and verified reads of its files.

Build-time code (export, publish) lives in ``tools/``; this package holds only what
the runtime needs to trust what it loads.
"""

from .errors import ArtifactError, IntegrityError, ManifestError
from .files import FileDigest, atomic_write_bytes, blake3_file, sha256_file, verify_file
from .manifest import (
    MANIFEST_FILENAME,
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
