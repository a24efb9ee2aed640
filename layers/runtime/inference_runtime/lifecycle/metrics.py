"""CloudWatch metrics as EMF lines on stdout: no API call, no library.

Dimensions on every metric: ``service`` (POWERTOOLS_SERVICE_NAME, when set), ``function``,
``tier``, ``init_type``. Per init: ``InitDuration`` and one ``InitPhase_<name>`` per phase
of the trace (names in ``phases.py``). Per request a user sent: ``RequestLatency``; and on
the first request an environment serves, ``ColdStart`` = 1 and ``ColdRequestLatency``,
what that user waited for beyond the init (or the restore). Keep-warm pings hold their
environment for a while on purpose, so they stay out of both: they count as
``KeepWarmPing`` (and ``KeepWarmColdPing`` when a ping found a cold environment). The
template's alarms and dashboard read exactly these names.

Each document is one line of CloudWatch's Embedded Metric Format (the ``_aws`` directive,
the dimension values and the metric values as top-level keys, metadata beside them), as
Powertools Metrics writes it. Written here rather than through Powertools: importing
``aws_lambda_powertools`` costs ~30 ms of init that holds the GIL, on every cold start
(see ``api/router.py``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from ..config import AWS_LAMBDA_FUNCTION_NAME, SERVICE_NAME
from .environment import init_type

if TYPE_CHECKING:
    from .trace import PhaseTrace

INIT_DURATION = "InitDuration"
PHASE_PREFIX = "InitPhase_"
REQUEST_LATENCY = "RequestLatency"
COLD_START = "ColdStart"
COLD_REQUEST_LATENCY = "ColdRequestLatency"
KEEP_WARM_PING = "KeepWarmPing"
KEEP_WARM_COLD_PING = "KeepWarmColdPing"
#: the route keep-warm pings; its requests are not user traffic
KEEP_WARM_ROUTE = "/warm"

MILLISECONDS, COUNT = "Milliseconds", "Count"
#: CloudWatch takes at most 100 metrics per EMF document.
MAX_METRICS_PER_DOCUMENT = 100


def emf_dimensions(*, service: str | None, function: str, tier: str, init_type: str) -> dict[str, str]:
    """The dimensions of every metric the runtime emits, in order; ``service`` only when the function sets one.

    Keep-warm's history reader (``prewarm/cloudwatch.py``) queries by the same set.
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


class ColdStartMetrics:
    """Emits the init and request metrics of one execution environment."""

    def __init__(self, namespace: str, tier: str, *, stream: Any = None) -> None:
        self.namespace = namespace
        self.tier = tier
        self._stream = stream  # None: sys.stdout at emit time (what Lambda and pytest capture)

    def _dimensions(self) -> dict[str, str]:
        # Read at emit time: a SnapStart restore changes the init type.
        return emf_dimensions(service=os.environ.get(SERVICE_NAME), tier=self.tier, init_type=init_type(),
                              function=os.environ.get(AWS_LAMBDA_FUNCTION_NAME, "local"))

    def _emit(self, metrics: list[tuple[str, str, float]], metadata: dict[str, Any]) -> None:
        line = json.dumps(emf_document(self.namespace, self._dimensions(), metrics, metadata),
                          separators=(",", ":"))
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def emit_init(self, trace: PhaseTrace, *, ready: bool) -> None:
        metrics = [(INIT_DURATION, MILLISECONDS, trace.total_ms())]
        metrics += [(f"{PHASE_PREFIX}{phase.name}", MILLISECONDS, phase.duration_ms) for phase in trace.phases]
        self._emit(metrics, {"ready": ready})

    def emit_request(self, *, route: str, status: int, latency_ms: float, cold: bool) -> None:
        if route == KEEP_WARM_ROUTE:
            metrics = [(KEEP_WARM_PING, COUNT, 1.0)]
            if cold:
                metrics.append((KEEP_WARM_COLD_PING, COUNT, 1.0))
        else:
            metrics = [(REQUEST_LATENCY, MILLISECONDS, latency_ms)]
            if cold:
                metrics += [(COLD_START, COUNT, 1.0), (COLD_REQUEST_LATENCY, MILLISECONDS, latency_ms)]
        self._emit(metrics, {"route": route, "status": status})
