"""Reading a tier's history from CloudWatch: the queries match what the runtime and Lambda emit.

The client here is an in-memory fake passed in (GetMetricData's answer shape only); the
real API is exercised in tests/integration/test_keepwarm_policy.py against moto's server.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from inference_runtime.lifecycle.metrics import ColdStartMetrics
from lambda_shared.settings import ConfigError
from warming import HistoryError, KeepWarmConfig, MetricsSource, read_history
from warming.settings import parse_rate_s

NOW = 1_700_000_000.0
ARN = "arn:aws:lambda:us-east-1:123456789012:function:stack-StandardFunction-AbC:live"


def source(**overrides: Any) -> MetricsSource:
    options = {"tier": "standard", "service": "inference-standard", "namespace": "FastInference", **overrides}
    return MetricsSource.for_alias(ARN, **options)


def test_an_alias_arn_names_the_function_and_its_resource() -> None:
    s = source()
    assert (s.function_name, s.resource) == ("stack-StandardFunction-AbC", "stack-StandardFunction-AbC:live")
    assert MetricsSource.for_alias("fn:live", tier="premium", service="", namespace="N").resource == "fn:live"
    with pytest.raises(HistoryError, match="is neither a Lambda function ARN nor NAME:ALIAS"):
        MetricsSource.for_alias("arn:aws:s3:::bucket", tier="standard", service="", namespace="N")


def test_the_request_query_asks_for_exactly_the_dimensions_the_runtime_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the EMF document the standard function writes for one user request
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-StandardFunction-AbC")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "inference-standard")
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    out = io.StringIO()
    ColdStartMetrics("FastInference", "standard", stream=out).emit_request(route="/predict", status=200,
                                                                          latency_ms=12.0, cold=False)
    document = json.loads(out.getvalue())
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    emitted = {name: document[name] for name in directive["Dimensions"][0]}
    # THEN keep-warm's first query names that metric, namespace and dimension set
    query = source().queries()[0]["MetricStat"]
    assert query["Metric"]["Namespace"] == directive["Namespace"]
    assert query["Metric"]["MetricName"] in {m["Name"] for m in directive["Metrics"]}
    assert {d["Name"]: d["Value"] for d in query["Metric"]["Dimensions"]} == emitted
    assert query["Stat"] == "SampleCount" and query["Period"] == 60


class FakeCloudWatch:
    """GetMetricData's answer, from canned results, in pages of one result."""

    def __init__(self, results: list[dict[str, Any]], *, fail: Exception | None = None) -> None:
        self.results = results
        self.fail = fail
        self.requests: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if self.fail:
            raise self.fail
        page = int(request.get("NextToken", 0))
        answer: dict[str, Any] = {"MetricDataResults": self.results[page:page + 1]}
        if page + 1 < len(self.results):
            answer["NextToken"] = str(page + 1)
        return answer


def at(minutes_before_end: int) -> datetime:
    end = int(NOW) // 60 * 60
    return datetime.fromtimestamp(end - 60 * minutes_before_end, tz=UTC)


def test_history_sums_requests_over_init_types_and_pages() -> None:
    client = FakeCloudWatch([
        {"Id": "requests_0", "StatusCode": "Complete", "Timestamps": [at(3), at(1)], "Values": [2.0, 1.0]},
        {"Id": "requests_1", "StatusCode": "Complete", "Timestamps": [at(3)], "Values": [4.0]},
        {"Id": "concurrency", "StatusCode": "Complete", "Timestamps": [at(3), at(90)], "Values": [3.0, 9.0]},
    ])
    history = read_history(client, source(), now_s=NOW, minutes=10)
    assert history.end_s == int(NOW) // 60 * 60 and history.minutes == 10
    assert history.requests == (0, 0, 0, 0, 0, 0, 0, 6, 0, 1)
    assert history.concurrency == (0, 0, 0, 0, 0, 0, 0, 3, 0, 0)  # a point outside the window is left out
    assert len(client.requests) == 3 and client.requests[0]["EndTime"] == at(0)


def test_a_refused_query_or_a_failed_call_is_a_history_error() -> None:
    refused = FakeCloudWatch([{"Id": "concurrency", "StatusCode": "Forbidden", "Messages": [{"Value": "denied"}]}])
    with pytest.raises(HistoryError, match="answered Forbidden for concurrency of stack-StandardFunction-AbC:live"):
        read_history(refused, source(), now_s=NOW, minutes=10)
    broken = FakeCloudWatch([], fail=ConnectionError("no route"))
    with pytest.raises(HistoryError, match=r"GetMetricData for .*:live \(standard\) failed: ConnectionError: no route"):
        read_history(broken, source(), now_s=NOW, minutes=10)


# --- keep-warm's configuration -------------------------------------------------------------------------

BASE = {"STANDARD_ALIAS_ARN": ARN, "STANDARD_WARM_COUNT": "2"}


def test_keepwarm_policy_settings_from_environment() -> None:
    config = KeepWarmConfig.from_env({**BASE, "KEEP_WARM_POLICY": "Refresh", "KEEP_WARM_SCHEDULE": "rate(2 minutes)",
                                      "KEEP_WARM_HISTORY_MINUTES": "720", "CLOUDWATCH_ENDPOINT_URL": "http://cw",
                                      "STANDARD_SERVICE_NAME": "svc", "POWERTOOLS_METRICS_NAMESPACE": "NS"})
    assert (config.policy, config.interval_s, config.history_minutes) == ("refresh", 120, 720)
    assert (config.cloudwatch_endpoint_url, config.metrics_namespace) == ("http://cw", "NS")
    assert config.targets[0].service == "svc" and config.reads_history
    default = KeepWarmConfig.from_env(BASE)
    assert (default.policy, default.interval_s, default.targets[0].service) == ("refresh", 300, "inference-standard")


@pytest.mark.parametrize(("env", "message"), [
    ({"KEEP_WARM_POLICY": "smart"}, "KEEP_WARM_POLICY='smart' is not a pre-warming policy; use one of none, fixed"),
    # the simulator's research policies are refused by name, saying keep-warm does not run them
    ({"KEEP_WARM_POLICY": "histogram"}, "KEEP_WARM_POLICY='histogram' is a research policy of the simulator "
                                        "(tools/prewarm) that keep-warm does not run; use one of none, fixed, refresh"),
    ({"KEEP_WARM_POLICY": "learned"}, "'learned' is a research policy"),
    ({"KEEP_WARM_SCHEDULE": "cron(0/5 * * * ? *)"}, "the refresh policy plans one round ahead and needs a rate"),
    ({"KEEP_WARM_SCHEDULE": "rate(five minutes)"}, "is not a rate expression like rate(5 minutes)"),
    ({"KEEP_WARM_HISTORY_MINUTES": "5"}, "KEEP_WARM_HISTORY_MINUTES=5 is out of range; use 10..20160"),
])
def test_keepwarm_policy_settings_that_cannot_work_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KeepWarmConfig.from_env({**BASE, **env})


def test_a_cron_schedule_is_fine_for_the_fixed_policy() -> None:
    config = KeepWarmConfig.from_env({**BASE, "KEEP_WARM_POLICY": "fixed", "KEEP_WARM_SCHEDULE": "cron(0/5 * * * ? *)"})
    assert config.policy == "fixed" and not config.reads_history


def test_rate_expressions() -> None:
    assert [parse_rate_s(e) for e in ("rate(1 minute)", "rate(5 minutes)", "rate(2 hours)", "rate(1 day)")] == [
        60, 300, 7200, 86400]
    assert parse_rate_s("at(2030-01-01T00:00:00)") is None
