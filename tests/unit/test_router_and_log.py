"""The runtime's own ALB router and JSON log lines (what replaced Powertools on the request path)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inference_runtime import log
from inference_runtime.api.router import Request, Response, Router
from lambda_shared import log as shared_log
from lambda_shared.events import alb_request_event


class Refused(Exception):
    pass


class RefusedHard(Refused):
    pass


def echo(request: Request) -> dict[str, Any]:
    return {"tier": request.headers.get("x-latency-tier"), "hold": request.query.get("hold_ms"),
            "cold": request.context.get("cold_start")}


def refuse(request: Request) -> Any:
    raise RefusedHard("no")


def bug(request: Request) -> Any:
    raise KeyError("oops")


def not_found(request: Request) -> Response:
    return Response(404, {"missing": f"{request.method} {request.path}"})


def on_error(request: Request, error: Exception) -> Response:
    if isinstance(error, Refused):
        return Response(409, {"refused": type(error).__name__}, headers={"Retry-After": "1"})
    raise error


@pytest.fixture()
def router() -> Router:
    return Router({("POST", "/echo"): echo, ("GET", "/refuse"): refuse, ("GET", "/bug"): bug},
                  not_found=not_found, on_error=on_error)


def test_routes_by_method_and_exact_path_with_the_alb_status_line(router: Router) -> None:
    result = router.resolve(alb_request_event("POST", "/echo", headers={"X-Latency-Tier": "premium"},
                                              query={"hold_ms": "5"}), {"cold_start": True})
    assert result["statusCode"] == 200 and result["statusDescription"] == "200 OK"
    assert result["headers"] == {"Content-Type": "application/json"} and result["isBase64Encoded"] is False
    assert json.loads(result["body"]) == {"tier": "premium", "hold": "5", "cold": True}
    # a different method, or the path with a trailing slash, is no route (as ALBResolver's ^path$)
    for method, path in (("GET", "/echo"), ("POST", "/echo/")):
        missed = router.resolve(alb_request_event(method, path))
        assert missed["statusCode"] == 404 and json.loads(missed["body"]) == {"missing": f"{method} {path}"}


def test_a_routes_error_goes_to_on_error_and_one_it_does_not_answer_raises(router: Router) -> None:
    refused = router.resolve(alb_request_event("GET", "/refuse"))
    assert (refused["statusCode"], refused["statusDescription"]) == (409, "409 Conflict")
    assert json.loads(refused["body"]) == {"refused": "RefusedHard"} and refused["headers"]["Retry-After"] == "1"
    # on_error re-raises a KeyError here: the caller (routes.handler_for) answers 500 for it
    with pytest.raises(KeyError):
        router.resolve(alb_request_event("GET", "/bug"))


def test_multi_value_events_are_read_and_answered_in_multi_value_fields(router: Router) -> None:
    # GIVEN an event from a target group with multi-value headers on
    event = alb_request_event("POST", "/echo")
    event.pop("headers"), event.pop("queryStringParameters")
    event["multiValueHeaders"] = {"X-Latency-Tier": ["standard", "premium"]}
    event["multiValueQueryStringParameters"] = {"hold_ms": ["1", "7"]}
    # WHEN it is resolved
    result = router.resolve(event)
    # THEN the last value of each counts, and the answer's headers are multi-value too
    assert json.loads(result["body"])["tier"] == "premium" and json.loads(result["body"])["hold"] == "7"
    assert result["multiValueHeaders"] == {"Content-Type": ["application/json"]} and "headers" not in result


def test_log_lines_are_one_json_object_with_the_extra_fields(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "inference-test")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("AWS_LAMBDA_LOG_LEVEL", "WARN")  # the function's ApplicationLogLevel wins
    shared_log.reset()
    try:
        log.logger.info("dropped")
        try:
            raise ValueError("bad \ud800 value")
        except ValueError:
            log.logger.exception("kept", extra={"event": "x", "path": log})
        lines = capsys.readouterr().out.splitlines()
    finally:
        shared_log.reset()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["level"], entry["message"], entry["service"], entry["event"]) == \
        ("ERROR", "kept", "inference-test", "x")
    assert entry["exception_name"] == "ValueError" and "bad" in entry["exception"]
    assert entry["timestamp"].endswith("Z") and entry["location"].startswith("test_log_lines")
    assert entry["path"].startswith("<module")  # a value JSON cannot hold is logged as its text


def test_a_log_line_json_cannot_hold_still_goes_out(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    shared_log.reset()
    log.logger.warning("odd values", extra={"ratio": float("nan"), "by_id": {1: "a", (2, 3): "b"}})
    shared_log.reset()
    (line,) = capsys.readouterr().out.splitlines()
    entry = json.loads(line)  # strict JSON: no bare NaN
    assert entry["message"] == "odd values" and "nan" in entry["extra"] and "(2, 3)" in entry["extra"]


def test_a_requests_log_lines_carry_its_request_id(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an environment whose model cannot load (its requests are refused with a 503, logged)
    from types import SimpleNamespace

    from inference_runtime.api.routes import build_handler
    from inference_runtime.config import RuntimeConfig
    from inference_runtime.service import InferenceService
    from tests.helpers import load_event

    shared_log.reset()
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tmp_path, model_retry_seconds=3600))
    service.start()
    capsys.readouterr()
    # WHEN a request arrives with Lambda's context
    answer = build_handler(service)(load_event("predict.json"), SimpleNamespace(aws_request_id="req-0001"))
    log.logger.info("after the request")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"level"' in line]
    shared_log.reset()
    # THEN the line logged while serving it names it, and a line after it does not
    assert answer["statusCode"] == 503
    refused = next(line for line in lines if line["message"] == "request refused")
    assert refused["requestId"] == "req-0001"
    assert "requestId" not in next(line for line in lines if line["message"] == "after the request")
