"""The manifest: round trip, verification at every read, atomic writes, hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_runtime.artifact import (
    FileEntry,
    GraphSpec,
    IntegrityError,
    Manifest,
    ManifestError,
    ModelSpec,
    Task,
    TokenizerSpec,
    atomic_write_bytes,
    blake3_file,
    content_version,
    describe_files,
    read_manifest,
    sha256_file,
    verify_artifact,
    verify_file,
    write_manifest,
)


def make_artifact(root: Path) -> Manifest:
    (root / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (root / "tokenizer.json").write_text('{"version": "1.0"}')
    files = describe_files(root, ["weights.bin", "tokenizer.json"])
    manifest = Manifest(name="tiny", version=content_version(files), format="onnx", files=files,
                        model=ModelSpec(task=Task.EMBEDDINGS, graph=GraphSpec(entrypoint="weights.bin"),
                                        tokenizer=TokenizerSpec(), dimensions=8, normalize=True))
    write_manifest(root, manifest)
    return manifest


def test_round_trip_and_verify(tmp_path: Path) -> None:
    # GIVEN an artifact written with its manifest
    written = make_artifact(tmp_path)
    # WHEN it is read back and verified
    read = verify_artifact(tmp_path)
    # THEN it is the same manifest, the contract typed, and the sizes and hashes are the files' own
    assert read == written
    assert read.model.task is Task.EMBEDDINGS and read.model.graph.entrypoint == "weights.bin"
    assert read.file("weights.bin").size == 256 * 64


def test_flipped_byte_is_detected(tmp_path: Path) -> None:
    manifest = make_artifact(tmp_path)
    data = bytearray((tmp_path / "weights.bin").read_bytes())
    data[1000] ^= 0x01
    (tmp_path / "weights.bin").write_bytes(bytes(data))
    entry = manifest.file("weights.bin")
    with pytest.raises(IntegrityError, match="sha256 .* does not match"):
        verify_file(tmp_path / "weights.bin", size=entry.size, sha256=entry.sha256)
    with pytest.raises(IntegrityError):
        verify_artifact(tmp_path)


def test_truncated_and_missing_files_are_detected(tmp_path: Path) -> None:
    manifest = make_artifact(tmp_path)
    entry = manifest.file("weights.bin")
    (tmp_path / "weights.bin").write_bytes(b"short")
    with pytest.raises(IntegrityError, match=f"expected {entry.size} bytes, found 5"):
        verify_file(tmp_path / "weights.bin", size=entry.size, sha256=entry.sha256)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        verify_artifact(tmp_path)


@pytest.mark.parametrize("digest", ["blake3", "sha256"])
def test_manifest_whose_hash_does_not_match_refuses_to_load(tmp_path: Path, digest: str) -> None:
    # GIVEN a manifest whose file digest (BLAKE3, or sha256 in a manifest built before it had
    # BLAKE3 digests) does not match the file
    make_artifact(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    if digest == "sha256":
        del data["files"][0]["blake3"]
    data["files"][0][digest] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    # THEN verifying it refuses, naming the algorithm
    with pytest.raises(IntegrityError, match=f"{digest} [0-9a-f]{{64}} does not match the manifest's 0{{64}}"):
        verify_artifact(tmp_path)


def test_every_file_has_both_digests_and_blake3_is_the_one_verified(tmp_path: Path) -> None:
    # GIVEN an artifact as the build writes it
    manifest = make_artifact(tmp_path)
    entry = manifest.file("weights.bin")
    assert entry.sha256 == sha256_file(tmp_path / "weights.bin")
    assert entry.blake3 == blake3_file(tmp_path / "weights.bin")
    # WHEN a file changes THEN the BLAKE3 check finds it
    corrupted = bytearray((tmp_path / "weights.bin").read_bytes())
    corrupted[-1] ^= 1
    (tmp_path / "weights.bin").write_bytes(bytes(corrupted))
    with pytest.raises(IntegrityError, match="blake3"):
        verify_file(tmp_path / "weights.bin", size=entry.size, sha256=entry.sha256, blake3=entry.blake3)


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../b", ""])
def test_paths_outside_the_artifact_are_rejected(path: str) -> None:
    with pytest.raises(ManifestError, match="relative"):
        FileEntry(path=path, size=1, sha256="0" * 64)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(schema=99), "schema 99 is not supported"),
    (lambda d: d.pop("files"), "missing or mistypes"),
    (lambda d: d.update(name=""), "'name' must be a non-empty string"),
    (lambda d: d["files"][0].update(sha256="XYZ"), "64 lowercase hex"),
    (lambda d: d["files"].append(dict(d["files"][0])), "same file twice"),
    (lambda d: d.pop("model"), "model must be a JSON object"),
    (lambda d: d["model"].update(task="summarisation"), "is not one of embeddings, classification, reranking"),
    (lambda d: d["model"].update(task="classification"), "must name its labels"),
    (lambda d: d["model"]["tokenizer"].update(max_sequence_length=0), "max_sequence_length must be a positive"),
])
def test_invalid_manifests_say_what_is_wrong(tmp_path: Path, mutate, message: str) -> None:
    make_artifact(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    mutate(data)
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path)


def test_a_schema_1_manifest_is_refused_with_the_fix(tmp_path: Path) -> None:
    # GIVEN an artifact built by the tools before the typed contract (schema 1, a loose model dict)
    make_artifact(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data.update(schema=1, model={"task": "embeddings", "normalized": True, "entrypoint": "weights.bin"})
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    # WHEN it is read THEN it is refused, saying to rebuild it, not read through aliases
    with pytest.raises(ManifestError, match=r"schema 1 .*rebuild the artifact \(make artifact\)"):
        read_manifest(tmp_path)


def test_missing_manifest_tells_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="make artifact"):
        read_manifest(tmp_path)


def test_unknown_file_lookup_lists_what_is_there(tmp_path: Path) -> None:
    manifest = make_artifact(tmp_path)
    with pytest.raises(ManifestError, match="lists no 'model.onnx' .*weights.bin, tokenizer.json"):
        manifest.file("model.onnx")


def test_content_version_follows_the_bytes(tmp_path: Path) -> None:
    first = make_artifact(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"version": "2.0"}')
    second = describe_files(tmp_path, ["weights.bin", "tokenizer.json"])
    assert content_version(first.files) == content_version(tuple(reversed(first.files)))
    assert content_version(second) != first.version


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_write_failure_leaves_no_temporary(tmp_path: Path) -> None:
    # GIVEN a target the final rename cannot replace (a non-empty directory)
    target = tmp_path / "model.onnx"
    target.mkdir()
    (target / "keep").write_bytes(b"old")
    # WHEN writing fails at the last step
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    # THEN what was there is untouched and no temporary file is left behind
    assert (target / "keep").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize("raw_offsets", [(0, 8, 8), (0, 16, 8)], ids=["overlap", "out of order"])
def test_compressed_frames_must_tile_the_file(raw_offsets: tuple[int, ...]) -> None:
    # GIVEN frames of 8 bytes each that add up to the file's 24 but do not lie end to end
    # (a fetch trusts what verified frames decode to: they must cover every byte once, in order)
    from inference_runtime.artifact import CompressedLayout, Frame

    frames = tuple(Frame(offset=i * 4, size=4, sha256="0" * 64, raw_offset=raw, raw_size=8)
                   for i, raw in enumerate(raw_offsets))
    layout = CompressedLayout(key="k", size=12, sha256="0" * 64, frames=frames)
    # WHEN the entry is made THEN it is refused, naming the frame
    with pytest.raises(ManifestError, match="frame [12] starts at byte"):
        FileEntry("weights.bin", 24, "0" * 64, layout)
