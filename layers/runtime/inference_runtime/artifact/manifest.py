"""The artifact manifest: what a model directory holds, and how to prove it.

``manifest.json`` sits beside the files it describes. It names the model, its version
and format, how the runtime should drive it (``model``: a typed ``ModelSpec``, ``spec.py``),
where the weights came from and how the build checked them (``source``: for people, never
read by the runtime), the cold start the build measured (``init``, optional: read by the
template's init-budget check, tools/template/init_budget.py, never by the runtime), and every
file with its size and sha256. Nothing in an artifact is loaded before its bytes have been
checked against this list.

Schema 2 is the typed contract. A schema-1 manifest (a loose ``model`` dict) is refused
with the fix (rebuild it: make artifact) rather than read through aliases.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ManifestError
from .files import MANIFEST_FILENAME, atomic_write_bytes, blake3_file, sha256_file, verify_file
from .spec import ModelSpec, Task

#: 2: ``model`` is a ModelSpec (task, graph, tokenizer sections). 1 had a loose dict.
SCHEMA_VERSION = 2


def _check_sha256(value: object, label: str, algorithm: str = "sha256") -> None:
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ManifestError(f"{label}: {algorithm} must be 64 lowercase hex digits")


@dataclass(frozen=True)
class Frame:
    """One independent zstd frame of a published file: where it is and what its bytes hash to."""

    offset: int          # in the compressed object
    size: int            # compressed bytes
    sha256: str          # of the compressed bytes
    raw_offset: int      # in the original file
    raw_size: int
    blake3: str | None = None  # of the compressed bytes: what the runtime checks when present


@dataclass(frozen=True)
class CompressedLayout:
    """How a file is stored when published: zstd in independent frames, one object."""

    key: str
    size: int
    sha256: str
    frames: tuple[Frame, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "sha256": self.sha256,
                "frames": [[f.offset, f.size, f.sha256, f.raw_offset, f.raw_size, *([f.blake3] if f.blake3 else [])]
                           for f in self.frames]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str) -> CompressedLayout:
        frames = tuple(Frame(*row) for row in data["frames"])
        _check_sha256(data["sha256"], f"{path} (compressed)")
        for frame in frames:
            _check_sha256(frame.sha256, f"{path} frame at {frame.offset}")
            if frame.blake3 is not None:
                _check_sha256(frame.blake3, f"{path} frame at {frame.offset}", "blake3")
        return cls(key=data["key"], size=int(data["size"]), sha256=data["sha256"], frames=frames)


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact: its path relative to the artifact root, size and sha256.

    A published artifact's entries also say how the file is stored (``compressed``).
    """

    path: str
    size: int
    sha256: str
    compressed: CompressedLayout | None = None
    #: the file's BLAKE3, what the runtime verifies it with (files.py says why); None: sha256
    blake3: str | None = None

    def __post_init__(self) -> None:
        pure = PurePosixPath(self.path)
        # A manifest is data from outside the process: never let it name a file
        # outside the artifact directory.
        if not self.path or pure.is_absolute() or ".." in pure.parts:
            raise ManifestError(f"file path {self.path!r} must be relative and stay inside the artifact")
        if not isinstance(self.size, int) or self.size < 0:
            raise ManifestError(f"{self.path}: size must be a non-negative integer, got {self.size!r}")
        _check_sha256(self.sha256, self.path)
        if self.blake3 is not None:
            _check_sha256(self.blake3, self.path, "blake3")
        if self.compressed is not None:
            # The frames tile the file: each starts where the one before ended, and they end at its size.
            # What a fetch writes is then exactly what the verified frames decode to (cache/s3.py).
            end = 0
            for index, frame in enumerate(self.compressed.frames):
                if frame.raw_offset != end:
                    raise ManifestError(f"{self.path}: frame {index} starts at byte {frame.raw_offset}, not {end}, "
                                        "where the frame before it ended; republish the model")
                end += frame.raw_size
            if end != self.size:
                raise ManifestError(f"{self.path}: the frames do not add up to the file's {self.size} bytes")


@dataclass(frozen=True)
class InitRecord:
    """The init the build measured: a fresh process, the template's handler, spawn to ready.

    Kept in the manifest so that it travels with the artifact (published, pinned by the
    manifest's sha256) to whatever decides where the model may run: ``cpu_ms / init_ms``
    is how many cores the init kept busy, which is what scales it to Lambda's vCPUs.
    """

    init_ms: float       # spawn -> handler module imported and model loaded (Lambda's init phase)
    cpu_ms: float        # user + system CPU time of that process
    cpus: int            # os.cpu_count() of the machine that measured it
    python: str          # "3.12.7"
    measured_at: str     # ISO 8601 date, UTC
    runs: int = 1        # init_ms is the median of this many fresh processes
    peak_rss_mb: float = 0.0  # that process's peak resident memory after its first response (0: not measured)

    def __post_init__(self) -> None:
        if not (self.init_ms > 0 and self.cpu_ms >= 0 and self.cpus >= 1 and self.runs >= 1):
            raise ManifestError(f"manifest field 'init' is not a measurement: {self}")

    def to_dict(self) -> dict[str, Any]:
        return {"init_ms": round(self.init_ms, 1), "cpu_ms": round(self.cpu_ms, 1), "cpus": self.cpus,
                "python": self.python, "measured_at": self.measured_at, "runs": self.runs,
                "peak_rss_mb": round(self.peak_rss_mb, 1)}

    @classmethod
    def from_dict(cls, data: Any) -> InitRecord:
        if not isinstance(data, dict):
            raise ManifestError("manifest field 'init' must be an object (init_ms, cpu_ms, cpus, python, measured_at)")
        try:
            return cls(init_ms=float(data["init_ms"]), cpu_ms=float(data["cpu_ms"]), cpus=int(data["cpus"]),
                       python=str(data["python"]), measured_at=str(data["measured_at"]),
                       runs=int(data.get("runs", 1)), peak_rss_mb=float(data.get("peak_rss_mb", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest field 'init' is missing or mistypes {exc}") from exc


@dataclass(frozen=True)
class Manifest:
    """A model artifact's description; see the module docstring for the fields."""

    name: str
    version: str
    format: str
    files: tuple[FileEntry, ...]
    model: ModelSpec
    source: dict[str, Any] = field(default_factory=dict)
    init: InitRecord | None = None

    def __post_init__(self) -> None:
        for label in ("name", "version", "format"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value:
                raise ManifestError(f"manifest field {label!r} must be a non-empty string")
        paths = [entry.path for entry in self.files]
        if len(paths) != len(set(paths)):
            raise ManifestError("manifest lists the same file twice")
        if not isinstance(self.model, ModelSpec):
            raise ManifestError("manifest field 'model' must be a ModelSpec")

    @property
    def task(self) -> Task:
        """What the model does (``model.task``)."""
        return self.model.task

    def file(self, path: str) -> FileEntry:
        """Return the entry for ``path``, or raise ManifestError naming what is there."""
        for entry in self.files:
            if entry.path == path:
                return entry
        listed = ", ".join(e.path for e in self.files) or "nothing"
        raise ManifestError(f"the manifest of {self.name} lists no {path!r} (it lists {listed})")

    def to_dict(self) -> dict[str, Any]:
        data = {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "version": self.version,
            "format": self.format,
            "model": self.model.to_dict(),
            "source": self.source,
            "files": [_entry_dict(e) for e in self.files],
        }
        # Absent when unmeasured, so a manifest without it keeps its bytes (and its pinned sha256).
        if self.init is not None:
            data["init"] = self.init.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise ManifestError("a manifest must be a JSON object")
        if data.get("schema") == 1:
            raise ManifestError(
                "this artifact's manifest is schema 1 (built by an older version of these tools); this runtime "
                f"reads schema {SCHEMA_VERSION}: rebuild the artifact (make artifact) and, if published, "
                "publish it again")
        if data.get("schema") != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema {data.get('schema')!r} is not supported (expected {SCHEMA_VERSION}); "
                "rebuild the artifact with this version of the tools"
            )
        try:
            files = tuple(
                FileEntry(f["path"], f["size"], f["sha256"],
                          CompressedLayout.from_dict(f["compressed"], f["path"]) if f.get("compressed") else None,
                          f.get("blake3"))
                for f in data["files"])
            return cls(
                name=data["name"],
                version=data["version"],
                format=data["format"],
                files=files,
                model=ModelSpec.from_dict(data.get("model")),
                source=dict(data.get("source") or {}),
                init=InitRecord.from_dict(data["init"]) if data.get("init") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest is missing or mistypes a required field: {exc}") from exc


def _entry_dict(entry: FileEntry) -> dict[str, Any]:
    record: dict[str, Any] = {"path": entry.path, "size": entry.size, "sha256": entry.sha256}
    if entry.blake3 is not None:
        record["blake3"] = entry.blake3
    if entry.compressed is not None:
        record["compressed"] = entry.compressed.to_dict()
    return record


def manifest_bytes(manifest: Manifest) -> bytes:
    """The canonical serialisation: what is written, uploaded and pinned by sha256."""
    return (json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n").encode()


def parse_manifest(raw: bytes, origin: str) -> Manifest:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ManifestError(f"{origin} is not valid JSON: {exc}") from exc
    return Manifest.from_dict(data)


def describe_files(root: str | os.PathLike[str], paths: list[str]) -> tuple[FileEntry, ...]:
    """Hash the named files under ``root`` into manifest entries."""
    root = Path(root)
    return tuple(
        FileEntry(path=p, size=(root / p).stat().st_size, sha256=sha256_file(root / p), blake3=blake3_file(root / p))
        for p in paths
    )


def content_version(files: tuple[FileEntry, ...]) -> str:
    """A version derived from the files' hashes: the same bytes always get the same version."""
    import hashlib

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
    return parse_manifest(raw, str(path))


def write_manifest(root: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write ``manifest.json`` into ``root`` atomically and return its path."""
    path = Path(root) / MANIFEST_FILENAME
    atomic_write_bytes(path, manifest_bytes(manifest))
    return path


def verify_artifact(root: str | os.PathLike[str], manifest: Manifest | None = None) -> Manifest:
    """Check every file the manifest lists; return the manifest when all match."""
    manifest = manifest or read_manifest(root)
    for entry in manifest.files:
        verify_file(Path(root) / entry.path, size=entry.size, sha256=entry.sha256, blake3=entry.blake3)
    return manifest
