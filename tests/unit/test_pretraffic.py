"""The pre-traffic hook's logic with fakes passed in: provisioned concurrency polled to READY (or
FAILED, or the deadline), the /warm and smoke /predict checks, and a verdict reported whatever
fails. The clock is a fake the sleep moves: every deadline here is exact, no wall clock is read.

The hook against the real fleet (emulator, Lambda Invoke API on loopback) is
tests/integration/test_pretraffic.py.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import threading
from dataclasses import replace
from typing import Any

import pytest

from lambda_shared import log as shared_log
from lambda_shared.settings import ConfigError
from tests.helpers import REPO_ROOT, load_event, load_module

# The hook's package sits beside its app.py (its CodeUri), as keep-warm's does; not installed.
sys.path.insert(0, str(REPO_ROOT / "functions" / "pretraffic"))
from pretraffic import (  # noqa: E402
    FAILED,
    SUCCEEDED,
    DeadlineError,
    HookConfig,
    HookEventError,
    ProvisioningFailedError,
    run_hook,
    wait_provisioned,
)

VERSION = "arn:aws:lambda:us-east-1:000000000000:function:StandardFunction:7"
EVENT = {"DeploymentId": "d-TEST12345", "LifecycleEventHookExecutionId": "exec-1"}
CONFIG = HookConfig(version_arn=VERSION, tier="premium", warm_count=3, hold_ms=500, timeout_s=12, poll_s=5)


class FakeClock:
    """Monotonic seconds that only ``sleep`` moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        # A wait with no deadline would loop for ever on this clock: fail instead of hanging.
        assert len(self.sleeps) < 100, "slept 100 times: nothing stops the wait"
        self.sleeps.append(seconds)
        self.now += seconds


class NotFound(Exception):
    """What botocore's ClientError looks like to the hook: a ``response`` with the error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": "no config"}}


class FakeLambda:
    """GetProvisionedConcurrencyConfig answers ``statuses`` in turn (the last one repeats); invoke answers
    /warm from ``instances`` in turn and /predict with one embedding; ``calls`` in order."""

    def __init__(self, statuses: list[dict[str, Any] | Exception] | None = None, *,
                 instances: list[str] | None = None, warm_status: int = 200, predict_status: int = 200,
                 task: str = "embeddings") -> None:
        self.statuses = statuses or [NotFound("ProvisionedConcurrencyConfigNotFoundException")]
        self.instances = list(instances or ["i-1", "i-2", "i-3"])
        self.warm_status, self.predict_status, self.task = warm_status, predict_status, task
        self.calls: list[tuple[str, Any]] = []
        self.predict_bodies: list[dict[str, Any]] = []

    def get_provisioned_concurrency_config(self, *, FunctionName: str, Qualifier: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("pc", (FunctionName, Qualifier)))
        answer = self.statuses[0] if len(self.statuses) == 1 else self.statuses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        event = json.loads(Payload)
        self.calls.append((event["path"], FunctionName))
        if event["path"] == "/warm":
            instance = self.instances.pop(0) if len(self.instances) > 1 else self.instances[0]
            body: dict[str, Any] = {"status": "warm", "model_loaded": True, "model": "m", "instance": instance,
                                    "first_invocation": True, "init_type": "provisioned-concurrency"}
            status = self.warm_status
            if status != 200:
                body = {"error": "model not ready: no manifest.json", "code": "model_not_ready"}
        elif event["path"] == "/openapi.json":
            status, body = 200, {"openapi": "3.1.0", "info": {"x-model": {"name": "m", "task": self.task}}}
        else:
            self.predict_bodies.append(json.loads(event["body"]))
            status = self.predict_status
            body = {"outputs": [[0.1, 0.2]], "model": "m", "instance": "i-1", "cold_start": False}
            if status != 200:
                body = {"error": "inputs must be a list", "code": "invalid_request"}
        payload = json.dumps({"statusCode": status, "body": json.dumps(body)}).encode()
        return {"StatusCode": 200, "Payload": io.BytesIO(payload)}


class FakeCodeDeploy:
    def __init__(self, fail: bool = False) -> None:
        self.reports: list[dict[str, str]] = []
        self.fail = fail

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, str]:
        if self.fail:
            raise ConnectionError("codedeploy unreachable")
        self.reports.append(kwargs)
        return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}


def pc(status: str, allocated: int = 0, reason: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"Status": status, "RequestedProvisionedConcurrentExecutions": 3,
                              "AllocatedProvisionedConcurrentExecutions": allocated,
                              "AvailableProvisionedConcurrentExecutions": allocated}
    if reason:
        answer["StatusReason"] = reason
    return answer


def hook(lambda_: FakeLambda, codedeploy: FakeCodeDeploy, clock: FakeClock, config: HookConfig = CONFIG,
         event: Any = EVENT, budget_s: float | None = None) -> dict[str, Any]:
    def settings() -> HookConfig:
        return config

    return run_hook(event, config=settings, lambda_client=lambda _: lambda_, codedeploy_client=lambda: codedeploy,
                    clock=clock, sleep=clock.sleep, budget_s=budget_s)


def log_lines(capsys: pytest.CaptureFixture[str], event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


@pytest.fixture(autouse=True)
def _fresh_logger() -> None:
    shared_log.reset()


# --- provisioned concurrency ----------------------------------------------------------------------

def test_ready_at_once_then_pings_then_succeeded(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a version whose provisioned concurrency is READY
    lambda_, codedeploy, clock = FakeLambda([pc("READY", 3)]), FakeCodeDeploy(), FakeClock()
    # WHEN CodeDeploy invokes the hook
    verdict = hook(lambda_, codedeploy, clock)
    # THEN one poll, no sleep, then 3 /warm and the smoke /predict of the version itself, then Succeeded
    assert [kind for kind, _ in lambda_.calls] == ["pc", "/warm", "/warm", "/warm", "/openapi.json", "/predict"]
    assert lambda_.calls[0][1] == ("arn:aws:lambda:us-east-1:000000000000:function:StandardFunction", "7")
    assert {target for kind, target in lambda_.calls[1:]} == {VERSION}
    assert clock.sleeps == []
    assert codedeploy.reports == [{"deploymentId": "d-TEST12345", "lifecycleEventHookExecutionId": "exec-1",
                                   "status": SUCCEEDED}]
    assert verdict["status"] == SUCCEEDED and verdict["warm"]["instances"] == ["i-1", "i-2", "i-3"]
    # AND the verdict's log line names the instances and how many were cold
    (line,) = log_lines(capsys, "pretraffic_verdict")
    assert (line["status"], line["warm"]["instances"], line["warm"]["cold"]) == (SUCCEEDED, ["i-1", "i-2", "i-3"], 3)


def test_in_progress_is_polled_until_ready_before_any_ping() -> None:
    # GIVEN provisioned concurrency IN_PROGRESS for two polls, then READY
    lambda_ = FakeLambda([pc("IN_PROGRESS", 0), pc("IN_PROGRESS", 2), pc("READY", 3)])
    codedeploy, clock = FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    # THEN it slept the poll interval twice, and pinged only after READY
    assert clock.sleeps == [5, 5]
    assert [kind for kind, _ in lambda_.calls][:4] == ["pc", "pc", "pc", "/warm"]
    assert verdict["provisioned"] | {"status": "READY", "polls": 3} == verdict["provisioned"]
    assert codedeploy.reports[0]["status"] == SUCCEEDED


def test_failed_provisioning_is_a_failed_verdict_with_lambdas_reason() -> None:
    lambda_ = FakeLambda([pc("IN_PROGRESS"), pc("FAILED", reason="account concurrency limit")])
    codedeploy, clock = FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    assert codedeploy.reports[0]["status"] == FAILED
    assert "ProvisioningFailedError" in verdict["reason"] and "account concurrency limit" in verdict["reason"]
    # AND no environment was pinged
    assert [kind for kind, _ in lambda_.calls] == ["pc", "pc"]


def test_not_ready_by_the_deadline_is_failed_and_the_last_sleep_stops_at_it() -> None:
    # GIVEN a deadline of 12 s, a poll every 5 s, and provisioning that never finishes
    lambda_, codedeploy, clock = FakeLambda([pc("IN_PROGRESS", 1)]), FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    # THEN polls at 0, 5, 10 and 12 s (the last sleep cut to the deadline), then Failed
    assert clock.sleeps == [5, 5, 2]
    assert [kind for kind, _ in lambda_.calls] == ["pc"] * 4
    assert codedeploy.reports[0]["status"] == FAILED and "DeadlineError" in verdict["reason"]
    assert verdict["elapsed_s"] == 12


def test_the_function_timeout_shortens_the_deadline() -> None:
    # GIVEN the function's own timeout leaves 6 s, less than PRETRAFFIC_TIMEOUT_S (12)
    lambda_, codedeploy, clock = FakeLambda([pc("IN_PROGRESS")]), FakeCodeDeploy(), FakeClock()
    hook(lambda_, codedeploy, clock, budget_s=6)
    # THEN the hook gives up at 6 s, leaving the margin for its report
    assert clock.sleeps == [5, 1] and codedeploy.reports[0]["status"] == FAILED


def test_wait_provisioned_raises_the_named_errors() -> None:
    clock = FakeClock()
    with pytest.raises(ProvisioningFailedError, match="FAILED: quota"):
        wait_provisioned(FakeLambda([pc("FAILED", reason="quota")]), "f", "1", deadline=clock() + 60, clock=clock,
                         sleep=clock.sleep, poll_s=5)
    with pytest.raises(DeadlineError, match="still IN_PROGRESS after 1 polls"):
        wait_provisioned(FakeLambda([pc("IN_PROGRESS")]), "f", "1", deadline=clock(), clock=clock,
                         sleep=clock.sleep, poll_s=5)
    # AND any other error of the API is not taken for "none configured"
    with pytest.raises(NotFound):
        wait_provisioned(FakeLambda([NotFound("AccessDeniedException")]), "f", "1", deadline=clock() + 60,
                         clock=clock, sleep=clock.sleep, poll_s=5)


def test_a_version_without_provisioned_concurrency_is_pinged_at_once() -> None:
    lambda_, codedeploy, clock = FakeLambda(), FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    assert verdict["provisioned"] == {"configured": False} and codedeploy.reports[0]["status"] == SUCCEEDED


def test_no_provisioned_check_when_the_template_says_there_is_none() -> None:
    lambda_, codedeploy, clock = FakeLambda([pc("FAILED")]), FakeCodeDeploy(), FakeClock()
    hook(lambda_, codedeploy, clock, config=replace(CONFIG, wait_provisioned=False))
    assert "pc" not in [kind for kind, _ in lambda_.calls] and codedeploy.reports[0]["status"] == SUCCEEDED


# --- the environments' answers --------------------------------------------------------------------

def test_a_warm_that_fails_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    lambda_, codedeploy, clock = FakeLambda(warm_status=503), FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    assert codedeploy.reports[0]["status"] == FAILED
    assert "3 of 3 /warm invocations failed: HTTP 503: model not ready" in verdict["reason"]
    assert "/predict" not in [kind for kind, _ in lambda_.calls]
    assert [line["ok"] for line in log_lines(capsys, "pretraffic_ping")] == [False] * 3


def test_fewer_distinct_environments_than_asked_is_refused() -> None:
    # GIVEN pings that all land on one environment (hold too short to overlap)
    lambda_, codedeploy, clock = FakeLambda(instances=["i-1"]), FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    assert codedeploy.reports[0]["status"] == FAILED
    assert "reached 1 distinct environment(s), not 3: raise WARM_HOLD_MS" in verdict["reason"]


def test_a_smoke_predict_that_fails_is_refused() -> None:
    lambda_, codedeploy, clock = FakeLambda(predict_status=400), FakeCodeDeploy(), FakeClock()
    verdict = hook(lambda_, codedeploy, clock)
    assert codedeploy.reports[0]["status"] == FAILED
    assert "the smoke /predict failed: HTTP 400: inputs must be a list" in verdict["reason"]


def test_the_smoke_body_follows_the_versions_task() -> None:
    # GIVEN no PRETRAFFIC_SMOKE_BODY and a version serving a reranker (published to S3: no build
    # argument states its task) WHEN the hook checks it THEN it reads the task from the version's own
    # /openapi.json and sends a body a reranker accepts; an embedding model gets the inputs body
    for task, field in (("reranking", "query"), ("embeddings", "inputs")):
        lambda_, codedeploy = FakeLambda(task=task), FakeCodeDeploy()
        hook(lambda_, codedeploy, FakeClock())
        assert codedeploy.reports[0]["status"] == SUCCEEDED
        assert field in lambda_.predict_bodies[0], (task, lambda_.predict_bodies)
    # AND a body set by the template wins, without asking the task
    lambda_ = FakeLambda(task="reranking")
    hook(lambda_, FakeCodeDeploy(), FakeClock(), dataclasses.replace(CONFIG, smoke_body='{"inputs": ["x"]}'))
    assert "/openapi.json" not in [path for path, _ in lambda_.calls] and lambda_.predict_bodies == [{"inputs": ["x"]}]


def test_a_call_that_hangs_is_a_failed_verdict_within_the_hooks_budget() -> None:
    # GIVEN a version whose /warm never answers (each invoke may wait up to the function's timeout)
    release = threading.Event()

    class Hanging(FakeLambda):
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            release.wait(30)
            return super().invoke(**kwargs)

    codedeploy = FakeCodeDeploy()
    try:
        # WHEN the hook has 0.2 s left THEN it reports Failed by its deadline instead of ending with no verdict
        verdict = hook(Hanging(), codedeploy, FakeClock(), budget_s=0.2)
    finally:
        release.set()
    assert codedeploy.reports[0]["status"] == FAILED
    assert "DeadlineError: the checks did not finish" in verdict["reason"]


def test_an_invoke_that_raises_is_refused_not_raised() -> None:
    class Unreachable(FakeLambda):
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            raise ConnectionError("endpoint down")

    codedeploy = FakeCodeDeploy()
    verdict = hook(Unreachable(), codedeploy, FakeClock())
    assert codedeploy.reports[0]["status"] == FAILED and "ConnectionError: endpoint down" in verdict["reason"]


# --- whatever else fails, CodeDeploy hears a verdict ----------------------------------------------

def test_a_bad_setting_is_a_reported_failed_verdict() -> None:
    def settings() -> HookConfig:
        return HookConfig.from_env({"PRETRAFFIC_VERSION_ARN": VERSION.rsplit(":", 1)[0] + ":live"})

    codedeploy = FakeCodeDeploy()
    verdict = run_hook(EVENT, config=settings, lambda_client=lambda _: FakeLambda(),
                       codedeploy_client=lambda: codedeploy, clock=FakeClock(), sleep=lambda _: None)
    assert codedeploy.reports[0]["status"] == FAILED
    assert "is not a published version's ARN" in verdict["reason"]


def test_an_event_that_is_not_codedeploys_is_refused_with_its_reason() -> None:
    with pytest.raises(HookEventError, match="no LifecycleEventHookExecutionId"):
        hook(FakeLambda(), FakeCodeDeploy(), FakeClock(), event={"DeploymentId": "d-1"})


def test_a_verdict_that_cannot_be_reported_fails_the_invocation(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConnectionError):
        hook(FakeLambda(), FakeCodeDeploy(fail=True), FakeClock())
    assert log_lines(capsys, "pretraffic_report_failed")[0]["status"] == SUCCEEDED


def test_settings_from_the_environment() -> None:
    config = HookConfig.from_env({"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_TIER": "premium",
                                  "PRETRAFFIC_WARM_COUNT": "2", "WARM_HOLD_MS": "300",
                                  "PRETRAFFIC_WAIT_PROVISIONED": "false"})
    assert (config.function_name, config.qualifier, config.tier, config.warm_count, config.hold_ms,
            config.wait_provisioned) == (VERSION.rsplit(":", 1)[0], "7", "premium", 2, 300, False)
    for bad, message in (({}, "PRETRAFFIC_VERSION_ARN is not set"),
                         ({"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_WARM_COUNT": "-1"}, "out of range"),
                         ({"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_WARM_COUNT": "101"}, "out of range"),
                         ({"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_SMOKE_BODY": "[1]"}, "JSON object"),
                         ({"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_TIER": "gold"}, "not a tier")):
        with pytest.raises(ConfigError, match=message):
            HookConfig.from_env(bad)


def test_a_warm_count_of_zero_checks_one_environment() -> None:
    # GIVEN the warm count the template passes from StandardWarmCount with keep-warm off (0)
    config = HookConfig.from_env({"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_WARM_COUNT": "0"})
    # THEN the settings are accepted (a deploy with keep-warm off must not fail) and one environment is checked
    assert config.warm_count == 1
    fake = FakeLambda()
    result = hook(fake, FakeCodeDeploy(), FakeClock(), config=config)
    assert result["status"] == SUCCEEDED
    assert [path for path, _ in fake.calls if path != "pc"] == ["/warm", "/openapi.json", "/predict"]


def test_the_handler_answers_an_event_that_is_not_codedeploys_without_a_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the function's handler, invoked by hand with keep-warm's event instead of CodeDeploy's
    app = load_module(REPO_ROOT / "functions" / "pretraffic" / "app.py", "pretraffic_app_unit")
    result = app.handler(load_event("keepwarm-schedule.json"), None)
    # THEN a Failed result saying what it expects, one log line, nothing reported (there is no execution)
    assert result["status"] == FAILED
    assert "no DeploymentId or LifecycleEventHookExecutionId" in result["reason"]
    assert log_lines(capsys, "pretraffic_bad_event")[0]["level"] == "ERROR"
