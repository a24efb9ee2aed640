"""CloudWatch Embedded Metric Format: the documents, their dimensions, and the metric names.

The inference runtime writes these documents (``inference_runtime/lifecycle/metrics.py``);
keep-warm reads the same metrics back from CloudWatch (``keepwarm/warming/cloudwatch.py``),
so the names and the dimension set are defined here, once, for both. The template's
alarms and dashboard read exactly these names.

Each document is one line of EMF (the ``_aws`` directive, the dimension values and the
metric values as top-level keys, metadata beside them), as Powertools Metrics writes it.
Written here rather than through Powertools: importing ``aws_lambda_powertools`` costs
~30 ms of init that holds the GIL, on every cold start.
"""

from __future__ import annotations

import time
from typing import Any

INIT_DURATION = "InitDuration"
PHASE_PREFIX = "InitPhase_"
REQUEST_LATENCY = "RequestLatency"
COLD_START = "ColdStart"
COLD_REQUEST_LATENCY = "ColdRequestLatency"
KEEP_WARM_PING = "KeepWarmPing"
KEEP_WARM_COLD_PING = "KeepWarmColdPing"
#: The route keep-warm pings; its requests are not user traffic (they count as KEEP_WARM_PING).
KEEP_WARM_ROUTE = "/warm"

MILLISECONDS, COUNT = "Milliseconds", "Count"
#: CloudWatch takes at most 100 metrics per EMF document.
MAX_METRICS_PER_DOCUMENT = 100


def emf_dimensions(*, service: str | None, function: str, tier: str, init_type: str) -> dict[str, str]:
    """The dimensions of every metric the runtime emits, in order; ``service`` only when the function sets one.

    Keep-warm's history reader queries by the same set.
    """
    dimensions = {"service": service} if service else {}
    dimensions.update(function=function, tier=tier, init_type=init_type)
    return dimensions


def emf_document(namespace: str, dimensions: dict[str, str], metrics: list[tuple[str, str, float]],
                 metadata: dict[str, Any] | None = None, *, timestamp_ms: int | None = None) -> dict[str, Any]:
    """One EMF document: ``metrics`` as (name, unit, value), all under one set of ``dimensions``.

    A name given twice (a phase a retried load recorded again) is one metric with two values.
    """
    values: dict[str, tuple[str, list[float]]] = {}
    for name, unit, value in metrics:
        values.setdefault(name, (unit, []))[1].append(float(value))
    if len(values) > MAX_METRICS_PER_DOCUMENT:
        raise ValueError(f"an EMF document holds at most {MAX_METRICS_PER_DOCUMENT} metrics, got {len(values)}")
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [list(dimensions)],
                "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in values.items()],
            }],
        },
        **(metadata or {}),
        **dimensions,
    }
    document.update((name, samples) for name, (_, samples) in values.items())
    return document
