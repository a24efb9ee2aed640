"""The function under the real AWS Lambda Runtime Interface Emulator, on loopback.

Each test starts its own emulator processes and stops them. The functions run in
.venv-runtime (Python 3.12 and only the runtime dependencies), as in the image.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO_ROOT, body, load_event
from tests.unit.test_handler import BAD_REQUESTS
from tools.local.demo import Client
from tools.local.deployment import LocalDeployment
from tools.local.emulator import start_function

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployment(artifact_dir: Path):
    with LocalDeployment(max_environments=2) as running:
        yield running


def test_cold_then_warm_through_the_runtime_emulator(artifact_dir: Path) -> None:
    # GIVEN a fresh environment under the emulator
    with start_function("StandardFunction") as function:
        # WHEN the first and second requests arrive
        first = function.invoke(load_event("predict.json"))
        second = function.invoke(load_event("predict.json"))
        # THEN init ran once, during the first invocation, and the model was reused
        assert (first["statusCode"], second["statusCode"]) == (200, 200)
        assert (body(first)["cold_start"], body(second)["cold_start"]) == (True, False)
        assert body(first)["instance"] == body(second)["instance"]
        assert len(function.init_report_ms()) == 1
        init_lines = [json.loads(line) for line in function.logs().splitlines()
                      if line.startswith("{") and '"event":"init"' in line]
        assert init_lines and init_lines[0]["ready"] is True


def test_served_embeddings_match_sentence_transformers(deployment: LocalDeployment) -> None:
    from sentence_transformers import SentenceTransformer

    from tools.build_artifact import bundled_model_dir

    texts = ["A man is eating food.", "Serverless inference, fast from the first request.",
             "Ünïcödé text and emoji 🚀", "short", "word " * 400]
    client = Client(deployment.front_door.url)
    status, answer, _ = client.request("POST", "/predict", {"inputs": texts})
    client.close()
    assert status == 200
    served = np.asarray(answer["outputs"], dtype=np.float64)
    reference = SentenceTransformer(str(bundled_model_dir()), device="cpu").encode(
        texts, normalize_embeddings=True).astype(np.float64)
    cosine = (served * reference).sum(axis=1) / (np.linalg.norm(served, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosine.min() >= 0.9999, cosine


def test_front_door_routes_by_tier_header(deployment: LocalDeployment) -> None:
    client = Client(deployment.front_door.url)
    _, standard, _ = client.request("POST", "/predict", {"inputs": ["x"]})
    _, premium, _ = client.request("POST", "/predict", {"inputs": ["x"]}, {"X-Latency-Tier": "premium"})
    _, premium_upper, _ = client.request("POST", "/predict", {"inputs": ["x"]}, {"X-Latency-Tier": "PREMIUM"})
    _, explicit_standard, _ = client.request("POST", "/predict", {"inputs": ["x"]}, {"X-Latency-Tier": "standard"})
    client.close()
    assert [a["tier"] for a in (standard, premium, premium_upper, explicit_standard)] == \
        ["standard", "premium", "premium", "standard"]
    # premium was initialised before traffic (provisioned concurrency): never cold for a client
    assert premium["cold_start"] is False
    assert premium["instance"] == premium_upper["instance"] != standard["instance"]


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_request_events_through_the_emulator(deployment: LocalDeployment, name: str) -> None:
    pool = deployment.fleets["standard"]
    pool.invoke(load_event("predict.json"))
    result = pool.invoke(load_event(name))
    assert (result["statusCode"], body(result)["error"]["code"]) == BAD_REQUESTS[name]
    after = pool.invoke(load_event("predict.json"))
    assert after["statusCode"] == 200 and body(after)["cold_start"] is False


def test_front_door_refuses_what_an_alb_refuses(deployment: LocalDeployment) -> None:
    client = Client(deployment.front_door.url)
    status, _, _ = client.request("POST", "/predict", b"x" * 1_000_001)
    assert status == 413


def test_corrupt_artifact_answers_503_through_the_emulator(artifact_copy: Path) -> None:
    data = bytearray((artifact_copy / "model.onnx.data").read_bytes())
    data[len(data) // 2] ^= 0x01
    (artifact_copy / "model.onnx.data").write_bytes(bytes(data))
    with start_function("StandardFunction", env={"MODEL_ARTIFACT_DIR": str(artifact_copy)}) as function:
        for name in ("predict.json", "health.json"):
            result = function.invoke(load_event(name))
            assert result["statusCode"] == 503
            assert body(result)["error"]["code"] == "model_not_ready"
            assert "does not match the manifest" in body(result)["error"]["message"]


@pytest.mark.parametrize("function, event, tier", [
    ("StandardFunction", "predict.json", "standard"),
    ("PremiumFunction", "predict-premium.json", "premium"),
])
def test_invoke_command_is_sam_local_invoke_without_docker(artifact_dir: Path, function: str, event: str,
                                                           tier: str) -> None:
    out = subprocess.run([sys.executable, "-m", "tools.local.invoke", function, "-e", f"events/{event}"],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["statusCode"] == 200 and body(result)["tier"] == tier
    assert "INIT REPORT" in out.stderr
