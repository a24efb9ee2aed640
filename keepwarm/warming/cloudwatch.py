"""One tier's history from CloudWatch: a single GetMetricData call, read into a ``TierHistory``.

What is read for a tier, each at a 60-second period (Lambda sends its metrics every minute;
60-second data points are kept for 15 days):

- user requests: the SampleCount of the runtime's own ``RequestLatency`` EMF metric
  (namespace ``POWERTOOLS_METRICS_NAMESPACE``; dimensions service, function, tier,
  init_type, as ``lambda_shared.emf`` defines them for the runtime that writes them and the
  template's alarms that read them), one query per init type the tier runs under (the tier
  table's ``init_types``), summed. Keep-warm pings never enter it:
  the runtime counts them as ``KeepWarmPing`` instead.
- concurrency: ``AWS/Lambda`` ``ConcurrentExecutions``, Maximum, by ``FunctionName`` and
  ``Resource`` (``function:alias``; Lambda emits it for functions, versions and aliases):
  the most environments busy at once, pings included.

GetMetricData is billed per metric requested (about 0.01 USD per 1,000): these are 3
metrics per tier per round. (``AWS/Lambda`` ``Invocations`` is not read: no policy needs
what it adds to the two above.) The client is passed in, so tests hand in one pointed at a
CloudWatch API on loopback. Every failure, of the call or of its answer, is a
``HistoryError`` that says what was asked for; keep-warm falls back to the fixed count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambda_shared.emf import REQUEST_LATENCY, emf_dimensions
from lambda_shared.tiers import UnknownTierError
from lambda_shared.tiers import tier as tier_named

from .base import MINUTE_S, TierHistory
from .errors import HistoryError

LAMBDA_NAMESPACE = "AWS/Lambda"
CONCURRENT_EXECUTIONS = "ConcurrentExecutions"
#: GetMetricData answers at most this many data points per page; NextToken pages on.
_PAGE_POINTS = 100_800


@dataclass(frozen=True)
class MetricsSource:
    """Where one tier's metrics live: the function behind the alias, and the runtime's EMF names."""

    function_name: str
    resource: str
    tier: str
    service: str
    namespace: str
    #: How Lambda may initialise the tier's environments (the EMF ``init_type`` dimension).
    init_types: tuple[str, ...]

    @classmethod
    def for_alias(cls, alias: str, *, tier: str, service: str, namespace: str) -> MetricsSource:
        """From an alias ARN (``arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS``) or ``NAME:ALIAS``."""
        parts = alias.split(":")
        if len(parts) >= 7 and parts[0] == "arn" and parts[5] == "function":
            name, qualifier = parts[6], (parts[7] if len(parts) > 7 else "")
        elif len(parts) <= 2 and parts[0]:
            name, qualifier = parts[0], (parts[1] if len(parts) == 2 else "")
        else:
            raise HistoryError(f"{alias!r} is neither a Lambda function ARN nor NAME:ALIAS; set the tier's "
                               "*_ALIAS_ARN to the alias keep-warm pings")
        try:
            init_types = tier_named(tier).init_types
        except UnknownTierError as exc:
            raise HistoryError(f"no metrics are known for the tier: {exc}") from None
        return cls(function_name=name, resource=f"{name}:{qualifier}" if qualifier else name, tier=tier,
                   service=service, namespace=namespace, init_types=init_types)

    def _emf_dimensions(self, init_type: str) -> list[dict[str, str]]:
        # Exactly the set the runtime emits its metrics under (lambda_shared.emf).
        dimensions = emf_dimensions(service=self.service, function=self.function_name, tier=self.tier,
                                    init_type=init_type)
        return [{"Name": name, "Value": value} for name, value in dimensions.items()]

    def queries(self) -> list[dict[str, Any]]:
        """The GetMetricData queries; ids start with the series each one adds to."""
        lambda_dimensions = [{"Name": "FunctionName", "Value": self.function_name},
                             {"Name": "Resource", "Value": self.resource}]
        queries = [
            {"Id": f"requests_{i}", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": self.namespace, "MetricName": REQUEST_LATENCY,
                           "Dimensions": self._emf_dimensions(init_type)},
                "Period": MINUTE_S, "Stat": "SampleCount"}}
            for i, init_type in enumerate(self.init_types)
        ]
        queries.append({"Id": "concurrency", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": LAMBDA_NAMESPACE, "MetricName": CONCURRENT_EXECUTIONS,
                       "Dimensions": lambda_dimensions},
            "Period": MINUTE_S, "Stat": "Maximum"}})
        return queries


def read_history(client: Any, source: MetricsSource, *, now_s: float, minutes: int) -> TierHistory:
    """The last ``minutes`` whole minutes before ``now_s`` of the tier's traffic."""
    if not 1 <= minutes <= _PAGE_POINTS // 6:
        raise HistoryError(f"a history of {minutes} minutes is out of range; use 1..{_PAGE_POINTS // 6}")
    end_s = (int(now_s) // MINUTE_S) * MINUTE_S
    start_s = end_s - minutes * MINUTE_S
    series = {"requests": [0] * minutes, "concurrency": [0] * minutes}
    request: dict[str, Any] = {
        "MetricDataQueries": source.queries(),
        "StartTime": datetime.fromtimestamp(start_s, tz=UTC),
        "EndTime": datetime.fromtimestamp(end_s, tz=UTC),
        "ScanBy": "TimestampAscending",
    }
    try:
        while True:
            response = client.get_metric_data(**request)
            for result in response.get("MetricDataResults", []):
                _add(series, result, start_s, source)
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    except HistoryError:
        raise
    except Exception as exc:
        raise HistoryError(f"GetMetricData for {source.resource} ({source.tier}) failed: "
                           f"{type(exc).__name__}: {exc}") from exc
    return TierHistory(start_s=start_s, requests=tuple(series["requests"]), concurrency=tuple(series["concurrency"]))


def _add(series: dict[str, list[int]], result: dict[str, Any], start_s: int, source: MetricsSource) -> None:
    status = result.get("StatusCode", "Complete")
    if status not in ("Complete", "PartialData"):
        raise HistoryError(f"GetMetricData answered {status} for {result.get('Id')} of {source.resource}: "
                           f"{result.get('Messages') or 'no message'}")
    name = str(result.get("Id", "")).split("_")[0]
    if name not in series:
        raise HistoryError(f"GetMetricData answered a query keep-warm did not ask: {result.get('Id')!r}")
    target = series[name]
    for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
        index = (int(timestamp.timestamp()) - start_s) // MINUTE_S
        if 0 <= index < len(target):
            count = round(float(value))
            # Requests add up over init types; the Lambda series have one value per minute.
            target[index] = target[index] + count if name == "requests" else max(target[index], count)
