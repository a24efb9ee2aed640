"""Keep-warm's policy decides from CloudWatch: moto's CloudWatch API in server mode on loopback.

Each test starts its own moto server (a subprocess on 127.0.0.1), puts the metrics the tiers
would have sent (the runtime's RequestLatency EMF metric, AWS/Lambda ConcurrentExecutions)
with PutMetricData, and runs a keep-warm round in process with CLOUDWATCH_ENDPOINT_URL
pointed at it, at a time the test gives (``app.run_round(now_s)``, what the handler calls
with the time of day), so every age a decision reports is exact. The pings go to a small
loopback server that speaks the Lambda Invoke API, answers like /warm and counts the calls
per function: the fleet of tools/local is not needed to check a decision, and the decision's
effect is exactly the number of invocations that server sees.
"""

from __future__ import annotations

import json
import subprocess  # nosec B404 - the test starts moto's server with a fixed argument list
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import boto3
import pytest

from lambda_shared import log as shared_log
from lambda_shared.settings import ConfigError
from tests.helpers import REPO_ROOT, load_event, load_module
from tools.local.emulator import free_port

pytestmark = pytest.mark.integration

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}:live"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105 - moto's
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


@pytest.fixture
def cloudwatch_url() -> Iterator[str]:
    """moto's server on a free loopback port, for this test only."""
    port = free_port()
    process = subprocess.Popen(  # nosec B603
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                boto3.client("cloudwatch", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                             aws_secret_access_key="testing").list_metrics()  # nosec B106
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's server did not start on {url}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class FakeLambda(ThreadingHTTPServer):
    """Answers the Lambda Invoke API like the inference function's /warm route; counts calls."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _InvokeHandler)
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _InvokeHandler(BaseHTTPRequestHandler):
    server: FakeLambda

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        # POST /2015-03-31/functions/<function>/invocations
        function = urllib.parse.unquote(self.path.split("/")[3])
        event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with self.server.lock:
            self.server.calls[function] += 1
            number = self.server.calls[function]
        body = {"status": "warm", "instance": f"{function}-{number}", "first_invocation": False,
                "init_type": "on-demand", "path": event.get("path")}
        data = json.dumps({"statusCode": 200, "body": json.dumps(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_lambda() -> Iterator[FakeLambda]:
    server = FakeLambda()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


#: The round's time in these tests: 30 s into a whole minute (recent, as CloudWatch keeps 15 days).
NOW_S = int(time.time()) // 60 * 60 + 30.0


def put_traffic(url: str, function: str, minutes_ago: dict[int, tuple[int, int]], *, tier: str = "standard",
                init_type: str = "on-demand", service: str = "inference-standard") -> None:
    """What a tier's traffic leaves in CloudWatch: per minute before NOW_S's, (user requests, most at once)."""
    client = boto3.client("cloudwatch", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")  # nosec B106
    now_minute = int(NOW_S) // 60 * 60
    emf: list[dict[str, Any]] = []
    lambda_metrics: list[dict[str, Any]] = []
    lambda_dims = [{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": f"{function}:live"}]
    emf_dims = [{"Name": "service", "Value": service}, {"Name": "function", "Value": function},
                {"Name": "tier", "Value": tier}, {"Name": "init_type", "Value": init_type}]
    for ago, (requests, concurrency) in minutes_ago.items():
        at = datetime.fromtimestamp(now_minute - ago * 60 + 5, tz=UTC)
        # One EMF document per request, each a RequestLatency sample: SampleCount counts requests.
        emf.append({"MetricName": "RequestLatency", "Dimensions": emf_dims, "Timestamp": at,
                    "Values": [12.0], "Counts": [float(requests)], "Unit": "Milliseconds"})
        lambda_metrics.append({"MetricName": "ConcurrentExecutions", "Dimensions": lambda_dims, "Timestamp": at,
                               "Value": float(concurrency)})
    for start in range(0, len(emf), 500):
        client.put_metric_data(Namespace="FastInference", MetricData=emf[start:start + 500])
    for start in range(0, len(lambda_metrics), 500):
        client.put_metric_data(Namespace="AWS/Lambda", MetricData=lambda_metrics[start:start + 500])


def load_keepwarm(monkeypatch: pytest.MonkeyPatch, name: str, env: dict[str, str]) -> ModuleType:
    """keepwarm/app.py imported afresh under ``env`` (its configuration is read at import, as in Lambda)."""
    for key in ("KEEP_WARM_POLICY", "CLOUDWATCH_ENDPOINT_URL", "STANDARD_ALIAS_ARN", "PREMIUM_ALIAS_ARN",
                "STANDARD_WARM_COUNT", "PREMIUM_WARM_COUNT", "POWERTOOLS_METRICS_NAMESPACE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**CREDENTIALS, **env}.items():
        monkeypatch.setenv(key, value)
    shared_log.reset()  # its JSON logger reads the level and service from this environment
    return load_module(REPO_ROOT / "keepwarm" / "app.py", f"keepwarm_app_{name}")


def decisions(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """The decision lines keep-warm logged (JSON on stdout, as in Lambda), by tier."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return {line["tier"]: line for line in lines if line.get("event") == "keepwarm_decision"}


def test_traffic_that_just_ran_the_pool_means_no_ping(cloudwatch_url: str, fake_lambda: FakeLambda,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN standard-tier traffic over the last hour, two requests at once 4 and 3 minutes ago
    put_traffic(cloudwatch_url, "StdBusy", {60: (1, 1), 30: (1, 1), 4: (2, 2), 3: (2, 2)})
    app = load_keepwarm(monkeypatch, "busy", {
        "KEEP_WARM_POLICY": "refresh", "CLOUDWATCH_ENDPOINT_URL": cloudwatch_url,
        "LAMBDA_ENDPOINT_URL": fake_lambda.url, "STANDARD_ALIAS_ARN": ACCOUNT_ARN.format("StdBusy"),
        "STANDARD_WARM_COUNT": "3"})
    # WHEN the schedule fires
    result = app.run_round(NOW_S)
    # THEN the policy saw traffic run the pool of 2 in the last minutes it can see, and sent nothing
    decision = decisions(capsys)["standard"]
    assert (decision["policy"], decision["pings"], decision["fallback"]) == ("refresh", 0, False)
    # (the pool last ran in the minute 3 minutes before NOW_S's, which began 3 min 30 s before it)
    assert decision["inputs"]["pool"] == 2 and decision["inputs"]["pool_ran_s_ago"] == 210
    assert "traffic keeps it warm" in decision["reason"]
    assert result["tiers"]["standard"]["requested"] == 0
    assert sum(fake_lambda.calls.values()) == 0


def test_an_idle_tier_gets_the_pool_its_traffic_needed_and_no_more(cloudwatch_url: str, fake_lambda: FakeLambda,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN one request at a time, the last 25 minutes ago, and a premium tier with no traffic at all
    put_traffic(cloudwatch_url, "StdIdle", {200: (1, 1), 120: (1, 1), 25: (1, 1)})
    app = load_keepwarm(monkeypatch, "idle", {
        "CLOUDWATCH_ENDPOINT_URL": cloudwatch_url, "LAMBDA_ENDPOINT_URL": fake_lambda.url,
        "STANDARD_ALIAS_ARN": ACCOUNT_ARN.format("StdIdle"), "STANDARD_WARM_COUNT": "3",
        "PREMIUM_ALIAS_ARN": ACCOUNT_ARN.format("PrmIdle"), "PREMIUM_WARM_COUNT": "1"})
    result = app.run_round(NOW_S)
    # THEN (the default policy) the standard tier gets 1 ping, not its warm count of 3; premium none
    logged = decisions(capsys)
    assert logged["standard"]["policy"] == app.CONFIG.policy
    assert (logged["standard"]["pings"], logged["standard"]["inputs"]["pool"]) == (1, 1)
    # idle since the end of the minute of the last request: 25 min before NOW_S's, plus 30 s, less that minute
    assert logged["standard"]["inputs"]["idle_s"] == 24 * 60 + 30
    assert logged["premium"]["pings"] == 0 and "no user request" in logged["premium"]["reason"]
    assert fake_lambda.calls == {ACCOUNT_ARN.format("StdIdle"): 1}
    assert result["tiers"]["standard"] | {"function": None} == {
        "function": None, "requested": 1, "answered": 1, "distinct_instances": 1, "cold": 0,
        "init_types": ["on-demand"], "errors": []}
    assert result["decisions"]["standard"]["pings"] == 1


def test_a_policy_keep_warm_does_not_run_is_refused_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the template's KeepWarmPolicy set to a policy only the simulator has (tools/prewarm)
    # WHEN keep-warm starts, THEN its init fails, naming the variable and what keep-warm runs
    with pytest.raises(ConfigError, match="KEEP_WARM_POLICY='histogram' is a research policy of the simulator "
                                          r"\(tools/prewarm\) that keep-warm does not run; use one of none, "
                                          "fixed, refresh"):
        load_keepwarm(monkeypatch, "histogram", {"KEEP_WARM_POLICY": "histogram",
                                                 "STANDARD_ALIAS_ARN": ACCOUNT_ARN.format("StdX"),
                                                 "STANDARD_WARM_COUNT": "2"})


def test_unreachable_metrics_fall_back_to_the_fixed_count(fake_lambda: FakeLambda, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a CloudWatch endpoint nobody listens on
    app = load_keepwarm(monkeypatch, "down", {
        "CLOUDWATCH_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "LAMBDA_ENDPOINT_URL": fake_lambda.url,
        "STANDARD_ALIAS_ARN": ACCOUNT_ARN.format("StdDown"), "STANDARD_WARM_COUNT": "2"})
    result = app.run_round(NOW_S)
    # THEN the round still runs, with the warm count, and the log says why, as a warning
    decision = decisions(capsys)["standard"]
    assert decision["fallback"] is True and decision["pings"] == 2 and decision["level"] == "WARNING"
    assert decision["reason"].startswith("metrics unavailable (HistoryError: GetMetricData for StdDown:live")
    assert fake_lambda.calls == {ACCOUNT_ARN.format("StdDown"): 2}
    assert result["tiers"]["standard"]["distinct_instances"] == 2


def test_the_fixed_policy_reads_no_metrics(fake_lambda: FakeLambda, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    app = load_keepwarm(monkeypatch, "fixed", {
        "KEEP_WARM_POLICY": "fixed", "CLOUDWATCH_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "LAMBDA_ENDPOINT_URL": fake_lambda.url, "STANDARD_ALIAS_ARN": ACCOUNT_ARN.format("StdFixed"),
        "STANDARD_WARM_COUNT": "3"})
    app.handler(load_event("keepwarm-schedule.json"), None)
    decision = decisions(capsys)["standard"]
    assert (decision["pings"], decision["fallback"], decision["reason"]) == (3, False, "fixed: 3 every round")
    assert fake_lambda.calls == {ACCOUNT_ARN.format("StdFixed"): 3}
    assert app._cloudwatch is None  # never created

