"""The shape of a pre-warming policy: one tier's recent history in, how many environments to ping out.

What Lambda lets keep-warm do is narrow, and the shapes here follow from it:

- Keep-warm cannot pick an environment. N overlapping pings land on N distinct idle
  environments and start new ones where fewer are idle, so a round that wants a pool of
  N warm sends N pings or none: fewer would refresh only the most recently used few.
- A ping refreshes an environment's idle timer, and so does a user request. When k
  environments were busy at once in a minute, the k most recently used ones all ran in
  that minute; so "ConcurrentExecutions >= k in minute m" reads "the pool of k was
  refreshed in minute m", whoever sent the invocations.
- The history is what CloudWatch gives, one bucket per minute and a few minutes late
  (``TierHistory``): user requests (the runtime's own EMF metric, which leaves pings
  out) and the most environments busy at once (AWS/Lambda, pings included).

``PrewarmPolicy.decide`` is the one public entry: it checks the history against the clock,
clamps the answer to ``0..max_pings`` and returns a ``Decision``, whose ``as_log()`` is the
line keep-warm logs. A policy implements only ``_decide``. ``KeepAlivePolicy`` is what the
history-reading policies share: how big a pool, and whether traffic already refreshed it;
each of them adds only ``_wanted``, whether a user request is due soon enough to hold it.
The simulator (``tools/prewarm``) calls the same ``decide`` with histories it builds the
same way, so what is simulated is what runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import HistoryError, PolicyConfigError

MINUTE_S = 60
#: The most pings one round may send (the keep-warm counts allow 0..100).
MAX_PINGS = 100


@dataclass(frozen=True)
class TierHistory:
    """One tier's recent traffic, one bucket per whole minute, oldest first.

    ``requests``: user requests that started in the minute (pings excluded);
    ``concurrency``: the most environments busy at once in the minute (pings included).
    A minute CloudWatch has no data point for is 0: Lambda sends these metrics only when
    they are not zero.
    """

    start_s: float
    requests: tuple[int, ...]
    concurrency: tuple[int, ...]

    def __post_init__(self) -> None:
        minutes = len(self.requests)
        if len(self.concurrency) != minutes:
            raise HistoryError(f"a history needs one value per minute in each series, got {minutes} requests "
                               f"and {len(self.concurrency)} concurrency")
        if self.start_s % MINUTE_S:
            raise HistoryError(f"a history starts on a whole minute, not at {self.start_s} s")
        if minutes and min(min(self.requests), min(self.concurrency)) < 0:
            raise HistoryError("a history holds counts: no value may be negative")

    @property
    def minutes(self) -> int:
        return len(self.requests)

    @property
    def end_s(self) -> float:
        """When the last bucket ends: everything after it is not in CloudWatch yet."""
        return self.start_s + MINUTE_S * len(self.requests)

    def minute_start_s(self, index: int) -> float:
        return self.start_s + MINUTE_S * index

    def last_request_minute(self) -> int | None:
        """The index of the last minute with a user request, or None when there is none."""
        for index in range(len(self.requests) - 1, -1, -1):
            if self.requests[index]:
                return index
        return None

    def user_peaks(self) -> list[int]:
        """Most user requests in flight at once, per minute.

        CloudWatch's concurrency counts pings too, and cannot say whether they overlapped
        the users' requests; a minute's requests can have had at most ``min(requests,
        concurrency)`` in flight, and this is that upper bound. Erring high keeps the pool
        big enough (a ping round inflates it only in a minute with several requests);
        taking the pings off instead would shrink it whenever a ping shared a minute with a
        burst, and the next burst would start cold.
        """
        return [min(requests, concurrency) if requests else 0
                for requests, concurrency in zip(self.requests, self.concurrency, strict=True)]

    def peak_user_concurrency(self) -> int:
        return max(self.user_peaks(), default=0)

    def refresh_age_s(self, pool: int, now_s: float) -> float | None:
        """Seconds since the ``pool`` most recently used environments last all ran, or None.

        Counted from the start of that minute, the earliest they could have run in it, so the
        age is never underestimated.
        """
        for index in range(len(self.concurrency) - 1, -1, -1):
            if self.concurrency[index] >= pool:
                return now_s - self.minute_start_s(index)
        return None

    def ran_for(self, pool: int, minutes: int) -> bool:
        """Whether the ``pool`` ran in each of the ``minutes`` minutes up to the last one it ran in.

        Counted back from that minute rather than from the end: the newest minutes are often
        still empty in CloudWatch (its delay), which says nothing about the traffic.
        """
        for index in range(len(self.concurrency) - 1, -1, -1):
            if self.concurrency[index] >= pool:
                run = self.concurrency[max(0, index - minutes + 1):index + 1]
                return len(run) == minutes and min(run) >= pool
        return False

    def idle_times_min(self) -> list[int]:
        """Whole minutes between consecutive minutes with user requests (0: back to back)."""
        active = [index for index, requests in enumerate(self.requests) if requests]
        return [later - earlier - 1 for earlier, later in zip(active, active[1:], strict=False)]


@dataclass(frozen=True)
class Decision:
    """How many environments to ping this round, and why: what keep-warm logs."""

    policy: str
    pings: int
    reason: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: True when the policy could not decide (no history) and the fixed count was used.
    fallback: bool = False

    def as_log(self) -> dict[str, Any]:
        return {"policy": self.policy, "pings": self.pings, "reason": self.reason, "inputs": dict(self.inputs),
                "fallback": self.fallback}


class PrewarmPolicy(ABC):
    """Decides, each keep-warm round, how many environments of one tier to ping.

    ``max_pings`` is the tier's warm count: the fixed policy always sends it, the others
    never more. ``interval_s`` is the time between rounds (the schedule's rate).
    """

    name: ClassVar[str] = "abstract"
    #: False for policies that decide without the tier's history (keep-warm skips the read).
    reads_history: ClassVar[bool] = True

    def __init__(self, *, max_pings: int, interval_s: float = 300.0) -> None:
        if not 0 <= max_pings <= MAX_PINGS:
            raise PolicyConfigError(f"max_pings={max_pings} is out of range; use 0..{MAX_PINGS}")
        if not interval_s > 0:
            raise PolicyConfigError(f"interval_s={interval_s} must be positive (the time between keep-warm rounds)")
        self.max_pings = max_pings
        self.interval_s = float(interval_s)

    def decide(self, history: TierHistory | None, now_s: float) -> Decision:
        """The decision for the round at ``now_s`` (epoch seconds), from the tier's history."""
        if self.reads_history:
            if history is None:
                raise HistoryError(f"the {self.name} policy decides from the tier's history, and none was given")
            if history.end_s > now_s + MINUTE_S:
                raise HistoryError(f"the history ends at {history.end_s:.0f} s, after now ({now_s:.0f} s): "
                                   "is this machine's clock wrong?")
        pings, reason, inputs = self._decide(history, now_s)
        return Decision(self.name, min(max(int(pings), 0), self.max_pings), reason, inputs)

    @abstractmethod
    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        """(pings, reason, inputs): the answer before clamping, a sentence, and what it was based on."""

    def parameters(self) -> dict[str, Any]:
        """The settings this policy runs with (for the report and the decision log)."""
        return {"max_pings": self.max_pings, "interval_s": self.interval_s}


class KeepAlivePolicy(PrewarmPolicy):
    """What the history-reading policies share: the pool's size, and rounds traffic already covered.

    The pool is the most user requests the window saw in flight at once (at least 1, at
    most ``max_pings``): a smaller pool than the fixed count where traffic never needed
    more. A round pings nothing when traffic is keeping the pool warm by itself: the pool
    ran within ``refresh_after_s``, and in each of the ``sustained_minutes`` minutes up to
    then (sustained traffic, which will very likely run it again before the next round;
    one burst a few minutes ago is not, and skipping the round for it risks an early
    reclaim before the next: measured, ``make prewarm-report``). Nor when no user
    request is in the window at all. Otherwise ``_wanted`` says whether a user request is
    due soon enough to hold the pool warm for it.
    """

    def __init__(self, *, max_pings: int, interval_s: float = 300.0, refresh_after_s: float = 300.0,
                 sustained_minutes: int = 2) -> None:
        super().__init__(max_pings=max_pings, interval_s=interval_s)
        if not refresh_after_s >= 0:
            raise PolicyConfigError(f"refresh_after_s={refresh_after_s} must be 0 or more")
        if sustained_minutes < 1:
            raise PolicyConfigError(f"sustained_minutes={sustained_minutes} must be at least 1")
        self.refresh_after_s = float(refresh_after_s)
        self.sustained_minutes = sustained_minutes

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        assert history is not None  # nosec B101 - decide() refuses a missing history for this policy
        last = history.last_request_minute()
        if last is None:
            return 0, f"no user request in the last {history.minutes} min: nothing to keep warm", {
                "window_min": history.minutes}
        idle_s = now_s - history.minute_start_s(last + 1)
        pool = min(max(history.peak_user_concurrency(), 1), self.max_pings)
        age = history.refresh_age_s(pool, now_s)
        inputs: dict[str, Any] = {"window_min": history.minutes, "idle_s": round(idle_s), "pool": pool,
                                  "pool_ran_s_ago": None if age is None else round(age)}
        if age is not None and age < self.refresh_after_s and history.ran_for(pool, self.sustained_minutes):
            return 0, (f"the pool of {pool} ran {age:.0f} s ago, and in each of the {self.sustained_minutes} "
                       "minutes up to then: traffic keeps it warm"), inputs
        wanted, reason, extra = self._wanted(history, now_s, idle_s)
        inputs.update(extra)
        return (pool if wanted else 0), reason, inputs

    @abstractmethod
    def _wanted(self, history: TierHistory, now_s: float, idle_s: float) -> tuple[bool, str, dict[str, Any]]:
        """(hold the pool warm?, reason, inputs) for a tier idle for ``idle_s`` seconds."""

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "refresh_after_s": self.refresh_after_s,
                "sustained_minutes": self.sustained_minutes}
