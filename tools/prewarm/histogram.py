"""The hybrid histogram policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC '20), on Lambda.

The paper keeps, per application, a histogram of idle times (the minutes between one
invocation and the next, 1-minute bins over a 4-hour range). When the histogram is
representative it unloads the application after each invocation and loads it again
just before the next one is due: a pre-warm window at the head of the distribution (its
5th percentile, less a 10% margin) and a keep-alive window to its tail (the 99th
percentile, plus 10%). When it is not (too few idle times, a flat histogram, most idle
times beyond the range) it falls back: a plain keep-alive, or a time-series forecast
(ARIMA) for idle times beyond the range.

On Lambda there is no unloading: an idle environment lives until Lambda reclaims it, and
keep-warm can only refresh it or start a new one. So the two windows become when to ping:

- idle, and the pre-warm window not reached before the next round: no ping; the pool
  may be reclaimed meanwhile, and a later round's ping starts it again in time;
- inside [pre-warm, keep-alive]: hold the pool warm;
- idle past the keep-alive window: no ping; the next request was not expected this late.

Idle times come from the history window keep-warm reads (a day by default), in the same
1-minute bins the paper uses. Where the histogram is not representative this policy holds
the pool (the paper's keep-alive fallback); it does not forecast idle times beyond the
range (the paper's ARIMA branch): with a day of history there are too few of them to fit.
"""

from __future__ import annotations

import math
from typing import Any

from warming.base import MINUTE_S, KeepAlivePolicy, TierHistory
from warming.errors import PolicyConfigError


def percentile(sorted_values: list[int], percent: float) -> float:
    """The ``percent`` percentile of sorted values, by linear interpolation."""
    if not sorted_values:
        raise ValueError("the percentile of no values")
    position = (len(sorted_values) - 1) * percent / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class HybridHistogramPolicy(KeepAlivePolicy):
    """Ping the pool only inside the idle-time window the histogram predicts the next request in."""

    name = "histogram"

    def __init__(self, *, max_pings: int, interval_s: float = 300.0, refresh_after_s: float = 300.0,
                 range_min: int = 240, head_percentile: float = 5.0, tail_percentile: float = 99.0,
                 margin: float = 0.1, min_idle_times: int = 10, cv_threshold: float = 2.0,
                 max_out_of_range: float = 0.5) -> None:
        super().__init__(max_pings=max_pings, interval_s=interval_s, refresh_after_s=refresh_after_s)
        if range_min < 1:
            raise PolicyConfigError(f"range_min={range_min} must be at least 1 (minutes)")
        if not 0 <= head_percentile < tail_percentile <= 100:
            raise PolicyConfigError(f"percentiles must satisfy 0 <= head < tail <= 100, got "
                                    f"{head_percentile} and {tail_percentile}")
        if not 0 <= margin < 1:
            raise PolicyConfigError(f"margin={margin} must be in [0, 1)")
        if not 0 <= max_out_of_range <= 1:
            raise PolicyConfigError(f"max_out_of_range={max_out_of_range} must be in [0, 1]")
        self.range_min = range_min
        self.head_percentile = head_percentile
        self.tail_percentile = tail_percentile
        self.margin = margin
        self.min_idle_times = min_idle_times
        self.cv_threshold = cv_threshold
        self.max_out_of_range = max_out_of_range

    def windows(self, idle_times: list[int]) -> tuple[int, int] | str:
        """(pre-warm, keep-alive end) in minutes of idleness, or why the histogram cannot say."""
        if len(idle_times) < self.min_idle_times:
            return f"{len(idle_times)} idle times, fewer than {self.min_idle_times}"
        in_range = sorted(t for t in idle_times if t < self.range_min)
        out_of_range = len(idle_times) - len(in_range)
        if not in_range or out_of_range > self.max_out_of_range * len(idle_times):
            return f"{out_of_range} of {len(idle_times)} idle times beyond {self.range_min} min"
        # The paper's test of a representative histogram: the coefficient of variation of
        # its bin counts. Idle times piled in a few bins give a high CV; spread evenly, low.
        counts: dict[int, int] = {}
        for minutes in in_range:
            counts[minutes] = counts.get(minutes, 0) + 1
        mean = len(in_range) / self.range_min
        variance = sum(c * c for c in counts.values()) / self.range_min - mean * mean
        cv = math.sqrt(max(variance, 0.0)) / mean
        if cv < self.cv_threshold:
            return f"histogram too flat to predict (CV {cv:.2f} < {self.cv_threshold})"
        head = percentile(in_range, self.head_percentile)
        tail = percentile(in_range, self.tail_percentile)
        return math.floor(head * (1 - self.margin)), math.ceil(tail * (1 + self.margin))

    def _wanted(self, history: TierHistory, now_s: float, idle_s: float) -> tuple[bool, str, dict[str, Any]]:
        windows = self.windows(history.idle_times_min())
        idle_min = idle_s / MINUTE_S
        if isinstance(windows, str):
            return True, f"{windows}: hold the pool (the paper's keep-alive fallback)", {"histogram": windows}
        prewarm, keep_until = windows
        inputs = {"prewarm_min": prewarm, "keepalive_until_min": keep_until}
        if idle_min > keep_until:
            return False, (f"idle {idle_min:.0f} min, past the keep-alive window ({keep_until} min): "
                           "no request expected this late"), inputs
        if idle_min + self.interval_s / MINUTE_S < prewarm:
            return False, (f"idle {idle_min:.0f} min, and no request is due before {prewarm} min: "
                           "a later round pre-warms"), inputs
        return True, f"idle {idle_min:.0f} min, inside the window [{prewarm}, {keep_until}] min: hold the pool", inputs

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "range_min": self.range_min, "head_percentile": self.head_percentile,
                "tail_percentile": self.tail_percentile, "margin": self.margin,
                "min_idle_times": self.min_idle_times, "cv_threshold": self.cv_threshold,
                "max_out_of_range": self.max_out_of_range}
