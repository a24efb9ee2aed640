"""Publish a model artifact to S3 (or any S3-compatible endpoint) for the runtime's cache.

    python -m tools.publish build/artifacts/all-MiniLM-L6-v2 s3://my-bucket/models/ \\
        [--name all-MiniLM-L6-v2-remote] [--registry models.json] [--endpoint-url http://127.0.0.1:8333]

What it does:
1. verifies the artifact against its manifest (nothing unverified is published);
2. compresses each file with zstd in independent frames (default 4 MiB of original
   bytes each), so the runtime can fetch and decompress frames in parallel and resume
   an interrupted transfer at a frame boundary;
3. uploads each compressed file with multipart, parallel parts, and a progress bar,
   to ``<prefix><name>/<version>/<file>.zst``, skipping any object already there with
   the same size and sha256 (so it is safe to run again);
4. uploads ``manifest.json`` last, listing for every file the sha256 of the original
   and of the compressed bytes and the frame table; a reader that finds the manifest
   finds every file it names;
5. prints the registry entry (manifest sha256 included) and, with --registry, writes
   it into that models.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import blake3

from inference_runtime.artifact import (
    CompressedLayout,
    FileEntry,
    Frame,
    Manifest,
    atomic_write_bytes,
    manifest_bytes,
    verify_artifact,
)
from inference_runtime.cache.s3 import MANIFEST_KEY, parse_s3_uri

MIB = 1 << 20


def compress_frames(source: Path, target: Path, *, frame_bytes: int, level: int,
                    workers: int) -> tuple[int, str, list[tuple[int, int, str, int, int, str]]]:
    """Write ``source`` as independent zstd frames to ``target``; return size, sha256, frame rows."""
    import zstandard

    size = source.stat().st_size
    spans = [(offset, min(frame_bytes, size - offset)) for offset in range(0, size, frame_bytes)] or [(0, 0)]

    def compress(span: tuple[int, int]) -> bytes:
        with open(source, "rb") as handle:
            handle.seek(span[0])
            data = handle.read(span[1])
        frame = zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data)
        # The runtime verifies each frame's compressed bytes and trusts what they decode to
        # (cache/s3.py): so every frame must decode to exactly the bytes it was made from.
        if zstandard.ZstdDecompressor().decompress(frame, max_output_size=len(data)) != data:
            raise RuntimeError(f"{source}: the zstd frame at byte {span[0]} does not decode to its bytes")
        return frame

    digest = hashlib.sha256()
    rows = []
    offset = 0
    with open(target, "wb") as out, ThreadPoolExecutor(workers) as pool:
        # map() keeps order; zstandard releases the GIL, so frames compress in parallel.
        for (raw_offset, raw_size), frame in zip(spans, pool.map(compress, spans), strict=True):
            out.write(frame)
            digest.update(frame)
            # sha256 and BLAKE3 of the compressed frame: the runtime checks the BLAKE3 (artifact/files.py)
            rows.append((offset, len(frame), hashlib.sha256(frame).hexdigest(), raw_offset, raw_size,
                         blake3.blake3(frame).hexdigest()))
            offset += len(frame)
    return offset, digest.hexdigest(), rows


def s3_client(endpoint_url: str | None, concurrency: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url,
                        config=Config(max_pool_connections=max(10, concurrency), s3={"addressing_style": "path"},
                                      retries={"mode": "standard", "max_attempts": 5}))


def already_there(client: Any, bucket: str, key: str, size: int, sha256: str) -> bool:
    """True when the object exists with this size and the sha256 recorded at its upload."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return head["ContentLength"] == size and head.get("Metadata", {}).get("sha256") == sha256


def upload(client: Any, path: Path, bucket: str, key: str, sha256: str, *, concurrency: int,
           part_bytes: int, progress: bool) -> None:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=part_bytes, multipart_chunksize=part_bytes,
                            max_concurrency=concurrency, use_threads=True)
    size = path.stat().st_size
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=key.rsplit("/", 1)[-1])
    try:
        client.upload_file(str(path), bucket, key, Config=config, Callback=bar.update if bar else None,
                           ExtraArgs={"Metadata": {"sha256": sha256}, "ContentType": "application/zstd"})
    finally:
        if bar:
            bar.close()


def publish(artifact_dir: Path, destination: str, *, endpoint_url: str | None = None, name: str | None = None,
            frame_mib: int = 4, level: int = 3, concurrency: int = 8, progress: bool = True,
            client: Any = None) -> dict[str, Any]:
    """Publish; return the registry entry for the published model."""
    manifest = verify_artifact(artifact_dir)
    bucket, prefix = parse_s3_uri(destination)
    name = name or manifest.name
    base = f"{prefix}{manifest.name}/{manifest.version}/"
    client = client or s3_client(endpoint_url, concurrency)
    published_files = []
    report: dict[str, list[Any]] = {"uploaded": [], "skipped": []}
    with tempfile.TemporaryDirectory(prefix="publish-") as scratch:
        for entry in manifest.files:
            compressed_path = Path(scratch) / (entry.path.replace("/", "_") + ".zst")
            size, digest, rows = compress_frames(artifact_dir / entry.path, compressed_path,
                                                 frame_bytes=frame_mib * MIB, level=level, workers=os.cpu_count() or 2)
            key = f"{base}{entry.path}.zst"
            if already_there(client, bucket, key, size, digest):
                report["skipped"].append(key)
            else:
                upload(client, compressed_path, bucket, key, digest, concurrency=concurrency, part_bytes=8 * MIB,
                       progress=progress)
                report["uploaded"].append(key)
            layout = CompressedLayout(key=key, size=size, sha256=digest, frames=tuple(Frame(*row) for row in rows))
            published_files.append(FileEntry(entry.path, entry.size, entry.sha256, layout, entry.blake3))
    published = Manifest(name=manifest.name, version=manifest.version, format=manifest.format,
                         files=tuple(published_files), model=manifest.model, source=manifest.source,
                         init=manifest.init)
    raw = manifest_bytes(published)
    manifest_sha256 = hashlib.sha256(raw).hexdigest()
    manifest_key = f"{base}{MANIFEST_KEY}"
    if already_there(client, bucket, manifest_key, len(raw), manifest_sha256):
        report["skipped"].append(manifest_key)
    else:
        # Last: a reader that finds the manifest finds every file it names.
        client.put_object(Bucket=bucket, Key=manifest_key, Body=raw, ContentType="application/json",
                          Metadata={"sha256": manifest_sha256})
        report["uploaded"].append(manifest_key)
    return {"name": name, "entry": {"source": f"s3://{bucket}/{base}", "manifest_sha256": manifest_sha256,
                                    "version": manifest.version}, **report}


def write_registry_entry(registry: Path, name: str, entry: dict[str, Any]) -> None:
    data = json.loads(registry.read_text()) if registry.exists() else {"models": {}}
    data.setdefault("models", {})[name] = entry
    atomic_write_bytes(registry, (json.dumps(data, indent=2) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("artifact_dir", type=Path)
    parser.add_argument("destination", help="s3://bucket/prefix/")
    parser.add_argument("--endpoint-url", default=None, help="an S3-compatible endpoint (default: AWS S3)")
    parser.add_argument("--name", default=None, help="registry name (default: the manifest's model name)")
    parser.add_argument("--registry", type=Path, default=None, help="models.json to write the entry into")
    parser.add_argument("--frame-mib", type=int, default=4, help="original MiB per independent zstd frame")
    parser.add_argument("--level", type=int, default=3, help="zstd level")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel upload parts")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = publish(args.artifact_dir, args.destination, endpoint_url=args.endpoint_url, name=args.name,
                     frame_mib=args.frame_mib, level=args.level, concurrency=args.concurrency,
                     progress=not args.no_progress)
    if args.registry:
        write_registry_entry(args.registry, result["name"], result["entry"])
    print(json.dumps({"registry_entry": {result["name"]: result["entry"]}, "uploaded": len(result["uploaded"]),
                      "skipped": len(result["skipped"]), "seconds": round(time.perf_counter() - started, 2)},
                     indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
