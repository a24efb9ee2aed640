"""L3: S3 (or any S3-compatible endpoint). Parallel ranged GETs of independent zstd frames.

A published file is one object of concatenated zstd frames, each compressed on its
own (``tools/publish.py``); the manifest lists every frame's offset, size and sha256.
So a fetch can:

- GET frames in parallel, each a byte range (real S3 caps each connection, not the sum);
- check each frame's sha256 as it arrives and refetch just that frame, once, if it is bad;
- decompress frames in the workers (zstandard releases the GIL), beside the transfers;
- write each frame at its place in ``<sha256>.partial`` and note it in ``.frames``, so
  an interrupted fetch resumes at a frame boundary instead of starting again;
- and so every byte written is what a verified frame decodes to: zstd decoding is a
  function of its input, each frame must decode to its ``raw_size`` bytes, the frames
  tile the file (the manifest checks it) and ``tools.publish`` checked that its frames
  decode to the file. The whole file is hashed (in order, as frames complete) only when
  frames a previous, interrupted fetch left in /tmp are resumed: those bytes were not
  verified by this process. Either way the cache renames only verified files into its
  disk tier. Measured (2.2 GB, loopback S3, 2 cores): the second hash was ~1 s of CPU
  beside the downloads and decompression that the floor does not spend.

``S3Source`` is a ``Source``: it writes into the path the cache hands it and never
touches the disk tier itself (its names, room, eviction).

One retry layer: botocore's (standard mode: exponential backoff with jitter on throttling,
5xx and connection errors, ``max_attempts`` in all), plus one re-fetch of a frame whose
bytes fail their sha256. What still fails is a FetchError (unreachable, missing object)
or an IntegrityError (a frame bad twice), never bad bytes.
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

from ..artifact import FileDigest, IntegrityError, Manifest, ManifestError, parse_manifest
from .base import Source
from .errors import FetchError
from .stats import FetchStats

if TYPE_CHECKING:
    from ..artifact import FileEntry, Frame

MANIFEST_KEY = "manifest.json"
# Beside a partial file: the frames already written, one index a line, for resuming.
PROGRESS_SUFFIX = ".frames"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> (bucket, prefix ending in '/')."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ManifestError(f"{uri!r} is not an s3://bucket/prefix/ location")
    prefix = parts.path.lstrip("/")
    return parts.netloc, (prefix.rstrip("/") + "/") if prefix else ""


class S3Source(Source):
    """Reads a published artifact under ``s3://bucket/prefix/``."""

    name = "s3"

    def __init__(self, uri: str, *, parallelism: int = 8, max_attempts: int = 4,
                 client_config: dict[str, Any] | None = None) -> None:
        """``max_attempts``: botocore's, per request (S3_ATTEMPTS), the only retry of a failed request."""
        self.bucket, self.prefix = parse_s3_uri(uri)
        self.parallelism = parallelism
        self.max_attempts = max_attempts
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
                          "read_timeout": 30, "retries": {"mode": "standard", "max_attempts": self.max_attempts},
                          "s3": {"addressing_style": "path"}, **self._client_config}
                self._client = boto3.client("s3", config=Config(**config))
            return self._client

    def reset(self) -> None:
        """Drop the client (after a SnapStart restore: fresh connections and credentials)."""
        with self._client_lock:
            self._client = None

    # --- manifest ----------------------------------------------------------------------
    def read_manifest(self, expected_sha256: str | None = None) -> Manifest:
        """The published manifest, refused unless its sha256 is the one the registry pins."""
        if expected_sha256 is None:
            raise ManifestError(f"s3://{self.bucket}/{self.prefix}: a published manifest is read only with the "
                                "sha256 the model registry pins for it; add manifest_sha256 to models.json")
        raw = self._get_object(self.prefix + MANIFEST_KEY)
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise IntegrityError(
                f"s3://{self.bucket}/{self.prefix}{MANIFEST_KEY} has sha256 {actual}, but the model registry pins "
                f"{expected_sha256}; republish the model or update models.json")
        return parse_manifest(raw, f"s3://{self.bucket}/{self.prefix}{MANIFEST_KEY}")

    # --- files -------------------------------------------------------------------------
    def fetch(self, entry: FileEntry, into: Path, stats: FetchStats) -> None:
        """Fetch, verify and decompress one file into ``into`` (resuming what a previous fetch left there).

        Progress is kept beside it in ``<into>.frames`` and removed once the file is whole
        and verified; the cache gives the file its final name.
        """
        layout = entry.compressed
        if layout is None:
            raise ManifestError(f"{entry.path} has no published layout in the manifest; publish the artifact")
        started = time.perf_counter()
        partial = Path(into)
        progress_path = Path(f"{partial}{PROGRESS_SUFFIX}")
        done = self._resumable_frames(partial, progress_path, entry.size)
        frames = layout.frames
        stats.tier, stats.bytes, stats.compressed_bytes = self.name, entry.size, layout.size
        stats.frames, stats.frames_resumed = len(frames), len(done)
        # Resumed frames' bytes sat in /tmp, unverified by this process: then the whole file is hashed.
        hasher = FileDigest(sha256=entry.sha256, blake3=entry.blake3) if done else None
        fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, entry.size)
            complete = set(done)
            hashed = self._transfer(entry, frames, [i for i in range(len(frames)) if i not in complete],
                                    complete, fd, hasher, progress_path, stats)
            self._hash_in_order(hasher, fd, frames, complete, hashed, stats)
            # No fsync: resuming covers a process that died, whose writes the kernel still
            # holds; /tmp does not outlive the environment, so a machine crash needs none.
        finally:
            os.close(fd)
        started_verify = time.perf_counter()
        if hasher is not None and not hasher.matches():
            partial.unlink(missing_ok=True)
            progress_path.unlink(missing_ok=True)
            raise IntegrityError(f"{entry.path}: the assembled file does not match the manifest's {hasher.algorithm} "
                                 "although every frame did; the manifest is inconsistent, republish the model")
        stats.verify_ms += (time.perf_counter() - started_verify) * 1000
        progress_path.unlink(missing_ok=True)
        stats.wall_ms = (time.perf_counter() - started) * 1000

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
    def _hash_in_order(hasher: Any, fd: int, frames: tuple[Frame, ...], complete: set[int],
                       next_index: int, stats: FetchStats) -> int:
        """Feed the original-bytes hash with every frame that is complete and next in order (none: no hash).

        Frames are read back from the partial file: the page cache still holds them, and
        no buffer of the whole file is ever built.
        """
        if hasher is None:
            return next_index
        started = time.perf_counter()
        while next_index < len(frames) and next_index in complete:
            frame = frames[next_index]
            hasher.update(os.pread(fd, frame.raw_size, frame.raw_offset))
            next_index += 1
        stats.verify_ms += (time.perf_counter() - started) * 1000
        return next_index

    def _transfer(self, entry: FileEntry, frames: tuple[Frame, ...], todo: list[int], complete: set[int],
                  fd: int, hasher: Any, progress_path: Path, stats: FetchStats) -> int:
        """Two pools: connections only transfer, CPU threads verify, decompress and place.

        A connection that had to decompress before its next GET would sit idle while
        the link could carry bytes; with the work handed off, transfers run back to back
        and the CPU work hides behind them. The original bytes are hashed in order here,
        as frames complete; returns how many frames were hashed.
        """
        refetched: set[int] = set()
        kinds: dict[Future[Any], tuple[str, int]] = {}
        next_to_hash = 0
        # Only published (compressed) entries reach the S3 tier.
        assert entry.compressed is not None  # nosec B101
        with open(progress_path, "a") as progress, \
                ThreadPoolExecutor(self.parallelism, thread_name_prefix="s3-range") as network, \
                ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="s3-frame") as cpu:

            def download(index: int) -> None:
                kinds[network.submit(self._download_frame, entry, frames[index])] = ("get", index)

            for index in todo:
                download(index)
            while kinds:
                next_to_hash = self._hash_in_order(hasher, fd, frames, complete, next_to_hash, stats)
                finished, _ = wait(set(kinds), return_when=FIRST_COMPLETED)
                for future in finished:
                    kind, index = kinds.pop(future)
                    ok, timings, body = future.result()  # raises FetchError / IntegrityError
                    stats.io_wait_ms += timings.get("io_wait_ms", 0.0)
                    stats.verify_ms += timings.get("verify_ms", 0.0)
                    stats.decompress_ms += timings.get("decompress_ms", 0.0)
                    if kind == "get":
                        kinds[cpu.submit(self._place_frame, entry, index, frames[index], body, fd)] = \
                            ("place", index)
                    elif not ok:
                        # botocore already retried the request; bytes that arrived but fail their
                        # hash get one more GET (a torn transfer), and a second failure means the
                        # object itself is bad: refetching it again would only read the same bytes.
                        if index in refetched:
                            raise IntegrityError(
                                f"frame {index} of {entry.path} failed its hash twice (fetched, then fetched "
                                f"again): the object s3://{self.bucket}/{entry.compressed.key} is corrupt; "
                                "republish the model")
                        refetched.add(index)
                        stats.refetched += 1
                        download(index)
                    else:
                        progress.write(f"{index}\n")
                        progress.flush()
                        complete.add(index)
                        stats.frames_fetched += 1
        return next_to_hash

    def _download_frame(self, entry: FileEntry, frame: Frame) -> tuple[bool, dict[str, float], bytes]:
        # Only published (compressed) entries reach the S3 tier.
        assert entry.compressed is not None  # nosec B101
        started = time.perf_counter()
        body = self._get_object(entry.compressed.key, f"bytes={frame.offset}-{frame.offset + frame.size - 1}")
        return True, {"io_wait_ms": (time.perf_counter() - started) * 1000}, body

    @staticmethod
    def _place_frame(entry: FileEntry, index: int, frame: Frame, body: bytes,
                     fd: int) -> tuple[bool, dict[str, float], bytes]:
        """Verify one frame; if good, decompress it into its place in the partial file."""
        import zstandard

        t0 = time.perf_counter()
        digest = FileDigest(sha256=frame.sha256, blake3=frame.blake3)
        digest.update(body)
        if not digest.matches():
            return False, {"verify_ms": (time.perf_counter() - t0) * 1000}, b""
        t1 = time.perf_counter()
        raw = zstandard.ZstdDecompressor().decompress(body, max_output_size=frame.raw_size)
        t2 = time.perf_counter()
        if len(raw) != frame.raw_size:
            raise IntegrityError(f"frame {index} of {entry.path} decompressed to {len(raw)} bytes, "
                                 f"not {frame.raw_size}; republish the model")
        os.pwrite(fd, raw, frame.raw_offset)
        return True, {"verify_ms": (t1 - t0) * 1000, "decompress_ms": (t2 - t1) * 1000}, b""

    def _get_object(self, key: str, byte_range: str | None = None) -> bytes:
        """One GET (botocore retries it, standard mode); FetchError naming the object when it gives up."""
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs = {"Bucket": self.bucket, "Key": key}
        if byte_range:
            kwargs["Range"] = byte_range
        try:
            return bytes(self.client().get_object(**kwargs)["Body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"):
                raise FetchError(f"s3://{self.bucket}/{key} does not exist or may not be read ({code}); "
                                 "publish the model there, or fix the registry and the function's "
                                 "S3 permissions") from exc
            raise FetchError(f"could not read s3://{self.bucket}/{key} after {self.max_attempts} attempts "
                             f"(S3_ATTEMPTS): {exc}") from exc
        except (BotoCoreError, OSError) as exc:
            raise FetchError(f"could not reach s3://{self.bucket}/{key} after {self.max_attempts} attempts "
                             f"(S3_ATTEMPTS): {exc}") from exc
