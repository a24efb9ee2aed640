"""The fleet's lifecycle with real environments: emulator processes running the function.

Each test starts its own deployment (at most 4 environments at a time) with a small,
fast lifecycle model, talks to it as clients do (boto3's Lambda client on the local
Invoke API, HTTP through the front door), and looks at what happened to the processes
and in the lifecycle log.

No test here compares elapsed seconds to a number: what must happen "at once" is asserted
as an order of the lifecycle log's events (``seq``: a refusal before the busy requests end,
a dead environment's answer before its processes are stopped and before the request beside
it ends), and idle time and age are on a clock the test moves (``ManualClock``). Time bounds
here only end a hung test, generously; the holds (``hold_ms``) only keep requests running.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tools.lifecycle_model import IdleReclaim, LifecycleModel
from tools.local.deployment import LocalDeployment, TierOptions
from tools.local.fleet import Fleet

pytestmark = pytest.mark.integration

# /warm may hold its environment this long here (2 s by default), to be killed while it does.
LONG_HOLDS = {"MAX_WARM_HOLD_MS": "8000"}
QUICK = LifecycleModel(IdleReclaim(early_probability=1.0, early_s=(1.0, 1.5)), max_age_s=6.0)


class ManualClock:
    """The fleets' clock, moved only by the test: how long an environment was idle, and how old
    it is, are what the test says, however slow the machine is today."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def lambda_client(deployment: LocalDeployment) -> Any:
    return boto3.client("lambda", endpoint_url=deployment.lambda_service.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",  # nosec B106 (loopback only)
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=90))


def warm(client: Any, function: str = "StandardFunction", hold_ms: int = 0) -> dict[str, Any]:
    """One /warm through the Invoke API: its status, the instance that answered, the function error if any."""
    event = {"httpMethod": "GET", "path": "/warm", "headers": {}, "body": None, "isBase64Encoded": False,
             "queryStringParameters": {"hold_ms": str(hold_ms)} if hold_ms else {}}
    response = client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
    result = json.loads(response["Payload"].read())
    answer: dict[str, Any] = {"function_error": response.get("FunctionError"),
                              "environment": response["ResponseMetadata"]["HTTPHeaders"].get("x-local-environment")}
    if answer["function_error"]:
        return {**answer, "error": result}
    return {**answer, **json.loads(result["body"])}


def front_door(deployment: LocalDeployment, path: str, tier: str = "standard",
               body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(deployment.front_door.url + path, data=body,
                                     headers={"X-Latency-Tier": tier, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=90) as response:  # nosec B310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def in_thread(target: Callable[..., Any], *args: Any) -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(target(*args)))
    thread.start()
    return thread, results


def wait_for(condition: Callable[[], Any], timeout_s: float = 30.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def busy_slots(fleet: Fleet) -> int:
    return sum(1 for e in fleet.environments for s in e.slots if s.busy)


def seq(deployment: LocalDeployment, event: str, environment: str, **match: Any) -> int:
    """The place in the lifecycle log of the one ``event`` of ``environment`` whose details match."""
    (found,) = [e for e in deployment.log.events(event) if e["environment"] == environment
                and all(e.get(key) == value for key, value in match.items())]
    return int(found["seq"])


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_beyond_the_limit_callers_get_429_from_the_api_and_503_from_the_front_door(artifact_dir: Path) -> None:
    # GIVEN a standard tier of at most 2 environments, both holding a /warm
    with LocalDeployment(standard=TierOptions(max_environments=2), prewarm_premium=False) as deployment:
        client = lambda_client(deployment)
        fleet = deployment.fleets["standard"]
        held = [in_thread(warm, client, "StandardFunction", 2000) for _ in range(2)]
        wait_for(lambda: busy_slots(fleet) == 2, what="both environments busy")
        # WHEN a third and a fourth request arrive, one through the Lambda API, one through the front door
        with pytest.raises(ClientError) as throttled:
            warm(client)
        status, answer = front_door(deployment, "/predict", body=b'{"inputs": ["hello"]}')
        for thread, _ in held:
            thread.join()
        after = warm(client)
    # THEN both were refused at once (not queued behind the holds), in Lambda's and the ALB's terms
    error = throttled.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429 and "Rate Exceeded" in error["Error"]["Message"]
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert status == 503 and answer["error"]["code"] == "lambda_throttled"
    # AND both were refused while the two held requests still ran: not after waiting for either
    events = deployment.log.events(function="StandardFunction")
    refusals = [e["seq"] for e in events if e["event"] == "throttle"]
    held_ends = [e["seq"] for e in events if e["event"] == "invocation"][:2]
    assert len(refusals) == 2 and max(refusals) < min(held_ends), "a throttled request waited for a busy environment"
    # AND the two held requests each had their own environment, cold; the next request was warm
    answers = [results[0] for _, results in held]
    assert len({a["instance"] for a in answers}) == 2 and all(a["first_invocation"] for a in answers)
    assert after["first_invocation"] is False and after["instance"] in {a["instance"] for a in answers}
    summary = deployment.summary()["standard"]
    assert (summary["environments_started"], summary["cold_starts"], summary["throttle"]) == (2, 2, 2)


def test_idle_environments_are_reclaimed_old_ones_recycled_provisioned_ones_kept(artifact_dir: Path,
                                                                                 tmp_path: Path) -> None:
    # GIVEN a reclaim after 1-1.5 s idle, recycling at 6 s of age, and one provisioned premium
    # environment, on a clock the test moves
    log_path = tmp_path / "lifecycle.jsonl"
    clock = ManualClock()
    with LocalDeployment(standard=TierOptions(max_environments=1), premium=TierOptions(max_environments=1,
                         provisioned=1), lifecycle=QUICK, log_path=log_path, clock=clock) as deployment:
        client = lambda_client(deployment)
        premium_first = warm(client, "PremiumFunction")
        first = warm(client)
        (environment,) = deployment.fleets["standard"].environments
        pids = [environment.slots[0].worker.runtime_pids()[0], environment.slots[0].worker._process.pid]  # type: ignore[attr-defined]
        # WHEN the standard environment idles past its reclaim time
        clock.advance(1.6)
        wait_for(lambda: deployment.log.events("reclaim"), timeout_s=10, what="a reclaim")
        # THEN its processes end, and the next request starts a new one, cold
        wait_for(lambda: all(process_gone(pid) for pid in pids), timeout_s=10, what="its processes ending")
        second = warm(client)
        assert second["first_invocation"] is True and second["instance"] != first["instance"]
        # WHEN it is kept busy, never idle 1 s, until it is 5.4 s old: it stays, and stays warm
        for _ in range(6):
            clock.advance(0.9)
            latest = warm(client)
            assert latest["first_invocation"] is False and latest["instance"] == second["instance"]
        assert deployment.log.events("recycle") == []
        # AND then idles 0.9 s more, past its maximum age of 6 s (not past its reclaim time)
        clock.advance(0.9)
        wait_for(lambda: deployment.log.events("recycle"), timeout_s=10, what="a recycle")
        # THEN it was recycled: the next request is cold, in a third environment
        third = warm(client)
        assert third["first_invocation"] is True and len({first["instance"], second["instance"],
                                                          third["instance"]}) == 3
        # AND the provisioned premium environment, idle all along, is still the warm one
        premium_last = warm(client, "PremiumFunction")
    events = deployment.log.events()
    assert premium_first["first_invocation"] is False and premium_last["instance"] == premium_first["instance"]
    lifecycle = [e for e in events if e["event"] not in ("invocation", "ended")]
    premium_events = [e["event"] for e in lifecycle if e["function"] == "PremiumFunction"]
    assert premium_events == ["init", "stop"]
    standard_events = [e["event"] for e in lifecycle if e["function"] == "StandardFunction"]
    assert standard_events == ["init", "reclaim", "init", "recycle", "init", "stop"]
    # The figures are the test's clock's: exactly as long as it moved
    (recycle,) = [e for e in events if e["event"] == "recycle"]
    assert recycle["age_s"] == 6.3 and recycle["invocations"] == 7
    (reclaim,) = [e for e in events if e["event"] == "reclaim"]
    assert 1.0 <= reclaim["drawn_s"] <= 1.5 and reclaim["idle_s"] == 1.6
    # Both retired environments' processes were stopped, each after it was retired
    ended = [e for e in events if e["event"] == "ended"]
    assert [(e["environment"], e["after"]) for e in ended] == [(reclaim["environment"], "reclaim"),
                                                               (recycle["environment"], "recycle")]
    assert reclaim["seq"] < ended[0]["seq"] and recycle["seq"] < ended[1]["seq"]
    # The log file holds the same events, one JSON line each
    assert [json.loads(line) for line in log_path.read_text().splitlines()] == events


def test_an_environment_that_dies_mid_request_answers_at_once_and_is_replaced(artifact_dir: Path) -> None:
    with LocalDeployment(standard=TierOptions(max_environments=2), prewarm_premium=False,
                         env=LONG_HOLDS) as deployment:
        client = lambda_client(deployment)
        fleet = deployment.fleets["standard"]
        before = warm(client)
        (environment,) = fleet.environments
        worker = environment.slots[0].worker
        emulator = worker._process.pid  # type: ignore[attr-defined]
        (runtime,) = worker.runtime_pids()
        # GIVEN a request that would hold its environment for 8 s, and beside it, in a second
        # environment, one that holds for 3 s: the mark "long before the 8 s were up"
        doomed, results = in_thread(warm, client, "StandardFunction", 8000)
        wait_for(lambda: busy_slots(fleet) == 1, what="the request running")
        beside, beside_results = in_thread(warm, client, "StandardFunction", 3000)
        wait_for(lambda: busy_slots(fleet) == 2, what="the request beside it running")
        time.sleep(0.3)  # into the function's hold, not only into the fleet
        # WHEN the first one's runtime process is killed
        os.kill(runtime, signal.SIGKILL)
        doomed.join(timeout=60)
        beside.join(timeout=60)
        # THEN the caller has Lambda's function error
        (died,) = results
        assert died["function_error"] == "Unhandled" and died["error"]["errorType"] == "Runtime.ExitError"
        # AND had it before the 3 s request beside it ended, and before the dead environment's
        # emulator was stopped: it waited neither for its hold nor for the dead processes
        (other,) = beside_results
        wait_for(lambda: deployment.log.events("ended"), what="the dead environment's processes stopped")
        answered = seq(deployment, "invocation", environment.id, function_error="Unhandled")
        assert seq(deployment, "death", environment.id) < answered
        assert answered < seq(deployment, "invocation", other["environment"], during="request"), \
            "the caller of a dead environment waited as long as a 3 s request"
        assert answered < seq(deployment, "ended", environment.id, after="death"), \
            "the caller of a dead environment waited for its processes to stop"
        assert process_gone(emulator)
        # AND the dead environment takes no more requests: the next one goes to the other
        after = warm(client)
        assert after["environment"] == other["environment"] and after["first_invocation"] is False
        # WHEN that environment's runtime is killed while it is idle
        (replacement,) = fleet.environments
        os.kill(replacement.slots[0].worker.runtime_pids()[0], signal.SIGKILL)
        # THEN the fleet notices without a request, and the next request is a cold start elsewhere
        wait_for(lambda: len(deployment.log.events("death")) == 2, timeout_s=10, what="the idle death noticed")
        last = warm(client)
        assert last["first_invocation"] is True
        assert last["instance"] not in (before["instance"], other["instance"])
        deaths = deployment.log.events("death")
    assert [(d["cause"], d["during"]) for d in deaths] == [("exit", "invocation"), ("exited while idle", "idle")]
    assert [d["environment"] for d in deaths] == [environment.id, replacement.id]


def test_a_provisioned_environment_killed_mid_request_is_a_502_and_is_provisioned_again(artifact_dir: Path) -> None:
    with LocalDeployment(standard=TierOptions(max_environments=1),
                         premium=TierOptions(max_environments=2, provisioned=1), env=LONG_HOLDS) as deployment:
        fleet = deployment.fleets["premium"]
        (environment,) = fleet.environments
        emulator = environment.slots[0].worker._process  # type: ignore[attr-defined]
        # GIVEN a premium request holding the provisioned environment
        thread, results = in_thread(front_door, deployment, "/warm?hold_ms=4000", "premium")
        wait_for(lambda: busy_slots(fleet) == 1, what="the request running")
        time.sleep(0.3)
        # WHEN the whole environment (emulator and runtime) is killed
        for pid in [emulator.pid, *environment.slots[0].worker.runtime_pids()]:
            os.killpg(pid, signal.SIGKILL)
        thread.join(timeout=30)
        # THEN the front door answers the ALB's 502 for a failed function, with the reason
        ((status, answer),) = results
        assert status == 502 and answer["error"]["code"] == "bad_gateway"
        assert "Runtime.ExitError" in answer["error"]["message"]
        # AND a new provisioned environment is initialised in its place, before any request needs it
        replacement = wait_for(lambda: [e for e in fleet.environments if e.id != environment.id and
                                        e.state == "ready" and e.fully_idle], what="a replacement")
        status, warm_answer = front_door(deployment, "/warm", "premium")
        assert status == 200 and warm_answer["first_invocation"] is False
        inits = [e for e in deployment.log.events("init", "PremiumFunction")]
        wait_for(lambda: deployment.log.events("ended"), what="the dead environment's processes stopped")
    assert [e["environment"] for e in inits] == [environment.id, replacement[0].id]
    assert all(e["during"] == "provisioning" for e in inits)
    # The 502 was answered before the replacement was initialised and before the dead
    # processes were stopped: the caller waited for neither
    answered = seq(deployment, "invocation", environment.id, function_error="Unhandled")
    assert answered < inits[1]["seq"], "the caller waited for the replacement's init"
    assert answered < seq(deployment, "ended", environment.id, after="death"), \
        "the caller waited for the dead processes"


def test_a_function_that_times_out_is_a_function_error_and_its_environment_is_replaced(artifact_dir: Path) -> None:
    # GIVEN a function timeout of 1 s, and a /warm allowed to hold for longer
    env = {"AWS_LAMBDA_FUNCTION_TIMEOUT": "1", "MAX_WARM_HOLD_MS": "5000"}
    with LocalDeployment(standard=TierOptions(max_environments=1), prewarm_premium=False, env=env) as deployment:
        client = lambda_client(deployment)
        warm(client)
        # WHEN a request runs past it
        timed_out = warm(client, hold_ms=4000)
        after = warm(client)
        (death,) = deployment.log.events("death")
        wait_for(lambda: deployment.log.events("ended"), what="the timed-out environment's processes stopped")
    # THEN Lambda's timeout error, when the timeout struck (the emulator's words), and a new
    # environment after it
    assert timed_out["function_error"] == "Unhandled" and timed_out["error"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out["error"]["errorMessage"]
    assert death["cause"] == "timeout" and after["first_invocation"] is True
    # AND the caller had it before the timed-out environment's processes were stopped
    answered = seq(deployment, "invocation", death["environment"], function_error="Unhandled")
    assert death["seq"] < answered < seq(deployment, "ended", death["environment"], after="death")


def test_workers_of_one_environment_share_its_cache_directory_and_its_concurrency(artifact_dir: Path) -> None:
    # GIVEN the standard tier as one environment of 2 worker processes (as Lambda Managed Instances)
    with LocalDeployment(standard=TierOptions(max_environments=1, workers=2),
                         premium=TierOptions(max_environments=1, provisioned=1)) as deployment:
        client = lambda_client(deployment)
        fleet = deployment.fleets["standard"]
        warm(client)
        wait_for(lambda: fleet.environments[0].fully_idle, what="both workers initialised")
        # WHEN two requests hold it at once, and a third arrives
        held = [in_thread(warm, client, "StandardFunction", 1500) for _ in range(2)]
        wait_for(lambda: busy_slots(fleet) == 2, what="both workers busy")
        with pytest.raises(ClientError) as throttled:
            warm(client)
        for thread, _ in held:
            thread.join()
        refused = seq(deployment, "throttle", "-")
        (environment,) = fleet.environments
        caches = {_environ(pid)["MODEL_CACHE_DIR"] for slot in environment.slots for pid in slot.worker.runtime_pids()}
        (premium,) = deployment.fleets["premium"].environments
        premium_cache = {_environ(pid)["MODEL_CACHE_DIR"] for pid in premium.slots[0].worker.runtime_pids()}
    # THEN each worker answered with its own instance (its own init), in the same environment,
    # and the environment's concurrency was its 2 workers
    answers = [results[0] for _, results in held]
    assert {a["environment"] for a in answers} == {environment.id}
    assert len({a["instance"] for a in answers}) == 2
    assert throttled.value.response["Error"]["Code"] == "TooManyRequestsException"
    held_ends = [e["seq"] for e in deployment.log.events("invocation", "StandardFunction") if e["during"] == "request"]
    assert refused < min(held_ends[1:3]), "the throttled request waited for a busy worker"
    # AND both workers use the environment's one cache directory, which no other environment uses
    assert len(caches) == 1 and environment.id in caches.pop() and premium_cache.isdisjoint({environment.id})
    assert [e["during"] for e in deployment.log.events("init", "StandardFunction")] in (
        ["request", "scale-out"], ["scale-out", "request"])


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_the_invoke_api_refuses_bad_input_with_lambdas_errors(artifact_dir: Path) -> None:
    with LocalDeployment(prewarm_premium=False) as deployment:
        client = lambda_client(deployment)
        with pytest.raises(ClientError) as not_json:
            client.invoke(FunctionName="StandardFunction", Payload=b'{"path": ')
        with pytest.raises(ClientError) as unknown:
            client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
        with pytest.raises(ClientError) as asynchronous:
            client.invoke(FunctionName="StandardFunction", InvocationType="Event", Payload=b"{}")
        dry_run = client.invoke(FunctionName="StandardFunction", InvocationType="DryRun", Payload=b"{}")
        started = deployment.summary()["standard"]["live_environments"]
    assert not_json.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "Could not parse request body into json" in not_json.value.response["Error"]["Message"]
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "StandardFunction" in unknown.value.response["Error"]["Message"]
    assert asynchronous.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert dry_run["StatusCode"] == 204 and started == 0
