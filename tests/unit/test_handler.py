"""The inference handler in process, on a tiny exported embedding model, driven by the files in events/.

These run the same code the emulator runs, without the emulator, so each behaviour
is cheap to pin down: routing, validation, the cold-start flag, and that no bad
request can cost the environment its loaded model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.artifact import read_manifest
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.service import InferenceService
from tests.helpers import body, event_files, load_event

# Every bad-request event in events/, with the status and code it must get.
BAD_REQUESTS = {
    "bad-request-json.json": (400, "invalid_json"),
    "bad-request-inputs.json": (422, "invalid_inputs"),
    "bad-request-tier.json": (400, "invalid_latency_tier"),
    "bad-request-route.json": (404, "not_found"),
    "bad-request-method.json": (405, "method_not_allowed"),
}


@pytest.fixture(scope="module")
def loaded_service(tiny_artifact_dir: Path) -> InferenceService:
    # tests/conftest.py's tiny BERT embedding model: 32 dimensions, normalised in its graph.
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir))
    service.start()
    assert service.ready, service.error
    return service


@pytest.fixture
def handler(loaded_service: InferenceService):
    new_instance()  # a fresh environment identity: the next request is its first
    return build_handler(loaded_service)


def invoke(handler, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = handler(event, None)
    assert result["headers"]["Content-Type"] == "application/json"
    assert result["statusDescription"].startswith(str(result["statusCode"]))
    return result["statusCode"], body(result)


def test_every_bad_request_event_has_a_test() -> None:
    assert set(event_files("bad-request")) == set(BAD_REQUESTS)


def test_predict_returns_normalised_embeddings_and_flips_cold_start(handler, loaded_service: InferenceService) -> None:
    # GIVEN a fresh environment WHEN two requests arrive
    status, first = invoke(handler, load_event("predict.json"))
    _, second = invoke(handler, load_event("predict.json"))
    # THEN one 32-dimensional unit vector per input, cold only the first time
    assert status == 200
    inputs = json.loads(load_event("predict.json")["body"])["inputs"]
    assert len(first["outputs"]) == len(inputs)
    for vector in first["outputs"]:
        assert len(vector) == 32
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-5)
    assert (first["cold_start"], second["cold_start"]) == (True, False)
    assert first["instance"] == second["instance"]
    assert (first["model"], first["tier"]) == ("tiny-bert-embeddings", "standard")
    assert first["version"] == read_manifest(loaded_service.config.artifact_dir).version
    assert first["outputs"] == second["outputs"]


def test_a_single_string_is_accepted(handler) -> None:
    event = load_event("predict.json")
    event["body"] = json.dumps({"inputs": "just one"})
    status, answer = invoke(handler, event)
    assert status == 200 and len(answer["outputs"]) == 1


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_bad_requests_get_json_errors_and_the_model_survives(handler, name: str) -> None:
    # GIVEN a warm environment
    invoke(handler, load_event("predict.json"))
    # WHEN a bad request arrives
    status, answer = invoke(handler, load_event(name))
    # THEN a 4xx with a machine-readable code and advice, and the next request is warm
    assert (status, answer["error"]["code"]) == BAD_REQUESTS[name]
    assert len(answer["error"]["message"]) > 20 and "Traceback" not in answer["error"]["message"]
    status, after = invoke(handler, load_event("predict.json"))
    assert status == 200 and after["cold_start"] is False


def test_method_not_allowed_names_the_allowed_method(handler) -> None:
    result = handler(load_event("bad-request-method.json"), None)
    assert result["headers"]["Allow"] == "POST"


@pytest.mark.parametrize("payload, status, code", [
    ({"inputs": []}, 422, "empty_inputs"),
    ({"text": ["x"]}, 422, "unknown_field"),
    ({}, 422, "missing_inputs"),
    ([1, 2], 400, "invalid_json"),
    ({"inputs": ["x"] * 65}, 413, "too_many_inputs"),
    ({"inputs": ["x" * 10_001]}, 413, "input_too_long"),
])
def test_schema_errors(handler, payload: Any, status: int, code: str) -> None:
    event = load_event("predict.json")
    event["body"] = json.dumps(payload)
    assert invoke(handler, event)[0] == status
    assert invoke(handler, event)[1]["error"]["code"] == code


def test_oversized_body_is_refused_before_parsing(handler) -> None:
    event = load_event("predict.json")
    event["body"] = "x" * (256 * 1024 + 1)
    status, answer = invoke(handler, event)
    assert (status, answer["error"]["code"]) == (413, "body_too_large")


def test_base64_bodies_are_decoded_and_bad_base64_is_a_400(handler) -> None:
    import base64

    event = load_event("predict.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert invoke(handler, event)[0] == 200
    event["body"] = "!!! not base64"
    assert invoke(handler, event)[1]["error"]["code"] == "invalid_body"


def test_warm_is_cheap_and_reports_the_environment(handler) -> None:
    status, first = invoke(handler, load_event("warm.json"))
    _, second = invoke(handler, load_event("warm.json"))
    assert status == 200 and first["model_loaded"] is True
    assert (first["first_invocation"], second["first_invocation"]) == (True, False)
    assert first["init_type"] == "on-demand"
    assert first["init"]["phases"]["create_session"] > 0 and "outputs" not in first


def test_warm_hold_is_bounded(handler) -> None:
    event = load_event("warm.json")
    event["queryStringParameters"] = {"hold_ms": "999999"}
    status, answer = invoke(handler, event)
    assert (status, answer["error"]["code"]) == (400, "invalid_parameter")


def test_init_type_comes_from_lambda(handler, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    assert invoke(handler, load_event("warm.json"))[1]["init_type"] == "provisioned-concurrency"


def test_non_alb_events_get_a_clear_400(handler) -> None:
    for event in ({}, {"source": "keepwarm.schedule"}, {"httpMethod": 1, "path": None}):
        result = handler(event, None)
        assert result["statusCode"] == 400
        assert body(result)["error"]["code"] == "unsupported_event"


def test_premium_function_answers_as_premium(loaded_service: InferenceService) -> None:
    premium = InferenceService(RuntimeConfig.from_env({}, artifact_dir=loaded_service.config.artifact_dir,
                                                      tier="premium"))
    premium.start()
    status, answer = invoke(build_handler(premium), load_event("predict-premium.json"))
    assert (status, answer["tier"]) == (200, "premium")


def test_route_table_matches_the_registered_routes(handler) -> None:
    from inference_runtime.api.routes import ROUTES

    for path, methods in ROUTES.items():
        for method in ("GET", "POST", "PUT", "DELETE"):
            event = load_event("health.json") | {"path": path, "httpMethod": method}
            if path == "/predict":
                event["body"] = load_event("predict.json")["body"]
            status = handler(event, None)["statusCode"]
            assert (status == 405) == (method not in methods), (path, method, status)
