"""The pre-traffic hook end to end: the hook function under the emulator, checking a version of
the local fleet through the Lambda Invoke API (boto3 with ``endpoint_url``, as in the cloud), and
reporting its verdict through boto3's CodeDeploy client to a loopback CodeDeploy.

That CodeDeploy is a small recording server here, not moto's: moto 5.2.5 in server mode does not
implement PutLifecycleEventHookExecutionStatus (its CodeDeploy backend raises NotImplementedError,
answered as HTTP 500). The server speaks the real JSON protocol botocore sends
(``X-Amz-Target: CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus``) and notes, on
receiving the verdict, how far the fleet's event log had got: "warm before the verdict" is then
an order in that log (``seq``), not a time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.local.demo import Client
from tools.local.deployment import LocalDeployment
from tools.local.emulator import KEEP_WARM_PATH, REPO_ROOT, EmulatedFunction, FunctionSpec
from tools.local.fleet import LifecycleLog
from tools.local.loopback import LoopbackServer, QuietHandler

pytestmark = pytest.mark.integration

#: The hook as the template deploys it: its own code, the shared core as its only layer.
HOOK = FunctionSpec("PreTrafficStandardFunction", REPO_ROOT / "functions" / "pretraffic", "app.handler", {},
                    256, 120, python_path=KEEP_WARM_PATH)
#: What CodeDeploy sends the hook.
EVENT = {"DeploymentId": "d-LOCAL0001", "LifecycleEventHookExecutionId": "exec-local-1"}
#: The version under test: the local Lambda service serves StandardFunction's fleet for any qualifier.
VERSION = "arn:aws:lambda:us-east-1:000000000000:function:StandardFunction:2"
TARGET = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"


class RecordingCodeDeploy(LoopbackServer):
    """PutLifecycleEventHookExecutionStatus on loopback: records each verdict and the fleet log's last seq then."""

    def __init__(self, log: LifecycleLog) -> None:
        self.verdicts: list[dict[str, Any]] = []
        recorder = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.headers.get("X-Amz-Target") != TARGET:
                    error = {"__type": "UnknownOperationException", "message": self.headers.get("X-Amz-Target")}
                    return self.reply(400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(error).encode())
                events = log.events()
                recorder.verdicts.append({**body, "log_seq": events[-1]["seq"] if events else 0})
                answer = {"lifecycleEventHookExecutionId": body.get("lifecycleEventHookExecutionId")}
                self.reply(200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answer).encode())

        super().__init__(Handler)


def run_hook(deployment: LocalDeployment, warm_count: int,
             spec: FunctionSpec = HOOK) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """The hook (``spec``: the sources', or `sam build`'s) invoked once as CodeDeploy would; (its result,
    the verdicts CodeDeploy got, its log)."""
    codedeploy = RecordingCodeDeploy(deployment.log)
    codedeploy.start()
    env = {"PRETRAFFIC_VERSION_ARN": VERSION, "PRETRAFFIC_TIER": "standard",
           "PRETRAFFIC_WARM_COUNT": str(warm_count), "WARM_HOLD_MS": "500",
           # The local Lambda service serves Invoke only; the provisioned-concurrency wait is the unit tests'.
           "PRETRAFFIC_WAIT_PROVISIONED": "false", "PRETRAFFIC_TIMEOUT_S": "100",
           "LAMBDA_ENDPOINT_URL": deployment.lambda_service.endpoint_url, "CODEDEPLOY_ENDPOINT_URL": codedeploy.url,
           "POWERTOOLS_SERVICE_NAME": "pretraffic"}
    try:
        with EmulatedFunction(spec, env=env) as hook:
            result = hook.invoke(EVENT, timeout_s=150)
            logs = hook.logs()
    finally:
        codedeploy.stop()
    return result, codedeploy.verdicts, logs


def log_events(logs: str, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def test_a_healthy_version_passes_with_its_environments_warm_before_the_verdict(artifact_dir: Path) -> None:
    # GIVEN a standard tier with no environment yet
    with LocalDeployment(max_environments=2, prewarm_premium=False) as deployment:
        # WHEN CodeDeploy invokes the hook for the new version, asking for 2 warm environments
        result, verdicts, logs = run_hook(deployment, warm_count=2)
        inits = deployment.log.events("init", "StandardFunction")
        # AND a user's request comes once traffic has moved
        client = Client(deployment.front_door.url)
        status, answer, _ = client.request("POST", "/predict", {"inputs": ["after the deploy"]})
        client.close()
    # THEN CodeDeploy heard Succeeded, once, for its deployment and execution
    assert [(v["deploymentId"], v["lifecycleEventHookExecutionId"], v["status"]) for v in verdicts] == \
        [("d-LOCAL0001", "exec-local-1", "Succeeded")], result
    # AND (the fleet's event log) 2 distinct environments finished their init before the verdict arrived,
    # and they are the instances the hook's verdict names
    assert len({e["environment"] for e in inits}) == 2
    assert all(e["seq"] <= verdicts[0]["log_seq"] for e in inits)
    assert {e["instance"] for e in inits} == set(result["warm"]["instances"])
    (line,) = log_events(logs, "pretraffic_verdict")
    assert (line["status"], line["warm"]["instances"], line["warm"]["cold"]) == \
        ("Succeeded", result["warm"]["instances"], 2)
    assert [p["ok"] for p in log_events(logs, "pretraffic_ping")] == [True, True]
    assert result["smoke"]["status"] == 200 and result["smoke"]["instance"] in result["warm"]["instances"]
    # AND the first user request lands warm, on one of them
    assert status == 200 and answer["cold_start"] is False and answer["instance"] in result["warm"]["instances"]
    print(f"\npre-traffic: {result['status']} in {result['elapsed_s']} s; warm instances "
          f"{result['warm']['instances']} (init seqs {[e['seq'] for e in inits]}, verdict after seq "
          f"{verdicts[0]['log_seq']})")


def test_a_version_whose_warm_fails_is_refused(artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN a version whose model cannot load: its artifact directory holds no model
    broken = tmp_path / "no-model"
    broken.mkdir()
    with LocalDeployment(max_environments=2, prewarm_premium=False,
                         env={"MODEL_ARTIFACT_DIR": str(broken)}) as deployment:
        # WHEN CodeDeploy invokes the hook
        result, verdicts, logs = run_hook(deployment, warm_count=2)
        invocations = deployment.log.events("invocation", "StandardFunction")
    # THEN CodeDeploy heard Failed, and why: the version's /warm answered 503
    assert [v["status"] for v in verdicts] == ["Failed"], result
    assert "/warm invocations failed: HTTP 503" in result["reason"]
    (line,) = log_events(logs, "pretraffic_verdict")
    assert line["status"] == "Failed" and line["reason"] == result["reason"]
    # AND no smoke /predict was sent (two /warm invocations only)
    assert len(invocations) == 2 and not log_events(logs, "pretraffic_smoke")
    print(f"\npre-traffic refused: {result['reason']}")
