"""The RAG example served locally: the embedder and the reranker behind one front door, each under /models/<name>/.

examples/rag/models.json lists all-MiniLM-L6-v2 (the tier functions' model: the real artifact of
`make artifact`) and ms-marco-MiniLM-L-6-v2 (a function of its own). The reranker here is a tiny
random cross-encoder (tests/tiny_models.py) exported by the real builder under that name: its scores
mean nothing, so the test checks the shape and order of the answer against its own scores, not
relevance. The openai SDK gets embeddings with only a base URL naming the embedder; a TEI /rerank
call against the reranker's prefix ranks documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.tiny_models import make_model
from tools.local.deployment import LocalDeployment, ModelOptions, TierOptions
from tools.local.emulator import DEFAULT_ARTIFACT_DIR
from tools.template.models import served_models

REPO_ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    if not (DEFAULT_ARTIFACT_DIR / "manifest.json").exists():
        pytest.fail(f"{DEFAULT_ARTIFACT_DIR} has no manifest: run make artifact")
    from tools.export import build

    registry = REPO_ROOT / "examples" / "rag" / "models.json"
    (reranker,) = served_models(registry)
    root = tmp_path_factory.mktemp("rag")
    build(root / "artifact", model_dir=make_model(root / "models", "bert", "reranking"), name=reranker.name)
    models = {reranker.name: ModelOptions(reranker.id, root / "artifact", TierOptions(max_environments=1),
                                                registry=registry)}
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
