"""CloudWatch metrics as EMF lines on stdout, through Powertools Metrics: no API call.

Dimensions on every metric: ``function``, ``tier``, ``init_type`` (and Powertools'
``service``). Per init: ``InitDuration`` and one ``InitPhase_<name>`` per phase of the
trace (names in ``phases.py``). Per request a user sent: ``RequestLatency``; and on the
first request an environment serves, ``ColdStart`` = 1 and ``ColdRequestLatency``, what
that user waited for beyond the init (or the restore). Keep-warm pings hold their
environment for a while on purpose, so they stay out of both: they count as
``KeepWarmPing`` (and ``KeepWarmColdPing`` when a ping found a cold environment). The
template's alarms and dashboard read exactly these names.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..config import AWS_LAMBDA_FUNCTION_NAME
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


class ColdStartMetrics:
    """Emits the init and request metrics of one execution environment."""

    def __init__(self, namespace: str, tier: str) -> None:
        self.namespace = namespace
        self.tier = tier
        self._powertools: Any = None

    @property
    def _metrics(self) -> Any:
        # Created on first use: importing Powertools Metrics at init would delay the model load.
        if self._powertools is None:
            from aws_lambda_powertools import Metrics

            self._powertools = Metrics(namespace=self.namespace)
        return self._powertools

    def _dimensions(self) -> None:
        # Read at emit time: a SnapStart restore changes the init type.
        self._metrics.add_dimension("function", os.environ.get(AWS_LAMBDA_FUNCTION_NAME, "local"))
        self._metrics.add_dimension("tier", self.tier)
        self._metrics.add_dimension("init_type", init_type())

    def emit_init(self, trace: PhaseTrace, *, ready: bool) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._dimensions()
        self._metrics.add_metric(name=INIT_DURATION, unit=MetricUnit.Milliseconds, value=trace.total_ms())
        for phase in trace.phases:
            self._metrics.add_metric(name=f"{PHASE_PREFIX}{phase.name}", unit=MetricUnit.Milliseconds,
                                     value=phase.duration_ms)
        self._metrics.add_metadata("ready", ready)
        self._metrics.flush_metrics()

    def emit_request(self, *, route: str, status: int, latency_ms: float, cold: bool) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self._dimensions()
        if route == KEEP_WARM_ROUTE:
            self._metrics.add_metric(name=KEEP_WARM_PING, unit=MetricUnit.Count, value=1)
            if cold:
                self._metrics.add_metric(name=KEEP_WARM_COLD_PING, unit=MetricUnit.Count, value=1)
        else:
            self._metrics.add_metric(name=REQUEST_LATENCY, unit=MetricUnit.Milliseconds, value=latency_ms)
            if cold:
                self._metrics.add_metric(name=COLD_START, unit=MetricUnit.Count, value=1)
                self._metrics.add_metric(name=COLD_REQUEST_LATENCY, unit=MetricUnit.Milliseconds,
                                         value=latency_ms)
        self._metrics.add_metadata("route", route)
        self._metrics.add_metadata("status", status)
        self._metrics.flush_metrics()
