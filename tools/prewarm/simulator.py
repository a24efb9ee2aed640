"""Replay one stream of requests against Lambda's lifecycle and a keep-warm policy: what it cost, what it saved.

The fleet is one function's execution environments, as Lambda runs them on demand:

- one request at a time per environment; a request that finds none idle starts one
  (a cold start: ``init_s``, then the request);
- which idle environment serves a request is Lambda's choice; here the most recently
  used (``routing="mru"``), so a few busy environments stay warm and the rest age out;
- an idle environment is reclaimed after a time drawn from ``tools/lifecycle_model.py``
  (drawn afresh each time it falls idle, from the environment's own seeded
  ``random.Random``), and recycled when idle past its maximum age;
- every ``interval_s`` (at ``round_offset_s`` into the interval) keep-warm asks the
  policy for N and sends N overlapping pings: each holds one environment for ``hold_s``
  (N pings, N distinct environments), refreshes its idle timer, and starts a new
  environment where none is idle (a cold ping: a ping cost, not a user cold start).

The policy sees what CloudWatch would show it: per-minute user requests and the most
environments busy at once (users and pings), up to ``metrics_lag_s`` before
the round, over the last ``history_minutes``. It is the same class keep-warm runs.

Only ``[measure_from_s, end_s)`` is counted, so that policies that learn from history
start the measured day with a day behind them, as a deployed keep-warm would. Counted:
user requests and cold starts, pings and cold pings, ping seconds (billed), and idle
environment-seconds (environments alive but not busy: what a warm pool costs the
platform; on demand, not billed to the account).

Pure Python over lists: a day of a busy stream (~50,000 requests) takes about a second.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from warming.base import MINUTE_S, TierHistory

if TYPE_CHECKING:
    from tools.lifecycle_model import LifecycleModel
    from tools.prewarm.traces import Stream
    from warming.base import PrewarmPolicy


@dataclass(frozen=True)
class FleetParams:
    """How the simulated fleet and keep-warm behave; times in seconds."""

    init_s: float = 0.5
    hold_s: float = 0.25
    interval_s: float = 300.0
    round_offset_s: float = 37.0
    metrics_lag_s: float = 180.0
    history_minutes: int = 1440
    routing: str = "mru"

    def __post_init__(self) -> None:
        if self.routing not in ("mru", "lru"):
            raise ValueError(f"routing={self.routing!r}: use mru (most recently used first) or lru")
        if self.init_s < 0 or self.hold_s < 0 or self.interval_s <= 0 or self.metrics_lag_s < 0:
            raise ValueError("init_s, hold_s and metrics_lag_s must be 0 or more, and interval_s positive")
        if not 0 <= self.round_offset_s < self.interval_s:
            raise ValueError(f"round_offset_s={self.round_offset_s} must be in [0, interval_s)")
        if self.history_minutes < 1:
            raise ValueError("history_minutes must be at least 1")


@dataclass
class SimResult:
    """What one policy cost and saved on one stream, counted over the measured window."""

    requests: int = 0
    user_cold: int = 0
    rounds: int = 0
    pings: int = 0
    cold_pings: int = 0
    ping_s: float = 0.0
    idle_env_s: float = 0.0
    busy_env_s: float = 0.0
    environments_started: int = 0
    decisions: dict[int, int] = field(default_factory=dict)

    @property
    def cold_fraction(self) -> float:
        return self.user_cold / self.requests if self.requests else 0.0

    def add(self, other: SimResult) -> SimResult:
        for counter in fields(self):
            if counter.name != "decisions":  # every other field is a sum
                setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))
        for pings, count in other.decisions.items():
            self.decisions[pings] = self.decisions.get(pings, 0) + count
        return self

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cold_fraction": self.cold_fraction}


class _Environment:
    __slots__ = ("born", "busy_until", "reclaim_at", "last_counted", "rng")

    def __init__(self, born: float, rng: random.Random) -> None:
        self.born = born
        self.busy_until = born
        self.reclaim_at = math.inf
        self.last_counted = born
        # Its own idle-reclaim draws (see simulate): the same environment in two runs draws the same.
        self.rng = rng


def _overlap(start: float, end: float, window_start: float, window_end: float) -> float:
    return max(0.0, min(end, window_end) - max(start, window_start))


def simulate(stream: Stream, policy: PrewarmPolicy, lifecycle: LifecycleModel, *, seed: int,
             params: FleetParams | None = None, measure_from_s: float = 0.0,
             on_cold: Callable[[float], None] | None = None) -> SimResult:
    """Replay ``stream`` (arrivals in [0, stream.end_s)) with keep-warm running ``policy``.

    ``on_cold(t)`` is called with the arrival time of every user cold start (tests, analysis).
    """
    params = params or FleetParams()
    # Common random numbers: each environment draws its idle-reclaim times from its own
    # random.Random, seeded by the run's seed and the environment's birth (time, and rank among
    # those born in the same millisecond). Two policies that start the same environment get the
    # same reclaim draws for it, so their difference is the policies', not the dice's.
    births: dict[int, int] = {}
    end_s = stream.end_s
    if not 0 <= measure_from_s < end_s:
        raise ValueError(f"measure_from_s={measure_from_s} must be in [0, {end_s})")
    minutes = math.ceil(end_s / MINUTE_S) + 1
    requests_per_min = [0] * minutes
    concurrency_per_min = [0] * minutes
    result = SimResult()
    pool: list[_Environment] = []
    max_age = lifecycle.max_age_s
    reclaim = lifecycle.idle_reclaim
    mru = params.routing == "mru"

    def account_idle(env: _Environment, until: float) -> None:
        # Idle from the end of its last invocation (or its birth) to ``until``.
        result.idle_env_s += _overlap(env.last_counted, until, measure_from_s, end_s)

    def acquire(now: float) -> tuple[_Environment | None, int]:
        """An idle environment (Lambda's choice), reclaiming the dead; and how many are busy."""
        chosen = None
        busy = 0
        alive = []
        for env in pool:
            if env.busy_until > now:
                busy += 1
                alive.append(env)
            elif env.reclaim_at <= now:
                account_idle(env, env.reclaim_at)
            else:
                alive.append(env)
                if chosen is None or ((env.busy_until > chosen.busy_until) if mru
                                      else (env.busy_until < chosen.busy_until)):
                    chosen = env
        pool[:] = alive
        return chosen, busy

    def occupy(env: _Environment | None, now: float, duration: float) -> tuple[_Environment, bool]:
        cold = env is None
        if env is None:
            born_ms = round(now * 1000)
            rank = births[born_ms] = births.get(born_ms, -1) + 1
            env = _Environment(now, random.Random(f"{seed}:{born_ms}:{rank}"))  # nosec B311 (seeded model, not a secret)
            pool.append(env)
            if now >= measure_from_s:
                result.environments_started += 1
            duration += params.init_s
        else:
            account_idle(env, now)
        done = now + duration
        result.busy_env_s += _overlap(now, done, measure_from_s, end_s)
        env.busy_until = done
        env.last_counted = done
        # Reclaimed a drawn time after falling idle, or at once when idle past its maximum age.
        env.reclaim_at = min(done + reclaim.draw(env.rng), max(done, env.born + max_age))
        return env, cold

    arrivals = stream.arrivals
    services = stream.service_s
    next_round = params.round_offset_s
    lag_min = params.metrics_lag_s
    index = 0
    total = len(arrivals)
    while index < total or next_round < end_s:
        arrival = arrivals[index] if index < total else math.inf
        if next_round <= arrival and next_round < end_s:
            now = next_round
            next_round += params.interval_s
            visible_end = int((now - lag_min) // MINUTE_S)
            visible_start = max(0, visible_end - params.history_minutes)
            history = TierHistory(
                start_s=visible_start * MINUTE_S,
                requests=tuple(requests_per_min[visible_start:max(visible_end, visible_start)]),
                concurrency=tuple(concurrency_per_min[visible_start:max(visible_end, visible_start)]))
            decision = policy.decide(history if policy.reads_history else None, now)
            counted = now >= measure_from_s
            if counted:
                result.rounds += 1
                result.decisions[decision.pings] = result.decisions.get(decision.pings, 0) + 1
            for _ in range(decision.pings):
                env, busy = acquire(now)
                _, cold = occupy(env, now, params.hold_s)
                if counted:
                    result.pings += 1
                    result.cold_pings += cold
                    result.ping_s += params.hold_s + (params.init_s if cold else 0.0)
            if decision.pings:
                minute = int(now // MINUTE_S)
                busy_now = sum(1 for env in pool if env.busy_until > now)
                concurrency_per_min[minute] = max(concurrency_per_min[minute], busy_now)
            continue
        env, busy = acquire(arrival)
        _, cold = occupy(env, arrival, services[index])
        minute = int(arrival // MINUTE_S)
        requests_per_min[minute] += 1
        concurrency_per_min[minute] = max(concurrency_per_min[minute], busy + 1)
        if arrival >= measure_from_s:
            result.requests += 1
            result.user_cold += cold
        if cold and on_cold is not None:
            on_cold(arrival)
        index += 1
    for env in pool:
        # Idle to its reclaim or the end (nothing, for one still busy past the end).
        account_idle(env, min(env.reclaim_at, end_s))
    return result
