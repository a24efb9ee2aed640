"""The S3 -> verified-file pipeline on about 1 GB: each stage alone, then streamed together.

    python -m tools.bench.fetch [--mib 1024] [--runs 3] [--parallelism 8]

A synthetic artifact of float32 "weights" (normally distributed, which compress about
as badly as real ones) is published to a SeaweedFS S3 server on loopback, then:

- transfer alone: every frame fetched by parallel ranged GETs, bytes discarded;
- single GET: the whole object in one request (the parallel speed-up's baseline);
- sha256 alone: the frame hashes (parallel) and the original-bytes hash (in order),
  on data already in memory, as the pipeline computes them;
- decompression alone: every frame, in parallel, from memory;
- the pipeline: the runtime's own cache.get() into an empty /tmp tier (to a verified
  file, which the loader then maps).

Medians of --runs. The pipeline should take no more than 1.25x its slowest stage.

Real S3 caps each connection (on the order of 100 MB/s); loopback does not, and on a
2-core machine every stage alone already uses both cores, so unpaced the stages can
only add up. ``--pace-mib`` caps each connection's reads (the client sleeps between
1 MiB chunks, as a capped link would make it wait), which is the situation parallel
ranges and overlapping stages are for. 0 turns pacing off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from inference_runtime.artifact import (
    GraphSpec,
    Manifest,
    ModelSpec,
    Task,
    TokenizerSpec,
    describe_files,
    write_manifest,
)
from inference_runtime.cache import DiskTier, FetchStats, ModelCache, S3Source
from tools.local.s3server import SeaweedS3
from tools.publish import publish

REPO_ROOT = Path(__file__).resolve().parents[2]


class PacedS3Source(S3Source):
    """S3Source whose every connection reads at most ``bytes_per_s`` (a per-connection cap).

    The pacing wraps the client, the source's boundary: the runtime's fetch is unchanged.
    """

    def __init__(self, uri: str, *, bytes_per_s: float, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self.bytes_per_s = bytes_per_s

    def client(self) -> Any:
        return PacedClient(super().client(), self.bytes_per_s)


class PacedClient:
    """A boto3 S3 client whose get_object bodies are read at most ``bytes_per_s``."""

    def __init__(self, client: Any, bytes_per_s: float) -> None:
        self._client = client
        self._bytes_per_s = bytes_per_s

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        response = dict(self._client.get_object(**kwargs))
        response["Body"] = PacedBody(response["Body"], self._bytes_per_s)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class PacedBody:
    def __init__(self, body: Any, bytes_per_s: float) -> None:
        self._body = body
        self._bytes_per_s = bytes_per_s

    def read(self, amount: int | None = None) -> bytes:
        if amount is not None:
            return bytes(self._body.read(amount))
        return paced_read(self._body, self._bytes_per_s)


def paced_read(body: Any, bytes_per_s: float) -> bytes:
    if not bytes_per_s:
        return body.read()
    chunks, started, total = [], time.perf_counter(), 0
    while chunk := body.read(1 << 20):
        chunks.append(chunk)
        total += len(chunk)
        ahead = total / bytes_per_s - (time.perf_counter() - started)
        if ahead > 0:
            time.sleep(ahead)
    return b"".join(chunks)


def synthetic_artifact(directory: Path, mib: int) -> Manifest:
    import numpy as np

    rng = np.random.default_rng(7)
    with open(directory / "weights.bin", "wb") as handle:
        for _ in range(mib // 16):
            handle.write(rng.standard_normal(4 * 2**20, dtype=np.float32).tobytes())
    files = describe_files(directory, ["weights.bin"])
    # Only the files are fetched here; the contract names the one file as the graph.
    spec = ModelSpec(task=Task.EMBEDDINGS, graph=GraphSpec(entrypoint="weights.bin"), tokenizer=TokenizerSpec())
    manifest = Manifest(name="synthetic", version=f"{mib}mib", format="onnx", files=files, model=spec)
    write_manifest(directory, manifest)
    return manifest


def timed(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def run(mib: int, runs: int, parallelism: int, pace_mib: float) -> dict[str, Any]:
    import zstandard

    work = Path(tempfile.mkdtemp(prefix="fetch-bench-", dir=REPO_ROOT / "build"))
    try:
        (work / "artifact").mkdir()
        synthetic_artifact(work / "artifact", mib)
        with SeaweedS3() as server:
            server.client().create_bucket(Bucket="bench")
            # The loopback server's throwaway credentials (it accepts any).
            os.environ.update(AWS_ENDPOINT_URL_S3=server.endpoint_url, AWS_ACCESS_KEY_ID="local",
                              AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1")  # nosec B106
            publish_s = timed(lambda: published.update(publish(work / "artifact", "s3://bench/models/",
                                                                endpoint_url=server.endpoint_url, progress=False)))
            rate = pace_mib * 2**20
            source = PacedS3Source(published["entry"]["source"], parallelism=parallelism, bytes_per_s=rate)
            manifest = source.read_manifest(published["entry"]["manifest_sha256"])
            entry = manifest.file("weights.bin")
            layout = entry.compressed
            if layout is None:
                raise RuntimeError("the published weights have no compressed layout: publish with tools.publish")
            client = source.client()

            def get_range(frame: Any) -> bytes:
                return paced_read(client.get_object(Bucket=source.bucket, Key=layout.key,
                                                    Range=f"bytes={frame.offset}-{frame.offset + frame.size - 1}"
                                                    )["Body"], rate)

            frames = list(layout.frames)
            with ThreadPoolExecutor(parallelism) as pool:
                compressed = list(pool.map(get_range, frames))
            raw_frames = [zstandard.ZstdDecompressor().decompress(c, max_output_size=f.raw_size)
                          for c, f in zip(compressed, frames, strict=True)]

            def transfer() -> None:
                with ThreadPoolExecutor(parallelism) as pool:
                    for _ in pool.map(get_range, frames):
                        pass

            def single_get() -> None:
                paced_read(client.get_object(Bucket=source.bucket, Key=layout.key)["Body"], rate)

            def sha256_stage() -> None:
                with ThreadPoolExecutor(parallelism) as pool:
                    list(pool.map(lambda c: hashlib.sha256(c).digest(), compressed))
                digest = hashlib.sha256()
                for raw in raw_frames:
                    digest.update(raw)
                if digest.hexdigest() != entry.sha256:
                    raise RuntimeError("sha256 stage: the frames do not hash to the published sha256")

            def decompress_stage() -> None:
                with ThreadPoolExecutor(parallelism) as pool:
                    list(pool.map(lambda cf: zstandard.ZstdDecompressor().decompress(
                        cf[0], max_output_size=cf[1].raw_size), zip(compressed, frames, strict=True)))

            def pipeline() -> None:
                cache = ModelCache(disk=DiskTier(work / "cache", max_bytes=(mib + 64) * 2**20), source=source)
                stats = FetchStats()
                path = cache.get(entry, stats)
                if path.stat().st_size != entry.size:
                    raise RuntimeError(f"pipeline: {path} has {path.stat().st_size} bytes, not {entry.size}")
                pipeline_stats.append(stats)

            pipeline_stats: list[FetchStats] = []
            samples: dict[str, list[float]] = {k: [] for k in ("transfer", "single_get", "sha256", "decompress",
                                                               "pipeline")}
            for _ in range(runs):
                samples["transfer"].append(timed(transfer))
                samples["single_get"].append(timed(single_get))
                samples["sha256"].append(timed(sha256_stage))
                samples["decompress"].append(timed(decompress_stage))
                shutil.rmtree(work / "cache", ignore_errors=True)  # an empty /tmp tier, outside the timing
                samples["pipeline"].append(timed(pipeline))
        medians = {k: statistics.median(v) for k, v in samples.items()}
        slowest = max(("transfer", "sha256", "decompress"), key=lambda k: medians[k])
        return {
            "mib": mib, "compressed_mib": layout.size / 2**20, "frames": len(frames), "parallelism": parallelism,
            "pace_mib_per_connection": pace_mib,
            "runs": runs, "publish_s": publish_s, "seconds": medians, "samples": samples,
            "slowest_stage": slowest, "pipeline_over_slowest": medians["pipeline"] / medians[slowest],
            "parallel_speedup_over_single_get": medians["single_get"] / medians["transfer"],
            "pipeline_mib_per_s": mib / medians["pipeline"],
            "last_pipeline_stats": pipeline_stats[-1].to_dict(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


published: dict[str, Any] = {}


def markdown(r: dict[str, Any]) -> str:
    s = r["seconds"]
    lines = [f"S3 -> verified file, {r['mib']} MiB ({r['compressed_mib']:.0f} MiB compressed, {r['frames']} frames), "
             f"{r['parallelism']} parallel ranges, each connection paced at "
             f"{r['pace_mib_per_connection'] or 'no'} MiB/s, medians of {r['runs']} runs, SeaweedFS on loopback:", "",
             "| stage | seconds | MiB/s |", "|---|---:|---:|"]
    for key, label in (("transfer", "transfer alone (parallel ranged GETs)"), ("single_get", "one GET of it all"),
                       ("sha256", "sha256 alone (frames + original)"), ("decompress", "decompression alone"),
                       ("pipeline", "**streamed pipeline** (cache.get into /tmp)")):
        lines.append(f"| {label} | {s[key]:.3f} | {r['mib'] / s[key]:.0f} |")
    ok = "met" if r["pipeline_over_slowest"] <= 1.25 else "NOT met"
    lines += ["", f"pipeline / slowest stage ({r['slowest_stage']}): {r['pipeline_over_slowest']:.2f} "
                  f"({ok}: <= 1.25); parallel ranges / single GET: {r['parallel_speedup_over_single_get']:.2f}x"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--pace-mib", type=float, default=25.0, help="per-connection cap, MiB/s (0: none)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    result = run(args.mib, args.runs, args.parallelism, args.pace_mib)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fetch.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "fetch.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
