"""The shared file tier's cold start beside the image's (bundled) and S3's, at 416 MB and ~2 GB.

    python -m tools.bench.filetier [--runs 3] [--artifact build/artifacts/all-mpnet-base-v2 ...] [--out build/bench]

For each artifact, fresh processes (tools.bench.probe: the template's handler, spawn to the first
/predict answered) alternate between three sources of the same bytes:

- bundled: the artifact directory read in place and verified (what the image does);
- file:    a ``file://`` registry entry on a directory standing in for the mount (cache/mounted.py:
           each file copied into an empty /tmp tier while hashed, then mapped from there);
- s3:      published to a SeaweedFS S3 server on loopback, fetched by parallel ranged GETs of zstd
           frames into an empty /tmp tier (cache/s3.py).

Each run gets a new, empty /tmp tier, so the file and S3 runs always copy. What this machine cannot
show: EFS's or S3's own speed (the "mount" is a local directory and S3 is on loopback, with the
page cache warm for every source). The figures compare what the runtime does per byte for each
source (read, hash, copy, decompress), which is the part this code owns; a real mount adds the
network's time on top of the file row. Writes filetier.json and filetier.md under --out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics

# Fresh interpreters for the probes, a fixed argument list, never a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from inference_runtime.artifact import read_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "build" / "artifacts"
#: 416 MB, then the synthetic ~2 GB encoder when another bench has built it (make bench-sizes).
DEFAULT_ARTIFACTS = ("all-mpnet-base-v2", "xlmr-large-random")
SOURCES = ("bundled", "file", "s3")


def _cold(env_extra: dict[str, str], artifact_dir: Path) -> dict[str, Any]:
    """One fresh process: spawn -> first /predict answered; its trace's fetch phase."""
    from tools.bench.run import _env

    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "tools.bench.probe", "template"],  # nosec B603
                               cwd=REPO_ROOT, env=_env(artifact_dir, **env_extra),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = process.communicate()
    line = next((x for x in stdout.splitlines() if x.startswith('{"probe"')), None)
    if line is None:
        raise RuntimeError(f"probe failed (exit {process.returncode}): {stderr[-2000:]}")
    report = json.loads(line)["probe"]
    report["cold_start_s"] = time.perf_counter() - started
    if report["status"] != 200:
        raise RuntimeError(f"probe answered {report['status']}: {stderr[-2000:]}")
    phases = {p["name"]: p for p in report.get("trace", {}).get("phases", [])}
    fetch = phases.get("fetch_artifact", {})
    return {"cold_start_s": report["cold_start_s"], "init_s": report["init_s"],
            "fetch_ms": fetch.get("duration_ms", 0.0),
            "verify_ms": sum(f.get("verify_ms", 0.0) for f in fetch.get("attributes", {}).get("files", [])),
            "tiers": sorted({f.get("tier", "") for f in fetch.get("attributes", {}).get("files", [])})}


def bench_artifact(artifact_dir: Path, runs: int, scratch: Path, s3: Any) -> dict[str, Any]:
    from tools.publish import publish

    manifest = read_manifest(artifact_dir)
    size = sum(entry.size for entry in manifest.files)
    # The "mount": the artifact as an operator copies it, <mount>/<name>/<version>/.
    mount = scratch / "mnt" / manifest.name / manifest.version
    shutil.copytree(artifact_dir, mount)
    published = publish(artifact_dir, f"s3://models/{manifest.name}/", client=s3.client(), progress=False)["entry"]
    registry = scratch / f"{manifest.name}.models.json"
    registry.write_text(json.dumps({"models": {
        "file": {"source": f"file://{mount}/",
                 "manifest_sha256": hashlib.sha256((mount / "manifest.json").read_bytes()).hexdigest()},
        "s3": published}}))
    samples: dict[str, list[dict[str, Any]]] = {source: [] for source in SOURCES}
    for run in range(runs):
        for source in SOURCES:  # alternating, so the machine's drift hits every source alike
            tmp = scratch / f"tmp-{source}-{run}"
            # The loopback server takes any credentials; botocore only needs some to sign with.
            extra = {} if source == "bundled" else {
                "MODEL_REGISTRY": str(registry), "MODEL_NAME": source, "MODEL_CACHE_DIR": str(tmp),
                "AWS_ENDPOINT_URL_S3": s3.endpoint_url, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any"}  # nosec B105
            samples[source].append(_cold(extra, artifact_dir))
            shutil.rmtree(tmp, ignore_errors=True)
    rows = {}
    for source, found in samples.items():
        rows[source] = {key: statistics.median(s[key] for s in found)
                        for key in ("cold_start_s", "init_s", "fetch_ms", "verify_ms")}
        rows[source]["tiers"] = found[0]["tiers"]
    shutil.rmtree(mount)
    return {"artifact": manifest.name, "bytes": size, "runs": runs, "sources": rows}


def _markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| model | size | source | cold start (s) | fetch phase (ms) | hashing (ms) | vs bundled |",
             "|---|---:|---|---:|---:|---:|---:|"]
    for result in results:
        base = result["sources"]["bundled"]["cold_start_s"]
        for source, row in result["sources"].items():
            lines.append(f"| {result['artifact']} | {result['bytes'] / 1e6:.0f} MB | {source} | "
                         f"{row['cold_start_s']:.2f} | {row['fetch_ms']:.0f} | {row['verify_ms']:.0f} | "
                         f"{row['cold_start_s'] / base:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per source (median)")
    parser.add_argument("--artifact", type=Path, action="append", default=None,
                        help="artifact directories (default: all-mpnet-base-v2 and xlmr-large-random when built)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    artifacts = args.artifact or [ARTIFACTS / name for name in DEFAULT_ARTIFACTS
                                  if (ARTIFACTS / name / "manifest.json").is_file()]
    if not artifacts:
        parser.error("no artifact: build all-mpnet-base-v2 (make artifact MODEL=all-mpnet-base-v2) or pass --artifact")
    from tools.bench.run import compile_like_the_image
    from tools.local.s3server import SeaweedS3

    compile_like_the_image()
    results = []
    with tempfile.TemporaryDirectory(prefix="filetier-") as scratch, SeaweedS3() as s3:
        s3.client().create_bucket(Bucket="models")
        for artifact in artifacts:
            print(f"{artifact.name}: {args.runs} runs x {', '.join(SOURCES)} ...", flush=True)
            results.append(bench_artifact(artifact, args.runs, Path(scratch), s3))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "filetier.json").write_text(json.dumps(results, indent=2) + "\n")
    table = _markdown(results)
    (args.out / "filetier.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
