"""The shared file tier (``file://``, cache/mounted.py) on a local directory standing in for the mount.

The tiny exported model is copied where a mount would hold it; the function loads it through
the registry, the cache copies each file to its /tmp tier while hashing it, and a file changed
on the "mount" is refused, never served.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.artifact import IntegrityError, ManifestError, read_manifest
from inference_runtime.cache import FetchError, FetchStats, MountedSource, cache_for
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.registry import load_registry
from inference_runtime.service import InferenceService
from lambda_shared.settings import ConfigError
from tests.helpers import body, load_event


def _mount(tiny_artifact_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    """The artifact as an operator copies it onto the file system: <mount>/<name>/<version>/."""
    manifest = read_manifest(tiny_artifact_dir)
    where = tmp_path / "mnt" / "models" / manifest.name / manifest.version
    shutil.copytree(tiny_artifact_dir, where)
    return where, hashlib.sha256((where / "manifest.json").read_bytes()).hexdigest()


def _registry(tmp_path: Path, where: Path, pin: str) -> Path:
    registry = tmp_path / "models.json"
    registry.write_text(json.dumps({"models": {"tiny-efs": {"source": f"file://{where}/", "manifest_sha256": pin}}}))
    return registry


def _service(tmp_path: Path, registry: Path) -> InferenceService:
    return InferenceService(RuntimeConfig.from_env({}, artifact_dir=tmp_path / "no-bundled-model",
                                                   model_registry=registry, model_name="tiny-efs",
                                                   cache_dir=tmp_path / "tmp-cache", model_retry_seconds=0))


def test_a_model_on_a_mounted_file_system_is_served_from_its_verified_copy(tiny_artifact_dir: Path,
                                                                          tmp_path: Path) -> None:
    # GIVEN the tiny model on the "mount", pinned by the registry
    where, pin = _mount(tiny_artifact_dir, tmp_path)
    registry = _registry(tmp_path, where, pin)
    entry = load_registry(registry)["tiny-efs"]
    # WHEN the cache the registry entry names gets every file
    cache = cache_for(entry, RuntimeConfig.from_env({}, cache_dir=tmp_path / "tmp-cache"))
    manifest = cache.source.read_manifest(entry.manifest_sha256)
    for file in manifest.files:
        stats = FetchStats()
        path = cache.get(file, stats)
        # THEN each is a copy in the /tmp tier, not the file on the mount, with the same bytes
        assert stats.tier == "file" and stats.fetched_by == "this process"
        assert (tmp_path / "tmp-cache") in path.parents
        assert path.read_bytes() == (where / file.path).read_bytes()
    # AND a function pointed at it answers, on the manifest the registry pins
    service = _service(tmp_path, registry)
    service.start()
    new_instance()
    answer = build_handler(service)(load_event("predict.json"), None)
    assert answer["statusCode"] == 200, body(answer)
    assert body(answer)["version"] == manifest.version


def test_a_file_changed_on_the_mount_is_refused_and_never_kept(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN the weights on the mount rewritten by someone else after the manifest was pinned (one bit)
    where, pin = _mount(tiny_artifact_dir, tmp_path)
    weights = where / "model.onnx.data" if (where / "model.onnx.data").exists() else where / "model.onnx"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    registry = _registry(tmp_path, where, pin)
    entry = load_registry(registry)["tiny-efs"]
    cache = cache_for(entry, RuntimeConfig.from_env({}, cache_dir=tmp_path / "tmp-cache"))
    manifest = cache.source.read_manifest(pin)
    tampered = manifest.file(weights.name)
    # WHEN it is read THEN it is refused with the reason and the fix, and nothing stays in /tmp
    with pytest.raises(IntegrityError, match="was changed or is being rewritten; copy the artifact again"):
        cache.get(tampered)
    kept = {p.name for p in (tmp_path / "tmp-cache").iterdir()}
    assert tampered.sha256 not in kept and f"{tampered.sha256}.partial" not in kept
    # AND a function answers 503 with that reason, never the changed weights
    service = _service(tmp_path, registry)
    service.start()
    new_instance()
    answer = build_handler(service)(load_event("predict.json"), None)
    assert answer["statusCode"] == 503
    assert "was changed or is being rewritten" in body(answer)["error"]["message"]


def test_a_manifest_that_is_not_the_pinned_one_is_refused(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    where, pin = _mount(tiny_artifact_dir, tmp_path)
    source = MountedSource(f"file://{where}/")
    with pytest.raises(IntegrityError, match="but the model registry pins 0000"):
        source.read_manifest("0" * 64)
    with pytest.raises(ManifestError, match="add manifest_sha256 to models.json"):
        source.read_manifest(None)
    assert source.read_manifest(pin).version == read_manifest(tiny_artifact_dir).version


def test_a_missing_mount_or_file_says_what_to_check(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="is the file system mounted"):
        MountedSource(f"file://{tmp_path}/nothing/here/").read_manifest("0" * 64)
    where, pin = _mount(tiny_artifact_dir, tmp_path)
    source = MountedSource(f"file://{where}/")
    manifest = source.read_manifest(pin)
    (where / manifest.files[0].path).unlink()
    with pytest.raises(FetchError, match="the copy on the file system is incomplete"):
        source.fetch(manifest.files[0], tmp_path / "into.partial", FetchStats())
    assert not (tmp_path / "into.partial").exists()


@pytest.mark.parametrize(("record", "message"), [
    ({"source": "file:///mnt/models/m/1/"}, "pins no manifest_sha256"),
    ({"source": "file://host/mnt/models/", "manifest_sha256": "0" * 64}, "or file:///mnt/<path>/ for a mounted"),
])
def test_file_entries_need_a_pin_and_a_local_path(tmp_path: Path, record: dict, message: str) -> None:
    registry = tmp_path / "models.json"
    registry.write_text(json.dumps({"models": {"m": record}}))
    with pytest.raises(ConfigError, match=message):
        load_registry(registry)


def test_file_uris_are_absolute_local_paths() -> None:
    assert MountedSource("file:///mnt/models/a%20b/1/").root == Path("/mnt/models/a b/1")
    with pytest.raises(ManifestError, match="three slashes"):
        MountedSource("file://efs/models/")
