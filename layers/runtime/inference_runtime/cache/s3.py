"""L3: S3 (or any S3-compatible endpoint). Parallel ranged GETs of independent zstd frames.

A published file is one object of concatenated zstd frames, each compressed on its
own (``tools/publish.py``); the manifest lists every frame's offset, size and sha256.
So a fetch can:

- GET frames in parallel, each a byte range (real S3 caps each connection, not the sum);
- check each frame's sha256 as it arrives and refetch just that frame if it is bad;
- decompress frames in the workers (zstandard releases the GIL), beside the transfers;
- write each frame at its place in ``<sha256>.partial`` and note it in ``.frames``, so
  an interrupted fetch resumes at a frame boundary instead of starting again;
- hash the original bytes in order while frames complete, and compare with the
  manifest before the file is renamed into the cache and handed to the loader.

Retries back off exponentially; what still fails is a FetchError (unreachable, missing
object) or an IntegrityError (bytes that keep failing their hash), never bad bytes.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..artifact import IntegrityError, Manifest, ManifestError, parse_manifest
from .errors import FetchError

if TYPE_CHECKING:
    from ..artifact import FileEntry, Frame
    from .disk import DiskTier

MANIFEST_KEY = "manifest.json"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> (bucket, prefix ending in '/')."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ManifestError(f"{uri!r} is not an s3://bucket/prefix/ location")
    prefix = parts.path.lstrip("/")
    return parts.netloc, (prefix.rstrip("/") + "/") if prefix else ""


class S3Source:
    """Reads a published artifact under ``s3://bucket/prefix/``."""

    name = "s3"

    def __init__(self, uri: str, *, parallelism: int = 8, attempts: int = 4, backoff_s: float = 0.2,
                 client_config: dict[str, Any] | None = None) -> None:
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.parallelism = parallelism
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._client_config = client_config or {}
        self._client: Any = None
        self._client_lock = threading.Lock()

    # --- client ----------------------------------------------------------------------
    def client(self) -> Any:
        """Created on first use; AWS_ENDPOINT_URL_S3 points it at an S3-compatible server."""
        with self._client_lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = {"max_pool_connections": max(self.parallelism, 10), "connect_timeout": 2,
                          "read_timeout": 30, "retries": {"mode": "standard", "max_attempts": 2},
                          "s3": {"addressing_style": "path"}, **self._client_config}
                self._client = boto3.client("s3", config=Config(**config))
            return self._client

    def reset_client(self) -> None:
        """Drop the client (after a SnapStart restore: fresh connections and credentials)."""
        with self._client_lock:
            self._client = None

    # --- manifest ----------------------------------------------------------------------
    def read_manifest(self, expected_sha256: str) -> Manifest:
        """The published manifest, refused unless its sha256 is the one the registry pins."""
        raw = self._get_object(self.prefix + MANIFEST_KEY, None)
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise IntegrityError(
                f"s3://{self.bucket}/{self.prefix}{MANIFEST_KEY} has sha256 {actual}, but the model registry pins "
                f"{expected_sha256}; republish the model or update models.json")
        return parse_manifest(raw, f"s3://{self.bucket}/{self.prefix}{MANIFEST_KEY}")

    # --- files -------------------------------------------------------------------------
    def fetch(self, entry: "FileEntry", disk: "DiskTier", stats: dict[str, Any],
              on_frame: Any = None) -> bytearray:
        """Fetch, verify and decompress one file into the disk tier; return its bytes."""
        layout = entry.compressed
        if layout is None:
            raise ManifestError(f"{entry.path} has no published layout in the manifest; publish the artifact")
        started = time.perf_counter()
        disk.reserve(entry.size, keep=entry.sha256)
        partial = disk.partial_path(entry)
        progress_path = Path(f"{partial}{'.frames'}")
        done = self._resumable_frames(partial, progress_path, entry.size)
        out = bytearray(entry.size)
        frames = layout.frames
        stats.update(tier="s3", bytes=entry.size, compressed_bytes=layout.size, frames=len(frames),
                     frames_resumed=len(done), frames_fetched=0, refetched=0,
                     io_wait_ms=0.0, verify_ms=0.0, decompress_ms=0.0)
        hasher = hashlib.sha256()
        next_to_hash = 0
        fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, entry.size)
            for index in done:
                frame = frames[index]
                out[frame.raw_offset:frame.raw_offset + frame.raw_size] = os.pread(fd, frame.raw_size,
                                                                                   frame.raw_offset)
            complete = set(done)
            with open(progress_path, "a") as progress, \
                    ThreadPoolExecutor(self.parallelism, thread_name_prefix="s3-range") as pool:
                pending: set[Future[Any]] = {pool.submit(self._fetch_frame, entry, i, frames[i], fd, out)
                                             for i in range(len(frames)) if i not in complete}
                while True:
                    next_to_hash = self._hash_in_order(hasher, out, frames, complete, next_to_hash, stats)
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        index, timings = future.result()  # raises FetchError / IntegrityError
                        progress.write(f"{index}\n")
                        progress.flush()
                        complete.add(index)
                        stats["frames_fetched"] += 1
                        for key, value in timings.items():
                            stats[key] += value
                        if on_frame is not None:
                            on_frame(index)
            # No fsync: resuming covers a process that died, whose writes the kernel still
            # holds; /tmp does not outlive the environment, so a machine crash needs none.
        finally:
            os.close(fd)
        started_verify = time.perf_counter()
        if hasher.hexdigest() != entry.sha256:
            partial.unlink(missing_ok=True)
            progress_path.unlink(missing_ok=True)
            raise IntegrityError(f"{entry.path}: the assembled file does not match the manifest's sha256 "
                                 "although every frame did; the manifest is inconsistent, republish the model")
        stats["verify_ms"] += (time.perf_counter() - started_verify) * 1000
        disk.commit_partial(entry)
        stats["wall_ms"] = (time.perf_counter() - started) * 1000
        return out  # no copy: consumers take any bytes-like buffer

    @staticmethod
    def _resumable_frames(partial: Path, progress_path: Path, size: int) -> list[int]:
        """Frames a previous, interrupted fetch completed (its partial file must still be whole-sized)."""
        if not (partial.exists() and progress_path.exists() and partial.stat().st_size == size):
            partial.unlink(missing_ok=True)
            progress_path.unlink(missing_ok=True)
            return []
        # A line is written only after its frame's bytes; a torn last line is ignored.
        return sorted({int(line) for line in progress_path.read_text().split("\n") if line.strip().isdigit()})

    @staticmethod
    def _hash_in_order(hasher: Any, out: bytearray, frames: tuple["Frame", ...], complete: set[int],
                       next_index: int, stats: dict[str, Any]) -> int:
        """Feed the original-bytes hash with every frame that is complete and next in order."""
        started = time.perf_counter()
        view = memoryview(out)
        while next_index < len(frames) and next_index in complete:
            frame = frames[next_index]
            hasher.update(view[frame.raw_offset:frame.raw_offset + frame.raw_size])
            next_index += 1
        stats["verify_ms"] += (time.perf_counter() - started) * 1000
        return next_index

    def _fetch_frame(self, entry: "FileEntry", index: int, frame: "Frame", fd: int,
                     out: bytearray) -> tuple[int, dict[str, float]]:
        """GET, verify and decompress one frame, then place it in ``out`` and the partial file.

        Placing it here, in the worker, keeps the copy and the write off the thread that
        hashes the original bytes in order.
        """
        import zstandard

        assert entry.compressed is not None
        timings = {"io_wait_ms": 0.0, "verify_ms": 0.0, "decompress_ms": 0.0, "refetched": 0}
        byte_range = f"bytes={frame.offset}-{frame.offset + frame.size - 1}"
        last_problem = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            t0 = time.perf_counter()
            try:
                body = self._get_object(entry.compressed.key, byte_range, attempts=1)
            except FetchError as exc:
                if exc.args and "does not exist" in str(exc):
                    raise
                last_problem = str(exc)
                continue
            t1 = time.perf_counter()
            good = hashlib.sha256(body).hexdigest() == frame.sha256
            t2 = time.perf_counter()
            timings["io_wait_ms"] += (t1 - t0) * 1000
            timings["verify_ms"] += (t2 - t1) * 1000
            if not good:
                timings["refetched"] += 1
                last_problem = f"frame {index} of {entry.path} failed its sha256"
                continue
            raw = zstandard.ZstdDecompressor().decompress(body, max_output_size=frame.raw_size)
            timings["decompress_ms"] += (time.perf_counter() - t2) * 1000
            if len(raw) != frame.raw_size:
                raise IntegrityError(f"frame {index} of {entry.path} decompressed to {len(raw)} bytes, "
                                     f"not {frame.raw_size}; republish the model")
            out[frame.raw_offset:frame.raw_offset + frame.raw_size] = raw
            os.pwrite(fd, raw, frame.raw_offset)
            return index, timings
        if "sha256" in last_problem:
            raise IntegrityError(f"{last_problem} on each of {self.attempts} attempts: the object "
                                 f"s3://{self.bucket}/{entry.compressed.key} is corrupt; republish the model")
        raise FetchError(f"could not fetch s3://{self.bucket}/{entry.compressed.key} ({byte_range}) after "
                         f"{self.attempts} attempts: {last_problem}")

    def _read_body(self, body: Any) -> bytes:
        """The response body's bytes (the benchmark overrides it to pace connections)."""
        return body.read()

    def _get_object(self, key: str, byte_range: str | None, attempts: int | None = None) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        attempts = attempts or self.attempts
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                kwargs = {"Bucket": self.bucket, "Key": key}
                if byte_range:
                    kwargs["Range"] = byte_range
                return self._read_body(self.client().get_object(**kwargs)["Body"])
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"):
                    raise FetchError(f"s3://{self.bucket}/{key} does not exist or may not be read ({code}); "
                                     "publish the model there, or fix the registry and the function's "
                                     "S3 permissions") from exc
                last = exc
            except (BotoCoreError, OSError) as exc:
                last = exc
        raise FetchError(f"could not reach s3://{self.bucket}/{key} after {attempts} attempts: {last}") from last
