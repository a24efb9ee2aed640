"""The traffic the policies are compared on: the Azure trace split into streams, and five generators.

A ``Stream`` is one function's requests (arrival times in seconds from midnight UTC of the
first day, and each request's service time); a ``TraceClass`` is a named set of streams
that share a shape. Every class covers ``days`` days (the report uses 2: the first is the
policies' history, the second is measured). Everything random draws from one seeded
``random.Random`` per class, so a seed gives the same traffic every time.

The Azure LLM inference trace (code service, 2023-11-16, CC-BY 4.0; attribution in
``tools/data/azure-llm-inference-2023/README.md``: AzurePublicDataset, "Splitwise",
Patel et al., ISCA 2024) is one hour of one service's arrivals, ~2.6 requests a second.
It has no function ids, so it is split into ``AZURE_STREAMS`` independent functions by
hashing each row (crc32 of its timestamp and token counts): what K small services behind
one front door would see. Two ways to make days of it:

- ``azure-busy``: the hour tiled hour after hour, each copy shifted by a random offset
  (circularly, so no two hours line up): the service's own rate, ~0.65 requests a second
  per stream, with its bursts and lulls;
- ``azure-sparse``: the hour stretched over the days (57 minutes over 2 days: about 1:50):
  the same burst pattern at 1/50 of the rate, minutes-long gaps included.

A request's service time follows its prompt: ``12 ms + 0.1 ms x min(ContextTokens, 256)``
(the model reads at most 256 tokens; warm MiniLM-L6 on one vCPU is in that range). The
generated classes use ``GENERATED_SERVICE_S``.

The generators (each class is four streams spanning its range):

- ``diurnal``: Poisson with a daily cycle (peak 15:00 UTC, trough 1/100 of the peak), peaks
  of 0.01 to 1 request a second;
- ``timers``: cron-like callers (every 10, 15, 60, 180 minutes), each firing 1 to 3 requests
  at once (within 10 ms, so they overlap), up to 2 s late;
- ``onoff``: bursts of Poisson traffic (minutes long) between exponential silences
  (20 minutes to 4 hours);
- ``rare``: Poisson with a mean gap of 30 minutes to 8 hours.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.azure_trace import ATTRIBUTION, DEFAULT_TRACE, read_rows

DAY_S = 86_400.0
AZURE_TRACE = DEFAULT_TRACE
AZURE_ATTRIBUTION = ATTRIBUTION
AZURE_STREAMS = 4
GENERATED_SERVICE_S = 0.03


@dataclass(frozen=True)
class Stream:
    """One function's requests: sorted arrival times and service times (seconds)."""

    name: str
    arrivals: tuple[float, ...]
    service_s: tuple[float, ...]
    end_s: float

    def __post_init__(self) -> None:
        if len(self.arrivals) != len(self.service_s):
            raise ValueError(f"stream {self.name}: {len(self.arrivals)} arrivals but {len(self.service_s)} "
                             "service times")
        if any(b < a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)):
            raise ValueError(f"stream {self.name}: arrivals must be sorted")
        if self.arrivals and not (0 <= self.arrivals[0] and self.arrivals[-1] < self.end_s):
            raise ValueError(f"stream {self.name}: arrivals must lie in [0, {self.end_s})")


@dataclass(frozen=True)
class TraceClass:
    name: str
    description: str
    streams: tuple[Stream, ...]

    @property
    def requests(self) -> int:
        return sum(len(s.arrivals) for s in self.streams)


def _stream(name: str, arrivals: list[float], end_s: float, service: list[float] | float) -> Stream:
    pairs = sorted(zip(arrivals, service if isinstance(service, list) else [service] * len(arrivals), strict=True))
    kept = [(a, s) for a, s in pairs if 0 <= a < end_s]
    return Stream(name, tuple(a for a, _ in kept), tuple(s for _, s in kept), end_s)


# --- the Azure trace -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AzureRequest:
    offset_s: float
    service_s: float
    stream: int


def service_time(context_tokens: int) -> float:
    return 0.012 + 0.0001 * min(max(context_tokens, 0), 256)


def load_azure(path: Path = AZURE_TRACE, streams: int = AZURE_STREAMS) -> tuple[list[AzureRequest], float]:
    """The trace's requests as offsets from its first, each hashed to a stream; and the span it covers."""
    requests = [AzureRequest(row.offset_s, service_time(row.context_tokens), zlib.crc32(row.key.encode()) % streams)
                for row in read_rows(path)]
    if not requests:
        raise ValueError(f"{path} holds no requests")
    # The span is the hour the trace is of, less its tail; one mean gap closes it so tiles do not touch.
    span = requests[-1].offset_s + requests[-1].offset_s / max(len(requests) - 1, 1)
    return requests, span


def azure_busy(rng: random.Random, days: int) -> TraceClass:
    requests, span = load_azure()
    end = days * DAY_S
    arrivals: list[list[float]] = [[] for _ in range(AZURE_STREAMS)]
    services: list[list[float]] = [[] for _ in range(AZURE_STREAMS)]
    for tile in range(math.ceil(end / span)):
        shift = rng.uniform(0, span)
        for request in requests:
            arrivals[request.stream].append(tile * span + (request.offset_s + shift) % span)
            services[request.stream].append(request.service_s)
    streams = tuple(_stream(f"azure-busy/{i}", arrivals[i], end, services[i]) for i in range(AZURE_STREAMS))
    return TraceClass("azure-busy", f"Azure code trace, {AZURE_STREAMS} hashed streams, tiled with random shifts "
                                    "(its own rate)", streams)


def azure_sparse(rng: random.Random, days: int) -> TraceClass:
    requests, span = load_azure()
    end = days * DAY_S
    scale = end / span
    streams = tuple(
        _stream(f"azure-sparse/{i}", [r.offset_s * scale for r in requests if r.stream == i], end,
                [r.service_s for r in requests if r.stream == i])
        for i in range(AZURE_STREAMS))
    return TraceClass("azure-sparse", f"Azure code trace, {AZURE_STREAMS} hashed streams, stretched 1:{scale:.0f} "
                                      "over the days", streams)


# --- generators ----------------------------------------------------------------------------------------

def poisson(rng: random.Random, rate: Callable[[float], float], peak_rate: float, start: float,
            end: float) -> list[float]:
    """A Poisson process of rate ``rate(t)`` <= ``peak_rate`` on [start, end), by thinning."""
    arrivals: list[float] = []
    t = start
    while True:
        t += rng.expovariate(peak_rate)
        if t >= end:
            return arrivals
        if rng.random() * peak_rate < rate(t):
            arrivals.append(t)


def constant(rate: float) -> Callable[[float], float]:
    """A rate that does not change with time."""
    return lambda _t: rate


def diurnal(rng: random.Random, days: int) -> TraceClass:
    end = days * DAY_S
    streams = []
    for i, peak in enumerate((0.01, 0.05, 0.2, 1.0)):
        def rate(t: float, peak: float = peak) -> float:
            hour = (t % DAY_S) / 3600
            return peak * (0.01 + 0.99 * (1 + math.cos(2 * math.pi * (hour - 15) / 24)) / 2)

        streams.append(_stream(f"diurnal/{i}-peak{peak}rps", poisson(rng, rate, peak, 0.0, end), end,
                               GENERATED_SERVICE_S))
    return TraceClass("diurnal", "Poisson, daily cycle (peak 15:00 UTC, trough 1% of peak), peaks 0.01-1 req/s",
                      tuple(streams))


def timers(rng: random.Random, days: int) -> TraceClass:
    end = days * DAY_S
    streams = []
    for i, (period_min, fanout) in enumerate(((10, 1), (15, 2), (60, 1), (180, 3))):
        period = period_min * 60.0
        phase = rng.uniform(0, period)
        arrivals: list[float] = []
        fire = phase
        while fire < end:
            # The caller fires late by up to 2 s; its requests leave together (within 10 ms), so they overlap.
            at = fire + rng.uniform(0, 2.0)
            arrivals.extend(at + rng.uniform(0, 0.01) for _ in range(fanout))
            fire += period
        streams.append(_stream(f"timers/{i}-every{period_min}min-x{fanout}", arrivals, end, GENERATED_SERVICE_S))
    return TraceClass("timers", "cron-like callers every 10/15/60/180 min, 1-3 requests at once, up to 2 s late",
                      tuple(streams))


def onoff(rng: random.Random, days: int) -> TraceClass:
    end = days * DAY_S
    streams = []
    for i, (on_min, off_min, rps) in enumerate(((2, 20, 5.0), (5, 30, 1.0), (10, 90, 2.0), (30, 240, 0.5))):
        arrivals: list[float] = []
        t = rng.expovariate(1 / (off_min * 60))
        while t < end:
            on_end = t + rng.expovariate(1 / (on_min * 60))
            arrivals.extend(poisson(rng, constant(rps), rps, t, min(on_end, end)))
            t = on_end + rng.expovariate(1 / (off_min * 60))
        streams.append(_stream(f"onoff/{i}-on{on_min}m-off{off_min}m-{rps}rps", arrivals, end, GENERATED_SERVICE_S))
    return TraceClass("onoff", "bursts (mean 2-30 min, 0.5-5 req/s) between exponential silences (mean 20 min-4 h)",
                      tuple(streams))


def rare(rng: random.Random, days: int) -> TraceClass:
    end = days * DAY_S
    streams = []
    for i, gap_min in enumerate((30, 60, 180, 480)):
        rate = 1 / (gap_min * 60)
        streams.append(_stream(f"rare/{i}-every{gap_min}min", poisson(rng, constant(rate), rate, 0.0, end),
                               end, GENERATED_SERVICE_S))
    return TraceClass("rare", "Poisson, a mean gap of 30 min to 8 h", tuple(streams))


#: Every trace class, by name, in the report's order.
TRACE_CLASSES: dict[str, Callable[[random.Random, int], TraceClass]] = {
    "azure-busy": azure_busy, "azure-sparse": azure_sparse, "diurnal": diurnal, "timers": timers,
    "onoff": onoff, "rare": rare,
}


def build(name: str, *, seed: int | str, days: int = 2) -> TraceClass:
    """The trace class ``name`` for ``days`` days, from ``seed``."""
    if name not in TRACE_CLASSES:
        raise ValueError(f"no trace class is called {name!r}; use one of {', '.join(TRACE_CLASSES)}")
    if days < 1:
        raise ValueError(f"days={days}: a trace covers at least one day")
    return TRACE_CLASSES[name](random.Random(f"{seed}:{name}"), days)  # nosec B311 (seeded traffic, not a secret)
