"""``Server-Timing`` on every response, and the same breakdown in the request's log line (issue 15).

The model is a fake whose backend adds known tokenise and infer times (tests/unit/fake_services.py)
and whose init trace is injected, so the header's values are compared exactly, never against the
clock; only ``serialize`` is measured by the router, and it is checked for its presence and form.
One test runs the tiny exported model to tie the header's init entries to the service's real trace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from inference_runtime.api.model import Limits
from inference_runtime.api.routes import build_handler, handler_for
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.lifecycle.phases import InitPhase
from inference_runtime.service import InferenceService
from lambda_shared.events import alb_request_event
from tests.unit.fake_services import FakeService

ENTRY = re.compile(r"^([A-Za-z0-9_.-]+);dur=(\d+\.\d{3})$")
#: an init trace as the service summarises it: every phase but cuda_init (a CPU environment records none)
PHASES = {phase.value: float(10 * (i + 1)) + 0.125 for i, phase in enumerate(InitPhase)
          if phase is not InitPhase.CUDA_INIT}
TOTAL_MS = 1234.5


class TracedFake(FakeService):
    """An embedding fake with an injected init trace (its backend adds tokenize 1 ms and infer 2 ms a call)."""

    def init_summary(self) -> dict[str, Any]:
        return {"total_ms": TOTAL_MS, "phases": dict(PHASES)}


def timing(result: dict[str, Any]) -> dict[str, float]:
    """The Server-Timing header as {name: ms}, in order; every entry checked to be ``name;dur=ms``."""
    headers = result.get("headers") or {k: v[-1] for k, v in result["multiValueHeaders"].items()}
    entries = [ENTRY.match(part) for part in headers["Server-Timing"].split(", ")]
    assert all(entries), headers["Server-Timing"]
    return {m.group(1): float(m.group(2)) for m in entries if m}


def request_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


@pytest.fixture
def handler() -> Any:
    new_instance()  # this environment is cold again: its next request is its first
    return handler_for(TracedFake("embeddings"), Limits())


def post(handler: Any, path: str, body: Any) -> dict[str, Any]:
    return handler(alb_request_event("POST", path, body=json.dumps(body)), None)


def test_a_warm_request_has_tokenize_infer_serialize_only(handler: Any) -> None:
    post(handler, "/predict", {"inputs": ["a"]})                 # the cold one
    found = timing(post(handler, "/predict", {"inputs": ["a"]}))
    assert list(found) == ["tokenize", "infer", "serialize"]
    assert (found["tokenize"], found["infer"]) == (1.0, 2.0)     # what the backend reported, not the clock
    assert found["serialize"] >= 0.0


def test_the_first_request_of_a_cold_environment_adds_init_and_each_recorded_phase(handler: Any) -> None:
    found = timing(post(handler, "/v1/embeddings", {"input": ["a", "b"]}))
    expected = {"tokenize": 1.0, "infer": 2.0, "init": TOTAL_MS, **{f"init-{n}": ms for n, ms in PHASES.items()}}
    assert list(found) == ["tokenize", "infer", "serialize", "init", *(f"init-{n}" for n in PHASES)]
    assert {k: v for k, v in found.items() if k != "serialize"} == expected
    assert "init-cuda_init" not in found                         # a phase the trace did not record is not told
    assert "init" not in timing(post(handler, "/v1/embeddings", {"input": ["a"]}))   # told once


@pytest.mark.parametrize("event", [
    alb_request_event("GET", "/nope"),                                   # 404
    alb_request_event("POST", "/predict", body="{"),                     # 400
    alb_request_event("POST", "/embed", body=json.dumps({"inputs": ["a"], "dimensions": 3})),   # 422
    alb_request_event("GET", "/models/other/health"),                    # 404 model_not_found
    alb_request_event("GET", "/health"),
    {"httpMethod": "GET"},                                               # not an ALB event: 400
    {**alb_request_event("GET", "/warm"), "headers": None, "multiValueHeaders": {"a": ["b"]}},
])
def test_every_response_carries_it_errors_included(handler: Any, event: dict[str, Any]) -> None:
    post(handler, "/health", {})                                 # spend the cold start
    result = handler(event, None)
    found = timing(result)
    assert list(found) == ["tokenize", "infer", "serialize"], result["statusCode"]
    assert (found["tokenize"], found["infer"]) == (0.0, 0.0)     # nothing ran the model


def test_the_request_log_line_carries_the_same_breakdown(handler: Any, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    cold = timing(post(handler, "/embed", {"inputs": ["a"]}))
    warm = timing(post(handler, "/embed", {"inputs": ["a"]}))
    lines = request_lines(capfd.readouterr().out)
    assert [line["cold_start"] for line in lines] == [True, False]
    assert [line["timing"] for line in lines] == [cold, warm]
    assert lines[0]["timing"]["init-warmup"] == PHASES["warmup"]


def test_the_real_services_trace_reaches_the_header(tiny_artifact_dir: Path) -> None:
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir))
    service.start()
    assert service.ready, service.error
    new_instance()
    handler = build_handler(service)
    cold = timing(post(handler, "/embed", {"inputs": ["hello world"]}))
    recorded = service.init_summary()["phases"]
    assert recorded and set(recorded) <= {p.value for p in InitPhase}
    assert {k: v for k, v in cold.items() if k.startswith("init-")} == {f"init-{n}": ms for n, ms in recorded.items()}
    assert cold["init"] == service.init_summary()["total_ms"]
    warm = timing(post(handler, "/embed", {"inputs": ["hello world"]}))
    assert list(warm) == ["tokenize", "infer", "serialize"]
    assert warm["tokenize"] > 0 and warm["infer"] > 0            # filled by the real backend
