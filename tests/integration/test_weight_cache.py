"""Weights from S3 to memory, against a real S3-compatible server on loopback (SeaweedFS).

The server is started once for this module and stopped at its end; boto3 talks to
it over HTTP. Faults are real: bytes flipped in the stored object or the cached file,
a cache too small, an endpoint nobody listens on, what a fetch cut off part way leaves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.artifact import IntegrityError, read_manifest
from inference_runtime.cache import CacheCapacityError, DiskTier, FetchError, FetchStats, ModelCache, S3Source
from inference_runtime.cache.s3 import PROGRESS_SUFFIX
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.service import InferenceService
from tests.helpers import body, load_event
from tools.local.emulator import free_port, start_function
from tools.local.s3server import SeaweedS3
from tools.publish import publish, write_registry_entry

pytestmark = pytest.mark.integration
BUCKET = "models"


@pytest.fixture(scope="module")
def s3server() -> Iterator[SeaweedS3]:
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    with SeaweedS3() as server:
        server.client().create_bucket(Bucket=BUCKET)
        os.environ.update(AWS_ENDPOINT_URL_S3=server.endpoint_url, AWS_ACCESS_KEY_ID="local",
                          AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1")
        yield server
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def published(s3server: SeaweedS3, artifact_dir: Path) -> dict[str, Any]:
    return publish(artifact_dir, f"s3://{BUCKET}/prod/", endpoint_url=s3server.endpoint_url, progress=False,
                   name="minilm-remote")


def remote_cache(entry: dict[str, Any], cache_dir: Path, **source: Any) -> tuple[Any, ModelCache]:
    remote = S3Source(entry["source"], **source)
    manifest = remote.read_manifest(entry["manifest_sha256"])
    return manifest, ModelCache(disk=DiskTier(cache_dir, max_bytes=400 * 2**20), source=remote)


def disk_of(cache: ModelCache) -> DiskTier:
    assert cache.disk is not None
    return cache.disk


def test_publish_twice_skips_what_is_there_and_writes_the_registry(published: dict[str, Any], s3server: SeaweedS3,
                                                                    artifact_dir: Path, tmp_path: Path) -> None:
    assert len(published["uploaded"]) == 4  # three files and the manifest
    again = publish(artifact_dir, f"s3://{BUCKET}/prod/", endpoint_url=s3server.endpoint_url, progress=False)
    assert (again["uploaded"], len(again["skipped"])) == ([], 4)
    assert again["entry"] == published["entry"]
    registry = tmp_path / "models.json"
    write_registry_entry(registry, "minilm-remote", published["entry"])
    assert json.loads(registry.read_text())["models"]["minilm-remote"]["manifest_sha256"] == \
        published["entry"]["manifest_sha256"]
    head = s3server.client().head_object(Bucket=BUCKET, Key=published["uploaded"][1])
    assert len(head["Metadata"]["sha256"]) == 64


def test_fetch_gives_the_exact_bytes_then_memory_then_disk(published: dict[str, Any], artifact_dir: Path,
                                                           tmp_path: Path) -> None:
    manifest, cache = remote_cache(published["entry"], tmp_path)
    for entry in manifest.files:
        stats = FetchStats()
        assert cache.get(entry, stats).read_bytes() == (artifact_dir / entry.path).read_bytes()
        assert stats.tier == "s3" and stats.frames_fetched == len(entry.compressed.frames)
        assert cache.get(entry, stats := FetchStats()).name == entry.path and stats.tier == "memory"
    # a new environment on the same /tmp (a warm container's disk) reads L2, verified
    _, fresh = remote_cache(published["entry"], tmp_path)
    weights = manifest.file("model.onnx.data")
    stats = FetchStats()
    fresh.get(weights, stats)
    assert stats.tier == "disk"
    assert not list(tmp_path.glob("*.partial*"))


def test_a_corrupted_cached_file_is_detected_and_refetched(published: dict[str, Any], tmp_path: Path) -> None:
    manifest, cache = remote_cache(published["entry"], tmp_path)
    tokenizer = manifest.file("tokenizer.json")
    good = cache.get(tokenizer).read_bytes()
    cached = disk_of(cache).path_for(tokenizer)
    flipped = bytearray(cached.read_bytes())
    flipped[100] ^= 0x01
    cached.unlink()  # replace the file, not write through the view's hard link to it
    cached.write_bytes(bytes(flipped))
    _, fresh = remote_cache(published["entry"], tmp_path)
    stats = FetchStats()
    assert fresh.get(tokenizer, stats).read_bytes() == good
    assert stats.tier == "s3"


def test_a_corrupted_object_is_refetched_then_refused_and_never_served(s3server: SeaweedS3, artifact_dir: Path,
                                                                      tmp_path: Path) -> None:
    # GIVEN a published model whose stored weights then lose one bit
    result = publish(artifact_dir, f"s3://{BUCKET}/corrupt/", endpoint_url=s3server.endpoint_url, progress=False)
    key = next(k for k in result["uploaded"] if k.endswith("model.onnx.data.zst"))
    client = s3server.client()
    data = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))
    manifest, cache = remote_cache(result["entry"], tmp_path / "cache")
    # WHEN it is fetched THEN the bad frame is refetched once, still bad, and refused
    with pytest.raises(IntegrityError, match="failed its hash twice"):
        cache.get(manifest.file("model.onnx.data"))
    assert not disk_of(cache).path_for(manifest.file("model.onnx.data")).exists()
    # AND a function pointed at it answers 503 with the reason, never the bad weights
    registry = tmp_path / "models.json"
    write_registry_entry(registry, "corrupt", result["entry"])
    service = InferenceService(RuntimeConfig.from_env(
        {}, artifact_dir=tmp_path, model_registry=registry, model_name="corrupt",
        cache_dir=tmp_path / "fn-cache", s3_attempts=2, model_retry_seconds=0))
    service.start()
    new_instance()
    answer = build_handler(service)(load_event("predict.json"), None)
    assert answer["statusCode"] == 503
    assert "is corrupt; republish the model" in body(answer)["error"]["message"]


def test_an_interrupted_download_resumes_at_a_frame_boundary(published: dict[str, Any], artifact_dir: Path,
                                                            tmp_path: Path) -> None:
    # GIVEN what a fetch cut off after six frames leaves in /tmp: the whole-sized partial file with
    # those frames in place (the rest not yet written) and the progress file naming them
    manifest, cache = remote_cache(published["entry"], tmp_path, parallelism=2)
    weights = manifest.file("model.onnx.data")
    frames = weights.compressed.frames
    original = (artifact_dir / weights.path).read_bytes()
    partial = disk_of(cache).partial_path(weights)
    cut = frames[6].raw_offset
    partial.write_bytes(original[:cut] + bytes(len(original) - cut))
    Path(f"{partial}{PROGRESS_SUFFIX}").write_text("".join(f"{i}\n" for i in range(6)))
    # WHEN the next environment fetches the file
    stats = FetchStats()
    path = cache.get(weights, stats)
    # THEN it fetched only the frames that were missing, and the file is whole and verified
    assert path.read_bytes() == original
    assert (stats.frames_resumed, stats.frames_fetched) == (6, len(frames) - 6)
    assert not partial.exists() and not Path(f"{partial}{PROGRESS_SUFFIX}").exists()


def test_resumed_bytes_that_changed_in_tmp_are_caught_by_the_whole_file_hash(published: dict[str, Any],
                                                                            artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN an interrupted fetch's partial file whose resumed frames lost one bit in /tmp (frames
    # fetched now are verified one by one; resumed ones were written by another process)
    manifest, cache = remote_cache(published["entry"], tmp_path, parallelism=2)
    weights = manifest.file("model.onnx.data")
    frames = weights.compressed.frames
    original = bytearray((artifact_dir / weights.path).read_bytes())
    partial = disk_of(cache).partial_path(weights)
    cut = frames[6].raw_offset
    original[cut // 2] ^= 0x01
    partial.write_bytes(bytes(original[:cut]) + bytes(len(original) - cut))
    Path(f"{partial}{PROGRESS_SUFFIX}").write_text("".join(f"{i}\n" for i in range(6)))
    # WHEN the next environment fetches the file THEN the whole file is hashed and refused, and nothing is kept
    with pytest.raises(IntegrityError, match="does not match the manifest's"):
        cache.get(weights, FetchStats())
    assert not partial.exists() and not disk_of(cache).path_for(weights).exists()


def test_a_cache_too_small_says_what_to_raise(published: dict[str, Any], tmp_path: Path) -> None:
    remote = S3Source(published["entry"]["source"])
    manifest = remote.read_manifest(published["entry"]["manifest_sha256"])
    cache = ModelCache(disk=DiskTier(tmp_path, max_bytes=16 * 2**20), source=remote)
    with pytest.raises(CacheCapacityError, match="EphemeralStorageSize"):
        cache.get(manifest.file("model.onnx.data"))


def test_an_unreachable_endpoint_is_retried_then_reported(published: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    remote = S3Source(published["entry"]["source"], max_attempts=3)     # botocore's attempts: the one retry layer
    with pytest.raises(FetchError, match="after 3 attempts"):
        remote.read_manifest(published["entry"]["manifest_sha256"])


def test_a_manifest_that_does_not_match_the_registry_refuses_to_load(published: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    registry = tmp_path / "models.json"
    write_registry_entry(registry, "tampered", {**published["entry"], "manifest_sha256": "0" * 64})
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tmp_path, model_registry=registry,
                                                      model_name="tampered", cache_dir=tmp_path / "c"))
    service.start()
    assert not service.ready and "the model registry pins" in (service.error or "")


def test_publish_then_cold_start_from_s3_through_the_emulator(published: dict[str, Any], s3server: SeaweedS3,
                                                             tmp_path: Path, artifact_dir: Path) -> None:
    registry = tmp_path / "models.json"
    write_registry_entry(registry, "minilm-remote", published["entry"])
    env = {"MODEL_REGISTRY": str(registry), "MODEL_NAME": "minilm-remote", "MODEL_CACHE_DIR": str(tmp_path / "tmp"),
           "AWS_ENDPOINT_URL_S3": s3server.endpoint_url}
    with start_function("StandardFunction", env=env) as function:
        answer = function.invoke(load_event("predict.json"))
        logs = function.logs()
    assert answer["statusCode"] == 200 and body(answer)["cold_start"] is True
    assert body(answer)["version"] == read_manifest(artifact_dir).version
    init = next(json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"event":"init"' in line)
    fetch = next(p for p in init["trace"]["phases"] if p["name"] == "fetch_artifact")
    weights = next(f for f in fetch["attributes"]["files"] if f["path"] == "model.onnx.data")
    assert weights["tier"] == "s3" and weights["frames_fetched"] == weights["frames"]
    for key in ("io_wait_ms", "verify_ms", "decompress_ms", "compressed_bytes", "bytes"):
        assert weights[key] > 0
