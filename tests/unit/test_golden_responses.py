"""Every route's response is what it was before issue 13's API redesign: tiny models, in process.

tests/golden/responses.json was recorded from commit c68512d (tests/golden/record.py):
functions/inference/app.py's handler, served a tiny random BERT for each task (exported
by the code of the day) and a model that cannot load, answering the requests of
tests/golden/cases.py: every route's good request and each of its 4xx, the 404s, 405s,
malformed events and every file in events/. Here the same requests go to the current
code, and the answers (status, headers, body; instance ids, versions and init traces
normalised; floats within 2e-6) must be the recorded ones. The real model's answers are
compared in tests/integration/test_golden_responses.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.golden.cases import TINY, build_tiny, differences, replay, serve

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "responses.json").read_text())


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("golden")


def check(name: str, answers: dict[str, Any]) -> None:
    expected = GOLDEN[name]
    assert answers.keys() == expected.keys()
    found = [f"{case}{d}" for case in expected for d in differences(expected[case], answers[case])]
    assert not found, f"{len(found)} differences from the golden responses:\n" + "\n".join(found[:40])


@pytest.mark.parametrize("task", list(TINY))
def test_every_route_answers_a_tiny_model_as_before(task: str, work: Path) -> None:
    handler = serve(build_tiny(task, work), f"golden_app_{task}")
    kwargs = {"name": TINY[task], "dimensions": 32} if task == "embeddings" else {}
    check(TINY[task], replay(handler, task, **kwargs))


def test_a_model_that_cannot_load_answers_as_before(work: Path) -> None:
    check("broken", replay(serve(work / "no-artifact-here", "golden_app_broken"), "broken"))


def test_the_comparison_sees_a_changed_answer() -> None:
    # The comparison itself can fail: a status, a message, a float past the tolerance, a missing field.
    case = GOLDEN[TINY["classification"]]["predict"]
    assert not differences(case, json.loads(json.dumps(case)))
    changed = json.loads(json.dumps(case))
    changed["body"]["outputs"][0][0]["score"] += 1e-5
    assert differences(case, changed)
    error = GOLDEN["broken"]["404"]
    for edit in ({"status": 400}, {"body": {"error": {**error["body"]["error"], "message": "x"}}}):
        assert differences(error, {**error, **edit})
    assert differences(error, {k: v for k, v in error.items() if k != "headers"})
