"""The model registry (``models.json``): which models exist and where each one lives.

    {"models": {
       "all-MiniLM-L6-v2":        {"source": "bundled"},
       "all-MiniLM-L6-v2-remote": {"source": "s3://my-bucket/models/all-MiniLM-L6-v2/0737442ed8dd/",
                                   "manifest_sha256": "…", "version": "0737442ed8dd"},
       "all-mpnet-base-v2-efs":   {"source": "file:///mnt/models/all-mpnet-base-v2/4f1c0e2a9b7d/",
                                   "manifest_sha256": "…", "version": "4f1c0e2a9b7d"}}}

A function serves the model MODEL_NAME names; each tier can name a different one.
The registry ships with the code (the image, the zip), so the only places a function
ever fetches from are the ones written here, and nothing in a request can change that.
An S3 entry pins its manifest's sha256 (``tools.publish`` writes it), and the manifest
pins every file's: one chain of hashes from the code to the weights. A ``file://`` entry
(an artifact directory on a mounted file system: EFS or S3 Files, ``cache/mounted.py``)
pins it the same way: the sha256 of the ``manifest.json`` copied there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lambda_shared.settings import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    source: str                        # "bundled", "s3://bucket/prefix/" or "file:///mnt/path/"
    manifest_sha256: str | None = None
    version: str | None = None

    @property
    def is_bundled(self) -> bool:
        return self.source == "bundled"


def load_registry(path: Path) -> dict[str, ModelEntry]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"model registry {path} not found; set MODEL_REGISTRY to a models.json") from exc
    except ValueError as exc:
        raise ConfigError(f"model registry {path} is not valid JSON: {exc}") from exc
    models = {}
    for name, record in (data.get("models") or {}).items():
        source = record.get("source", "")
        if source != "bundled" and not source.startswith(("s3://", "file:///")):
            raise ConfigError(f"{path}: model {name!r} has source {source!r}; use 'bundled' or s3://bucket/prefix/, "
                              "or file:///mnt/<path>/ for a mounted file system")
        if source.startswith("s3://") and not record.get("manifest_sha256"):
            raise ConfigError(f"{path}: model {name!r} comes from S3 but pins no manifest_sha256; "
                              "publish it with tools.publish, which writes the entry")
        if source.startswith("file:///") and not record.get("manifest_sha256"):
            # A shared file system is writable by others: the pin is what makes its bytes ours.
            raise ConfigError(f"{path}: model {name!r} comes from a mounted file system but pins no "
                              "manifest_sha256; add the sha256 of the manifest.json copied there "
                              "(sha256sum <dir>/manifest.json)")
        models[name] = ModelEntry(name, source, record.get("manifest_sha256"), record.get("version"))
    return models


def resolve_model(path: Path, name: str) -> ModelEntry:
    models = load_registry(path)
    if name not in models:
        raise ConfigError(f"MODEL_NAME={name!r} is not in the registry {path}; it lists "
                          f"{', '.join(sorted(models)) or 'no models'}")
    return models[name]
