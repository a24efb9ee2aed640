"""A small learned predictor: will a user request arrive before the next round? Ping if likely enough.

Each round the policy asks one question of the tier's own history: given how long the tier
has been idle, the hour of day and the recent request rate, what is the chance that a user
request arrives in the next ``interval_s`` (before the next round could act)? It holds the
pool warm when that chance is at least ``threshold``.

The model is a logistic regression on six features: a bias; the empirical hazard (of the
idle times in the window that lasted at least this long, the share that ended within the
next ``interval_s``: what lets it learn a timer's period, which no smooth function of the
idle time alone can); the idle time (log-scaled); the hour of day (sine and cosine); and
the requests of the last hour (log-scaled). Every minute of the history window is one
training example, labelled by whether a request came in the ``interval_s`` that followed
it, as seen across the same metric delay as the decision itself. Examples are pooled into
cells (rounded features) so that a fit is a few Newton steps over at most a few hundred
cells: milliseconds of standard-library Python, not worth a numpy import in keep-warm.

The weights are kept on the policy object (module scope in keep-warm, so a warm keep-warm
environment reuses them) and refitted once every ``retrain_s``; a cold one fits at once.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from warming.base import MINUTE_S, KeepAlivePolicy, TierHistory
from warming.errors import PolicyConfigError

#: Lower edges (minutes) of the idle-time buckets: fine where timers and lulls live, coarse beyond.
IDLE_EDGES_MIN = (0, 1, 2, 3, 4, 5, 7, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 180, 240, 360, 720, 1440)
_LOG_DAY = math.log1p(1440)
FEATURES = ("bias", "hazard", "idle", "hour_sin", "hour_cos", "rate")


def survival(idle_times: list[int], minutes: int) -> list[int]:
    """``survival[m]``: how many idle times lasted at least ``m`` minutes (m in 0..minutes)."""
    counts = [0] * (minutes + 2)
    for idle in idle_times:
        counts[min(idle, minutes + 1)] += 1
    total = 0
    for m in range(minutes + 1, -1, -1):
        total += counts[m]
        counts[m] = total
    return counts


def hazard(survivors: list[int], idle_min: int, horizon_min: int) -> float:
    """Of the idle times that lasted ``idle_min``, the share that ended within ``horizon_min`` more."""
    last = len(survivors) - 1
    at = survivors[min(max(idle_min, 0), last)]
    if not at:
        return 0.0
    return (at - survivors[min(max(idle_min, 0) + horizon_min, last)]) / at


def features(hazard_now: float, idle_min: float, hour: float, requests_last_hour: int) -> tuple[float, ...]:
    """The model's inputs for one moment, rounded as in training (so examples pool into cells)."""
    edge = IDLE_EDGES_MIN[bisect.bisect_right(IDLE_EDGES_MIN, max(idle_min, 0.0)) - 1]
    idle = math.log1p(edge) / _LOG_DAY
    angle = 2 * math.pi * hour / 24
    rate = math.floor(math.log2(1 + requests_last_hour)) / 10
    return (1.0, round(hazard_now, 2), idle, math.sin(angle), math.cos(angle), rate)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is 6 x 6, positive definite)."""
    size = len(vector)
    rows = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(rows[r][column]))
        rows[column], rows[pivot] = rows[pivot], rows[column]
        lead = rows[column][column]
        for r in range(column + 1, size):
            factor = rows[r][column] / lead
            for c in range(column, size + 1):
                rows[r][c] -= factor * rows[column][c]
    solution = [0.0] * size
    for r in range(size - 1, -1, -1):
        solution[r] = (rows[r][size] - sum(rows[r][c] * solution[c] for c in range(r + 1, size))) / rows[r][r]
    return solution


def _loss(cells: dict[tuple[float, ...], list[int]], weights: list[float], l2: float) -> float:
    """The penalised negative log-likelihood (the bias is penalised 100 times less)."""
    total = 0.5 * l2 * (0.01 * weights[0] ** 2 + sum(w * w for w in weights[1:]))
    for x, (count, positives) in cells.items():
        z = sum(w * v for w, v in zip(weights, x, strict=True))
        # log(1 + e^z), computed without overflow
        softplus = z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))
        total += count * softplus - positives * z
    return total


def fit(cells: dict[tuple[float, ...], list[int]], *, l2: float, start: list[float] | None = None,
        iterations: int = 12) -> list[float]:
    """Logistic regression on pooled cells {features: [examples, positives]}: damped Newton steps.

    Every weight is penalised (the bias lightly), so the Hessian stays invertible even where
    the data are separable; a step is halved until it lowers the loss, so a fit never
    diverges, whatever it starts from.
    """
    size = len(FEATURES)
    weights = list(start) if start else [0.0] * size
    penalty = [0.01 * l2] + [l2] * (size - 1)
    loss = _loss(cells, weights, l2)
    for _ in range(iterations):
        gradient = [p * w for p, w in zip(penalty, weights, strict=True)]
        hessian = [[(penalty[i] + 1e-9 if i == j else 0.0) for j in range(size)] for i in range(size)]
        for x, (count, positives) in cells.items():
            p = _sigmoid(sum(w * v for w, v in zip(weights, x, strict=True)))
            error = count * p - positives
            curvature = count * p * (1 - p)
            for i in range(size):
                gradient[i] += error * x[i]
                row = hessian[i]
                for j in range(i, size):
                    row[j] += curvature * x[i] * x[j]
        for i in range(size):
            for j in range(i):
                hessian[i][j] = hessian[j][i]
        step = _solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-4:
            trial = [w - scale * d for w, d in zip(weights, step, strict=True)]
            trial_loss = _loss(cells, trial, l2)
            if trial_loss <= loss:
                break
            scale /= 2
        else:
            break
        moved = max(abs(a - b) for a, b in zip(trial, weights, strict=True))
        weights, loss = trial, trial_loss
        if moved < 1e-6:
            break
    return weights


class LearnedPolicy(KeepAlivePolicy):
    """Hold the pool when P(a user request before the next round) >= ``threshold``."""

    name = "learned"

    def __init__(self, *, max_pings: int, interval_s: float = 300.0, refresh_after_s: float = 300.0,
                 threshold: float = 0.05, retrain_s: float = 3600.0, l2: float = 1.0) -> None:
        super().__init__(max_pings=max_pings, interval_s=interval_s, refresh_after_s=refresh_after_s)
        if not 0 < threshold < 1:
            raise PolicyConfigError(f"threshold={threshold} must be a probability strictly between 0 and 1")
        if retrain_s < 0 or l2 < 0:
            raise PolicyConfigError(f"retrain_s={retrain_s} and l2={l2} must be 0 or more")
        self.threshold = threshold
        self.retrain_s = retrain_s
        self.l2 = l2
        self._weights: list[float] | None = None
        self._trained_at_s: float | None = None
        self._examples = 0

    def _horizon_min(self) -> int:
        return max(1, math.ceil(self.interval_s / MINUTE_S))

    def training_cells(self, history: TierHistory, gap_min: int) -> tuple[dict[tuple[float, ...], list[int]], int]:
        """Every minute of the window as an example, pooled into cells; and how many examples."""
        requests = history.requests
        minutes = len(requests)
        horizon = self._horizon_min()
        # next_active[i]: the first minute >= i with a request (minutes: none).
        next_active = [minutes] * (minutes + 1)
        for index in range(minutes - 1, -1, -1):
            next_active[index] = index if requests[index] else next_active[index + 1]
        survivors = survival(history.idle_times_min(), minutes)
        cells: dict[tuple[float, ...], list[int]] = {}
        last_active = None
        last_hour = 0
        start_minute = int(history.start_s // MINUTE_S)
        examples = 0
        for t in range(minutes):
            last_hour += requests[t] - (requests[t - 60] if t >= 60 else 0)
            if requests[t]:
                last_active = t
            first = t + 1 + gap_min
            if last_active is None or first + horizon > minutes:
                continue
            # Whole hours pool the examples into few cells (the decision uses the exact hour).
            hour = ((start_minute + first) % 1440) // 60
            idle = first - last_active - 1
            x = features(hazard(survivors, idle, horizon), idle, hour, last_hour)
            cell = cells.setdefault(x, [0, 0])
            cell[0] += 1
            cell[1] += 1 if next_active[first] < first + horizon else 0
            examples += 1
        return cells, examples

    def probability(self, history: TierHistory, now_s: float, idle_s: float) -> float:
        """P(a user request in the next ``interval_s``), refitting the model when it is due."""
        gap_min = max(0, round((now_s - history.end_s) / MINUTE_S))
        if (self._weights is None or self._trained_at_s is None
                or history.end_s - self._trained_at_s >= self.retrain_s or history.end_s < self._trained_at_s):
            cells, self._examples = self.training_cells(history, gap_min)
            self._weights = fit(cells, l2=self.l2, start=self._weights) if cells else [0.0] * len(FEATURES)
            self._trained_at_s = history.end_s
        requests_last_hour = sum(history.requests[-60:])
        survivors = survival(history.idle_times_min(), history.minutes)
        idle_min = idle_s / MINUTE_S
        x = features(hazard(survivors, math.floor(idle_min), self._horizon_min()), idle_min,
                     (now_s % 86400) / 3600, requests_last_hour)
        return _sigmoid(sum(w * v for w, v in zip(self._weights, x, strict=True)))

    def _wanted(self, history: TierHistory, now_s: float, idle_s: float) -> tuple[bool, str, dict[str, Any]]:
        p = self.probability(history, now_s, idle_s)
        inputs = {"p_request": round(p, 4), "threshold": self.threshold, "examples": self._examples}
        if p >= self.threshold:
            return True, (f"idle {idle_s / MINUTE_S:.0f} min, P(request in the next {self.interval_s:.0f} s) = "
                          f"{p:.3f} >= {self.threshold}: hold the pool"), inputs
        return False, (f"idle {idle_s / MINUTE_S:.0f} min, P(request in the next {self.interval_s:.0f} s) = "
                       f"{p:.3f} < {self.threshold}: not worth a ping"), inputs

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "threshold": self.threshold, "retrain_s": self.retrain_s, "l2": self.l2}
