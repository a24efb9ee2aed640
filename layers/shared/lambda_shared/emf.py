"""CloudWatch Embedded Metric Format: the documents, their dimensions, and the metric names.

The inference runtime writes these documents (``inference_runtime/lifecycle/metrics.py``);
keep-warm reads the same metrics back from CloudWatch (``keepwarm/warming/cloudwatch.py``),
so the names and the dimension set are defined here, once, for both. The template's
alarms and dashboard read exactly these names.

Each document is one line of EMF (the ``_aws`` directive, the dimension values and the
metric values as top-level keys, metadata beside them), as Powertools Metrics writes it.
Numbers worth keeping in the log but not worth a metric go in as ``properties``: top-level
members the directive does not reference. The specification ("Specification: Embedded metric
format", CloudWatch User Guide, Root node) says "The root node MUST contain all Target members
defined by the references in the MetricDirective object" and "MAY contain any other members
that are not included in the above requirements": only referenced members are extracted as
metrics (and billed as custom metrics); the others stay fields of the log event, which Logs
Insights queries by name.
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
#: What an init emits as metrics. Its phases (PHASE_PREFIX + name) are properties of the same
#: document, not metrics: 9 to 10 phases x tier x init type were most of the stack's idle
#: metric bill (tools/cost counts from this tuple).
INIT_METRICS: tuple[str, ...] = (INIT_DURATION,)
#: What a user's request emits (ColdStart and ColdRequestLatency on an environment's first only).
REQUEST_METRICS: tuple[str, ...] = (REQUEST_LATENCY, COLD_START, COLD_REQUEST_LATENCY)
#: What a keep-warm ping emits (KeepWarmColdPing when it found a cold environment).
PING_METRICS: tuple[str, ...] = (KEEP_WARM_PING, KEEP_WARM_COLD_PING)
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
                 metadata: dict[str, Any] | None = None, *, properties: dict[str, float] | None = None,
                 timestamp_ms: int | None = None) -> dict[str, Any]:
    """One EMF document: ``metrics`` as (name, unit, value), all under one set of ``dimensions``.

    A name given twice is one metric with two values. ``properties`` are top-level members
    the directive does not list: log fields, not metrics (see the module's docstring).
    """
    values: dict[str, tuple[str, list[float]]] = {}
    for name, unit, value in metrics:
        values.setdefault(name, (unit, []))[1].append(float(value))
    if len(values) > MAX_METRICS_PER_DOCUMENT:
        raise ValueError(f"an EMF document holds at most {MAX_METRICS_PER_DOCUMENT} metrics, got {len(values)}")
    properties = properties or {}
    # One top-level key cannot be both: a property named like a metric or a dimension would
    # overwrite its value, or be extracted as the metric after all.
    clash = set(properties) & (set(values) | set(dimensions) | set(metadata or {}) | {"_aws"})
    if clash:
        raise ValueError(f"EMF properties {sorted(clash)} are also metrics, dimensions or metadata: rename them")
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
        **properties,
    }
    document.update((name, samples) for name, (_, samples) in values.items())
    return document
