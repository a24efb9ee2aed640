"""CloudWatch metrics as EMF lines on stdout: no API call, no library.

Dimensions on every metric: ``service`` (POWERTOOLS_SERVICE_NAME, when set), ``function``,
``tier``, ``init_type``. Per init: the metric ``InitDuration``, and in the same document one
``InitPhase_<name>`` property per phase of the trace (names in ``phases.py``): a log field
for Logs Insights (the dashboard's "where did the init time go" table), not a metric, since
a metric per phase, tier and init type cost more than the rest of the idle metrics together
(``lambda_shared.emf`` cites the specification). Per request a user sent: ``RequestLatency``; and on
the first request an environment serves, ``ColdStart`` = 1 and ``ColdRequestLatency``,
what that user waited for beyond the init (or the restore). Keep-warm pings hold their
environment for a while on purpose, so they stay out of both: they count as
``KeepWarmPing`` (and ``KeepWarmColdPing`` when a ping found a cold environment). The
template's alarms and dashboard read exactly these names.

The document format, the metric names and the dimension set are ``lambda_shared.emf``'s:
keep-warm's history reader queries CloudWatch by the same ones.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from lambda_shared.emf import (
    COLD_REQUEST_LATENCY,
    COLD_START,
    COUNT,
    INIT_DURATION,
    KEEP_WARM_COLD_PING,
    KEEP_WARM_PING,
    KEEP_WARM_ROUTE,
    MILLISECONDS,
    PHASE_PREFIX,
    REQUEST_LATENCY,
    emf_dimensions,
    emf_document,
)
from lambda_shared.env import AWS_LAMBDA_FUNCTION_NAME, SERVICE_NAME

from .environment import init_type

if TYPE_CHECKING:
    from .trace import PhaseTrace


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

    def _emit(self, metrics: list[tuple[str, str, float]], metadata: dict[str, Any],
              properties: dict[str, float] | None = None) -> None:
        line = json.dumps(emf_document(self.namespace, self._dimensions(), metrics, metadata, properties=properties),
                          separators=(",", ":"))
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def emit_init(self, trace: PhaseTrace, *, ready: bool) -> None:
        """``InitDuration`` as the one metric; each phase's milliseconds as a property beside it.

        A phase recorded twice (a retried load) is summed: a Logs Insights field holds one number.
        The EMF specification ("Specification: Embedded metric format", Root node): the root
        "MUST contain all Target members defined by the references in the MetricDirective
        object" and "MAY contain any other members": the phases are such other members, so
        CloudWatch keeps them in the log event and extracts (and bills) no metric for them.
        """
        phases: dict[str, float] = {}
        for phase in trace.phases:
            name = f"{PHASE_PREFIX}{phase.name}"
            phases[name] = phases.get(name, 0.0) + phase.duration_ms
        # emf.INIT_METRICS names these for tools/cost: test_lifecycle holds the two equal
        metrics = [(INIT_DURATION, MILLISECONDS, trace.total_ms())]
        self._emit(metrics, {"ready": ready}, {name: round(ms, 3) for name, ms in phases.items()})

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
