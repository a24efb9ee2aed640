"""`make demo-s3`: publish the model to a real S3-compatible server, cold-start from it.

Starts SeaweedFS's S3 gateway on loopback, publishes the artifact with tools.publish
(independent zstd frames, multipart upload), points a registry entry at it, and runs
the standard function under the Lambda Runtime Interface Emulator with that model:
its init fetches, verifies and decompresses the weights from S3 through the cache,
and the table shows what each file cost.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from tools.publish import publish, write_registry_entry

from .emulator import DEFAULT_ARTIFACT_DIR, check_runtime_ready, start_function
from .s3server import SeaweedS3

MODEL_NAME = "all-MiniLM-L6-v2-s3"


def main() -> int:
    check_runtime_ready()
    with tempfile.TemporaryDirectory(prefix="demo-s3-") as scratch, SeaweedS3() as server:
        server.client().create_bucket(Bucket="models")
        print(f"S3 server on {server.endpoint_url}; publishing {DEFAULT_ARTIFACT_DIR.name} ...")
        started = time.perf_counter()
        result = publish(DEFAULT_ARTIFACT_DIR, "s3://models/demo/", client=server.client())
        print(f"published in {time.perf_counter() - started:.1f} s to {result['entry']['source']}")
        registry = Path(scratch) / "models.json"
        write_registry_entry(registry, MODEL_NAME, result["entry"])
        env = {"MODEL_REGISTRY": str(registry), "MODEL_NAME": MODEL_NAME, "AWS_ENDPOINT_URL_S3": server.endpoint_url,
               "MODEL_CACHE_DIR": str(Path(scratch) / "tmp")}
        event = json.loads((Path(__file__).resolve().parents[2] / "events" / "predict.json").read_text())
        with start_function("StandardFunction", env=env) as function:
            timings = []
            for label in ("cold", "warm"):
                started = time.perf_counter()
                answer = function.invoke(event)
                timings.append((label, answer["statusCode"], (time.perf_counter() - started) * 1000,
                                json.loads(answer["body"]).get("cold_start")))
            logs = function.logs()
        init = next(json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"event":"init"' in line)
    print(f"\n{'request':<16} {'status':>6} {'ms':>9}  cold_start")
    for label, status, ms, cold in timings:
        print(f"POST /predict {label:<4} {status:>6} {ms:>9.1f}  {cold}")
    fetch = next(p for p in init["trace"]["phases"] if p["name"] == "fetch_artifact")
    print(f"\nfetch_artifact during init: {fetch['duration_ms']:.0f} ms")
    print(f"{'file':<18} {'tier':<6} {'MiB':>7} {'zstd MiB':>9} {'frames':>6} {'wall ms':>8} {'I/O ms':>8} "
          f"{'sha ms':>7} {'zstd ms':>8}")
    for f in fetch["attributes"]["files"]:
        print(f"{f['path']:<18} {f['tier']:<6} {f['bytes'] / 2**20:>7.1f} {f.get('compressed_bytes', 0) / 2**20:>9.1f} "
              f"{f.get('frames', 0):>6} {f.get('wall_ms', 0):>8.0f} {f.get('io_wait_ms', 0):>8.0f} "
              f"{f.get('verify_ms', 0):>7.0f} {f.get('decompress_ms', 0):>8.0f}")
    print("(I/O, sha and zstd ms are summed over the parallel workers; wall is the file's own time)")
    return 0 if [t[1] for t in timings] == [200, 200] else 1


if __name__ == "__main__":
    raise SystemExit(main())
