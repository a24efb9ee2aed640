"""The RAG example served locally: the embedder and the reranker behind one front door, each under /models/<name>/.

examples/rag/models.json lists all-MiniLM-L6-v2 (the tier functions' model: the real artifact of
`make artifact`) and ms-marco-MiniLM-L-6-v2 (a function of its own). The reranker here is a tiny
random cross-encoder (tests/tiny_models.py) exported by the real builder under that name: its scores
mean nothing, so the test checks the shape and order of the answer against its own scores, not
relevance. The openai SDK gets embeddings with only a base URL naming the embedder; a TEI /rerank
call against the reranker's prefix ranks documents.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.tiny_models import make_model
from tools.local.deployment import LocalDeployment, ModelArtifactMissingError, TierOptions, models_from_list
from tools.local.emulator import DEFAULT_ARTIFACT_DIR
from tools.template.models import served_models

REPO_ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = "all-MiniLM-L6-v2"


REGISTRY = REPO_ROOT / "examples" / "rag" / "models.json"
RERANKER = "ms-marco-MiniLM-L-6-v2"


@pytest.fixture(scope="module")
def reranker_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random cross-encoder, exported by the real builder under the reranker's name."""
    if not (DEFAULT_ARTIFACT_DIR / "manifest.json").exists():
        pytest.fail(f"{DEFAULT_ARTIFACT_DIR} has no manifest: run make artifact")
    from tools.export import build

    (reranker,) = served_models(REGISTRY)
    root = tmp_path_factory.mktemp("reranker")
    build(root / "artifact", model_dir=make_model(root / "models", "bert", "reranking"), name=reranker.name)
    return root / "artifact"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, reranker_artifact: Path) -> Iterator[LocalDeployment]:
    root = tmp_path_factory.mktemp("rag")
    # what `make serve MODELS=examples/rag/models.json` builds, with one environment per fleet
    models = models_from_list(REGISTRY, TierOptions(max_environments=1), {RERANKER: reranker_artifact})
    assert [(m.id, m.registry) for m in models.values()] == [("Reranker", REGISTRY)]
    with LocalDeployment(standard=TierOptions(max_environments=1), premium=TierOptions(max_environments=1),
                         models=models, run_dir=root / "run") as running:
        yield running


def test_the_openai_sdk_gets_embeddings_from_the_embedders_base_url(deployment: LocalDeployment) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{deployment.front_door.url}/models/{EMBEDDER}/v1", api_key="unused")
    answer = client.embeddings.create(model=EMBEDDER, input=["What is a cold start?", "Lambda keeps it warm."])
    assert [len(item.embedding) for item in answer.data] == [384, 384]
    # the embedder's fleet served it; the reranker's started nothing
    summary = deployment.summary()
    assert summary["standard"]["peak_environments"] == 1
    assert summary["models/ms-marco-MiniLM-L-6-v2"]["peak_environments"] == 0


def test_a_rerank_call_against_the_rerankers_prefix_ranks_documents(deployment: LocalDeployment) -> None:
    documents = ["Cold starts load the model.", "Bananas are yellow.", "Keep-warm pings environments."]
    response = requests.post(f"{deployment.front_door.url}/models/ms-marco-MiniLM-L-6-v2/rerank",
                             json={"query": "why is the first request slow?", "texts": documents}, timeout=120)
    assert response.status_code == 200, response.text
    ranked = response.json()
    # TEI's answer: every document once, by index, best score first
    assert sorted(item["index"] for item in ranked) == [0, 1, 2]
    scores = [item["score"] for item in ranked]
    assert scores == sorted(scores, reverse=True)
    # the reranker's own function answered, not the embedder's (which refuses /rerank as the wrong task)
    assert deployment.model_fleets["ms-marco-MiniLM-L-6-v2"].summary()["peak_environments"] == 1


def test_serve_with_the_rag_list_routes_each_served_models_prefix_to_its_fleet(
        reranker_artifact: Path, tmp_path: Path) -> None:
    # GIVEN `make serve MODELS=examples/rag/models.json` (the reranker's artifact given, fleets of one)
    log = tmp_path / "lifecycle.jsonl"
    command = [sys.executable, "-m", "tools.local.serve", "--models", str(REGISTRY), "--port", "0",
               "--model-artifact", f"{RERANKER}={reranker_artifact}", "--max-environments", "1",
               "--premium-provisioned", "0", "--log", str(log)]
    serve = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert serve.stdout is not None
    try:
        banner = []
        for line in serve.stdout:
            banner.append(line)
            if "Ctrl-C to stop" in line:
                break
        text = "".join(banner)
        url = re.search(r"front door:\s+(http://\S+)", text)
        assert url, text
        assert f"{url[1]}/models/{RERANKER}/  -> RerankerFunction" in text
        # WHEN a TEI /rerank call goes to the reranker's prefix
        response = requests.post(f"{url[1]}/models/{RERANKER}/rerank",
                                 json={"query": "cold start?", "texts": ["a", "b"]}, timeout=120)
        assert response.status_code == 200, response.text
        assert sorted(item["index"] for item in response.json()) == [0, 1]
    finally:
        serve.send_signal(signal.SIGTERM)
        rest = serve.communicate(timeout=60)[0]
    # THEN the reranker's own fleet served it (a cold start there), the tiers started nothing
    assert serve.returncode == 0, rest
    summary = json.loads(log.with_suffix(".summary.json").read_text())
    assert summary[f"models/{RERANKER}"]["peak_environments"] == 1
    assert summary["standard"]["peak_environments"] == 0


def test_serve_refuses_a_served_model_without_an_artifact_saying_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactMissingError, match="make artifact MODEL='hf:cross-encoder/ms-marco"):
        models_from_list(REGISTRY, artifacts={RERANKER: tmp_path / "none"})
    done = subprocess.run([sys.executable, "-m", "tools.local.serve", "--models", str(REGISTRY), "--port", "0",
                           "--model-artifact", f"{RERANKER}={tmp_path / 'none'}", "--log", str(tmp_path / "l.jsonl")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "has no artifact" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "tools.local.serve", "--models", str(REGISTRY),
                           "--model-artifact", f"nope={tmp_path}"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "serves no model named nope" in done.stderr


def test_the_demo_with_the_rag_list_sends_one_request_to_the_served_models_prefix(
        reranker_artifact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tools.local.demo import print_report, run_demo

    models = models_from_list(REGISTRY, TierOptions(max_environments=1), {RERANKER: reranker_artifact})
    rows = run_demo(warm_requests=1, models=models)
    # the default list's rows first, as `make demo` prints them, then the reranker's own
    assert [r["request"] for r in rows][:2] == ["POST /predict (cold)", "POST /predict (warm 1)"]
    last = rows[-1]
    assert last["request"] == f"POST /models/{RERANKER}/predict"
    assert (last["status"], last["tier"], last["cold_start"]) == (200, "standard", True), last["answer"]
    # its own environment: none of the tiers' instances answered it
    assert last["instance"] not in {r["instance"] for r in rows[:-1]}
    print_report(rows)
    assert f"POST /models/{RERANKER}/predict" in capsys.readouterr().out
