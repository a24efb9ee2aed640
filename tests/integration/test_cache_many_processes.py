"""N worker processes cold-starting at once on one /tmp cache, as Lambda Managed Instances run them.

Against a real S3-compatible server on loopback (SeaweedFS): N fresh Python 3.12
processes (the function's runtime venv) import the handler at the same moment, all
with the same MODEL_CACHE_DIR. One of them fetches each file from S3; the others wait
on the file's lock and reuse the verified copy; every one of them is ready and answers
the same embedding; nothing partial or corrupt is left in the cache.
"""

from __future__ import annotations

import hashlib
import json
import os

# The test starts the worker processes itself, with fixed argument lists.
import subprocess  # nosec B404
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inference_runtime.artifact import read_manifest
from tests.helpers import REPO_ROOT, load_event
from tools.local.emulator import runtime_python
from tools.local.s3server import SeaweedS3
from tools.publish import publish, write_registry_entry

pytestmark = pytest.mark.integration
WORKERS = 4

# One worker: wait for the start signal, then init as Lambda would (import the handler),
# answer one /predict, and print the init trace and the answer.
WORKER = """
import json, os, sys, time
go = os.environ["TEST_GO_FILE"]
while not os.path.exists(go):
    time.sleep(0.001)
import app
answer = app.handler(json.loads(os.environ["TEST_EVENT"]), None)
print("RESULT " + json.dumps({"pid": os.getpid(), "ready": app.SERVICE.ready, "error": app.SERVICE.error,
                              "trace": app.TRACE.to_dict(), "status": answer["statusCode"],
                              "body": json.loads(answer["body"])}))
"""


@pytest.fixture(scope="module")
def s3server() -> Iterator[SeaweedS3]:
    with pytest.MonkeyPatch.context() as env, SeaweedS3() as server:
        # Loopback credentials for this process's own client (publish); the workers get theirs below.
        env.setenv("AWS_ACCESS_KEY_ID", "local")
        env.setenv("AWS_SECRET_ACCESS_KEY", "local")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server.client().create_bucket(Bucket="models")
        yield server


def start_workers(count: int, env: dict[str, str], go_file: Path) -> list[subprocess.Popen[str]]:
    return [subprocess.Popen([runtime_python(), "-c", WORKER], env=env, cwd=REPO_ROOT,  # nosec B603
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(count)]


def results(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    found = []
    for worker in workers:
        out, err = worker.communicate(timeout=180)
        line = next((line for line in out.splitlines() if line.startswith("RESULT ")), None)
        assert worker.returncode == 0 and line, f"worker exited {worker.returncode}: {err[-2000:]}"
        found.append(json.loads(line.removeprefix("RESULT ")))
    return found


def fetch_stats(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    phase = next(p for p in result["trace"]["phases"] if p["name"] == "fetch_artifact")
    return {f["path"]: f for f in phase["attributes"]["files"]}


def test_n_workers_cold_start_at_once_one_fetches_all_are_ready(s3server: SeaweedS3, artifact_dir: Path,
                                                                 tmp_path: Path) -> None:
    # GIVEN the model published to S3, and N workers of one environment sharing its /tmp
    published = publish(artifact_dir, "s3://models/shared/", endpoint_url=s3server.endpoint_url, progress=False,
                        name="minilm-shared")
    registry = tmp_path / "models.json"
    write_registry_entry(registry, "minilm-shared", published["entry"])
    cache_dir = tmp_path / "tmp" / "model-cache"
    go_file = tmp_path / "go"
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{REPO_ROOT / 'layers' / 'runtime'}:"
                                                     f"{REPO_ROOT / 'layers' / 'shared'}:"
                                                     f"{REPO_ROOT / 'functions' / 'inference'}",
           "MODEL_REGISTRY": str(registry), "MODEL_NAME": "minilm-shared", "MODEL_CACHE_DIR": str(cache_dir),
           "AWS_ENDPOINT_URL_S3": s3server.endpoint_url, "AWS_ACCESS_KEY_ID": "local",
           "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1", "TEST_GO_FILE": str(go_file),
           "TEST_EVENT": json.dumps(load_event("predict.json")), "OPENBLAS_NUM_THREADS": "1"}
    workers = start_workers(WORKERS, env, go_file)
    # WHEN they all start their init at the same moment
    time.sleep(0.5)  # every interpreter up and polling
    go_file.touch()
    found = results(workers)

    # THEN every worker is ready and answered the same embedding
    assert all(r["ready"] and r["status"] == 200 for r in found), [r["error"] for r in found]
    assert len({json.dumps(r["body"]["outputs"]) for r in found}) == 1
    # AND each file was fetched from S3 by exactly one of them; the others reused its verified copy
    manifest = read_manifest(artifact_dir)
    per_worker = [fetch_stats(r) for r in found]
    for entry in manifest.files:
        tiers = sorted(stats[entry.path]["tier"] for stats in per_worker)
        assert tiers == ["disk"] * (WORKERS - 1) + ["s3"], (entry.path, tiers)
        # (a worker that found the file already there says nothing of who fetched it)
        fetchers = [s[entry.path] for s in per_worker if s[entry.path].get("fetched_by") == "this process"]
        assert len(fetchers) == 1 and fetchers[0]["tier"] == "s3"
    # AND the cache holds each file once, whole and verified, with nothing partial left behind
    stored = {p.name: p for p in cache_dir.iterdir() if p.is_file() and not p.name.endswith(".lock")}
    assert set(stored) == {entry.sha256 for entry in manifest.files}, sorted(stored)
    for entry in manifest.files:
        assert hashlib.sha256(stored[entry.sha256].read_bytes()).hexdigest() == entry.sha256
    assert not list(cache_dir.rglob("*.partial*"))
