"""The local tiers and the registry, without a network: LRU, verification on reuse, bad entries."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from inference_runtime.artifact import FileEntry
from inference_runtime.cache import BundledSource, CacheCapacityError, DiskTier, ModelCache
from inference_runtime.config import ConfigError
from inference_runtime.registry import load_registry, resolve_model
from tests.helpers import REPO_ROOT


def entry_for(data: bytes, path: str = "f.bin") -> FileEntry:
    return FileEntry(path, len(data), hashlib.sha256(data).hexdigest())


def test_disk_tier_evicts_the_least_recently_used(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=3000)
    a, b, c = (bytes([n]) * 1000 for n in (1, 2, 3))
    for data in (a, b):
        disk.put(entry_for(data), data)
        time.sleep(0.01)
    assert disk.get(entry_for(a)).read_bytes() == a  # a is now the most recently used
    time.sleep(0.01)
    disk.put(entry_for(c), c)
    disk.put(entry_for(b"d" * 1500), b"d" * 1500)  # needs room: b goes first, being least recently used
    assert disk.get(entry_for(b)) is None
    assert disk.used_bytes() <= 3000


def test_disk_tier_never_returns_a_bad_copy(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=10_000)
    data = os.urandom(2000)
    entry = entry_for(data)
    disk.put(entry, data)
    disk.path_for(entry).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    # a reader never gets the bad copy, and leaves it to the writer, who holds the file's lock
    assert disk.get(entry) is None and disk.path_for(entry).exists()
    # the next store (under the lock) removes it and writes the verified bytes in its place
    written = disk.store(entry, lambda into: into.write_bytes(data), stats := {})
    assert stats["fetched_by"] == "this process" and written.read_bytes() == data
    assert disk.get(entry) == written


def test_a_file_evicted_by_another_process_is_a_miss_not_an_error(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=10_000)
    data = os.urandom(2000)
    entry = entry_for(data)
    disk.put(entry, data)
    disk.path_for(entry).unlink()  # as another worker's eviction would, between the checks
    assert disk.get(entry) is None


def test_a_file_larger_than_the_cache_is_a_clear_error(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=1000)
    with pytest.raises(CacheCapacityError, match="raise the function's ephemeral storage"):
        disk.put(entry_for(b"x" * 2000), b"x" * 2000)


def test_bundled_files_are_verified_in_place_and_remembered(tmp_path: Path) -> None:
    data = b"weights" * 100
    (tmp_path / "f.bin").write_bytes(data)
    cache = ModelCache(source=BundledSource(tmp_path))
    stats: dict = {}
    assert cache.get(entry_for(data), stats) == tmp_path / "f.bin" and stats["tier"] == "bundled"
    assert cache.get(entry_for(data), stats := {}) == tmp_path / "f.bin" and stats["tier"] == "memory"
    (tmp_path / "g.bin").write_bytes(b"tampered")
    from inference_runtime.artifact import IntegrityError

    with pytest.raises(IntegrityError):
        cache.get(FileEntry("g.bin", 8, hashlib.sha256(b"original").hexdigest()))


def test_the_shipped_registry_serves_the_bundled_model() -> None:
    entry = resolve_model(REPO_ROOT / "functions" / "inference" / "models.json", "all-MiniLM-L6-v2")
    assert entry.is_bundled


@pytest.mark.parametrize("record, message", [
    ({"source": "https://example.com/x"}, "use 'bundled' or s3://"),
    ({"source": "s3://bucket/prefix/"}, "pins no manifest_sha256"),
])
def test_bad_registry_entries_are_refused(tmp_path: Path, record: dict, message: str) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {"m": record}}))
    with pytest.raises(ConfigError, match=message):
        load_registry(path)


def test_unknown_model_names_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not in the registry .* it lists all-MiniLM-L6-v2"):
        resolve_model(REPO_ROOT / "functions" / "inference" / "models.json", "gpt-5")


def test_eviction_also_removes_the_named_views(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=2500)
    old = b"o" * 1000
    disk.put(entry_for(old), old)
    view = tmp_path / "views" / "m-1" / "model.onnx.data"
    view.parent.mkdir(parents=True)
    os.link(disk.path_for(entry_for(old)), view)
    time.sleep(0.01)
    new = b"n" * 2000
    disk.put(entry_for(new), new)
    assert not view.exists() and not disk.path_for(entry_for(old)).exists()
