"""The local tiers, the S3 source against a fake client, and the registry, without a network:
LRU, eviction that skips a file being fetched, the disk-space refusal, verification on reuse,
one frame re-fetch on a bad hash, bad registry entries."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from inference_runtime.artifact import CompressedLayout, FileEntry, Frame, IntegrityError
from inference_runtime.cache import BundledSource, CacheCapacityError, DiskTier, FetchStats, ModelCache, S3Source
from inference_runtime.registry import load_registry, resolve_model
from lambda_shared.settings import ConfigError
from tests.helpers import REPO_ROOT


def entry_for(data: bytes, path: str = "f.bin") -> FileEntry:
    return FileEntry(path, len(data), hashlib.sha256(data).hexdigest())


def put(disk: DiskTier, data: bytes) -> Path:
    """Store ``data`` through the tier's one way in (a writer that writes verified bytes)."""
    return disk.store(entry_for(data), lambda into: into.write_bytes(data))


def test_disk_tier_evicts_the_least_recently_used(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=3000)
    a, b, c = (bytes([n]) * 1000 for n in (1, 2, 3))
    for data in (a, b):
        put(disk, data)
        time.sleep(0.01)
    assert (got := disk.get(entry_for(a))) is not None and got.read_bytes() == a  # a is now the most recently used
    time.sleep(0.01)
    put(disk, c)
    put(disk, b"d" * 1500)  # needs room: b goes first, being least recently used
    assert disk.get(entry_for(b)) is None
    assert disk.used_bytes() <= 3000


def test_disk_tier_never_returns_a_bad_copy(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=10_000)
    data = os.urandom(2000)
    entry = entry_for(data)
    put(disk, data)
    disk.path_for(entry).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    # a reader never gets the bad copy, and leaves it to the writer, who holds the file's lock
    assert disk.get(entry) is None and disk.path_for(entry).exists()
    # the next store (under the lock) removes it and writes the verified bytes in its place
    written = disk.store(entry, lambda into: into.write_bytes(data), stats := FetchStats())
    assert stats.fetched_by == "this process" and written.read_bytes() == data
    assert disk.get(entry) == written


def test_a_file_evicted_by_another_process_is_a_miss_not_an_error(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=10_000)
    data = os.urandom(2000)
    entry = entry_for(data)
    put(disk, data)
    disk.path_for(entry).unlink()  # as another worker's eviction would, between the checks
    assert disk.get(entry) is None


def test_a_file_larger_than_the_cache_is_a_clear_error(tmp_path: Path) -> None:
    disk = DiskTier(tmp_path, max_bytes=1000)
    with pytest.raises(CacheCapacityError, match="raise the function's ephemeral storage"):
        put(disk, b"x" * 2000)


def test_bundled_files_are_verified_in_place_and_remembered(tmp_path: Path) -> None:
    data = b"weights" * 100
    (tmp_path / "f.bin").write_bytes(data)
    cache = ModelCache(source=BundledSource(tmp_path))
    stats = FetchStats()
    assert cache.get(entry_for(data), stats) == tmp_path / "f.bin" and stats.tier == "bundled"
    assert cache.get(entry_for(data), stats := FetchStats()) == tmp_path / "f.bin" and stats.tier == "memory"
    (tmp_path / "g.bin").write_bytes(b"tampered")
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
    put(disk, old)
    view = tmp_path / "views" / "m-1" / "model.onnx.data"
    view.parent.mkdir(parents=True)
    os.link(disk.path_for(entry_for(old)), view)
    time.sleep(0.01)
    new = b"n" * 2000
    put(disk, new)
    assert not view.exists() and not disk.path_for(entry_for(old)).exists()


def test_eviction_skips_a_file_another_worker_is_fetching(tmp_path: Path) -> None:
    # GIVEN a full cache whose only file is held under its lock by another worker (fetching it again)
    disk = DiskTier(tmp_path, max_bytes=2500)
    busy = b"b" * 1000
    put(disk, busy)
    locked, release = threading.Event(), threading.Event()

    def fetching() -> None:
        with open(tmp_path / f"{entry_for(busy).sha256}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            locked.set()
            release.wait(timeout=30)
            fcntl.flock(lock, fcntl.LOCK_UN)

    worker = threading.Thread(target=fetching)
    worker.start()
    locked.wait(timeout=30)
    try:
        # WHEN another file needs its room THEN the busy file is not evicted: the new one is refused
        with pytest.raises(CacheCapacityError, match="do not fit"):
            put(disk, b"n" * 2000)
        assert disk.path_for(entry_for(busy)).read_bytes() == busy
    finally:
        release.set()
        worker.join()
    # AND once the lock is released, it is evicted like any other file
    put(disk, b"n" * 2000)
    assert not disk.path_for(entry_for(busy)).exists()


def test_not_enough_disk_is_refused_clearly_and_leaves_nothing_behind(tmp_path: Path) -> None:
    # GIVEN a cache limit that allows the file, on a file system with 500 bytes free
    disk = DiskTier(tmp_path, max_bytes=10_000,
                    disk_usage=lambda root: SimpleNamespace(total=1_000_000, used=999_500, free=500))
    data = os.urandom(2000)
    written: list[Path] = []

    def write(into: Path) -> None:
        written.append(into)
        into.write_bytes(data)

    # WHEN a 2000-byte file is stored THEN it is refused, naming the fix, before anything is written
    with pytest.raises(CacheCapacityError, match=r"MiB free.*raise EphemeralStorageSize or MODEL_CACHE_MAX_MB"):
        disk.store(entry_for(data), write)
    assert written == []
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_the_tier_sizes_itself_from_the_setting_or_the_disk(tmp_path: Path) -> None:
    usage = SimpleNamespace(total=10 * 2**20, used=0, free=10 * 2**20)
    assert DiskTier(tmp_path, max_mb=3, disk_usage=lambda root: usage).max_bytes == 3 * 2**20
    assert DiskTier(tmp_path, disk_usage=lambda root: usage).max_bytes == int(10 * 2**20 * 0.9)


# --- the S3 source against a fake client: one re-fetch of a frame whose bytes fail their sha256 ----

class FakeS3:
    """A fake S3 client: ranged GETs of one object, corrupting the first ``bad`` responses of chosen frames."""

    def __init__(self, body: bytes, bad: dict[int, int]) -> None:
        self.body = body
        self.bad = dict(bad)            # frame offset -> how many responses to corrupt
        self.gets: Counter[int] = Counter()
        self.lock = threading.Lock()

    def get_object(self, *, Bucket: str, Key: str, Range: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        start, end = (int(n) for n in Range.removeprefix("bytes=").split("-"))
        with self.lock:
            self.gets[start] += 1
            if self.gets[start] > 3:    # a runaway retry loop would otherwise spin for ever
                raise AssertionError(f"frame at {start} fetched {self.gets[start]} times")
            corrupt = self.bad.get(start, 0) > 0
            if corrupt:
                self.bad[start] -= 1
        data = bytearray(self.body[start:end + 1])
        if corrupt:
            data[0] ^= 0xFF
        return {"Body": io.BytesIO(bytes(data))}


class FakeClientS3Source(S3Source):
    """S3Source over a fake client (the client is the boundary; everything else is the real fetch)."""

    def __init__(self, client: FakeS3) -> None:
        super().__init__("s3://bucket/models/m/1/", parallelism=2)
        self.fake = client

    def client(self) -> Any:
        return self.fake


def published(tmp_path: Path) -> tuple[FileEntry, bytes, bytes]:
    from tools.publish import compress_frames

    raw = os.urandom(3000) * 4                                      # 12000 bytes, 4 frames of 3000
    (tmp_path / "raw").write_bytes(raw)
    size, digest, rows = compress_frames(tmp_path / "raw", tmp_path / "raw.zst", frame_bytes=3000, level=3,
                                         workers=2)
    layout = CompressedLayout(key="models/m/1/f.bin.zst", size=size, sha256=digest,
                              frames=tuple(Frame(*row) for row in rows))
    entry = FileEntry("f.bin", len(raw), hashlib.sha256(raw).hexdigest(), layout)
    return entry, raw, (tmp_path / "raw.zst").read_bytes()


def second_frame(entry: FileEntry) -> int:
    assert entry.compressed is not None
    return entry.compressed.frames[1].offset


def test_a_frame_that_fails_its_hash_is_fetched_once_more(tmp_path: Path) -> None:
    entry, raw, body = published(tmp_path)
    fake = FakeS3(body, bad={second_frame(entry): 1})
    cache = ModelCache(source=FakeClientS3Source(fake), disk=DiskTier(tmp_path / "cache", max_bytes=10**6))
    stats = FetchStats()
    assert cache.get(entry, stats).read_bytes() == raw
    assert (stats.tier, stats.frames, stats.frames_fetched, stats.refetched) == ("s3", 4, 4, 1)
    assert fake.gets[second_frame(entry)] == 2 and sum(fake.gets.values()) == 5


def test_a_frame_bad_twice_is_a_clear_error_and_no_more_gets(tmp_path: Path) -> None:
    entry, _, body = published(tmp_path)
    fake = FakeS3(body, bad={second_frame(entry): 99})
    cache = ModelCache(source=FakeClientS3Source(fake), disk=DiskTier(tmp_path / "cache", max_bytes=10**6))
    with pytest.raises(IntegrityError, match=r"frame 1 of f.bin failed its hash twice.*republish the model"):
        cache.get(entry)
    assert fake.gets[second_frame(entry)] == 2
    assert not (tmp_path / "cache" / entry.sha256).exists()         # nothing unverified under the final name
