"""The pre-warming policies on hand-built histories: each rule, and the decisions it leads to.

Keep-warm's own (none, fixed, refresh: ``warming.policy``) and the simulator's research ones
(histogram, learned: ``tools/prewarm``), all through ``tools.prewarm.policies.make_policy``."""

from __future__ import annotations

import math

import pytest

from tools.prewarm.histogram import HybridHistogramPolicy, percentile
from tools.prewarm.learned import FEATURES, LearnedPolicy, fit
from tools.prewarm.policies import POLICY_NAMES, make_policy
from warming import POLICY_NAMES as KEEP_WARM_POLICY_NAMES
from warming import HistoryError, PolicyConfigError, TierHistory
from warming import make_policy as keep_warm_policy

DAY_MIN = 1440
START = 1_700_000_040  # a whole minute (epoch seconds)


def history(requests: list[int], concurrency: list[int] | None = None, start_s: int = START) -> TierHistory:
    concurrency = concurrency if concurrency is not None else [min(r, 1) for r in requests]
    return TierHistory(start_s=start_s, requests=tuple(requests), concurrency=tuple(concurrency))


def every(period_min: int, minutes: int = DAY_MIN, offset: int = 0) -> list[int]:
    """One request every ``period_min`` minutes, the last at ``minutes - 1 - offset``."""
    return [1 if (minutes - 1 - offset - m) % period_min == 0 and m <= minutes - 1 - offset else 0
            for m in range(minutes)]


# --- the history -------------------------------------------------------------------------------------

def test_history_refuses_series_of_different_lengths_and_odd_starts() -> None:
    with pytest.raises(HistoryError, match="one value per minute in each series, got 2 requests and 1 concurrency"):
        TierHistory(start_s=START, requests=(1, 0), concurrency=(1,))
    with pytest.raises(HistoryError, match="starts on a whole minute, not at 61"):
        TierHistory(start_s=61, requests=(), concurrency=())
    with pytest.raises(HistoryError, match="no value may be negative"):
        history([1, -1])


def test_user_peaks_take_the_upper_bound_of_what_users_had_in_flight() -> None:
    # GIVEN a minute with 3 requests at concurrency 3, one with 1 request and 2 pings at once
    # (concurrency 3), one with pings only, one with 2 requests one after the other
    h = history([3, 1, 0, 2], concurrency=[3, 3, 2, 1])
    # THEN users had at most min(requests, concurrency) in flight; a ping-only minute had none
    assert h.user_peaks() == [3, 1, 0, 1]
    assert h.peak_user_concurrency() == 3


def test_refresh_age_counts_from_the_start_of_the_last_minute_the_pool_ran() -> None:
    h = history([0] * 10, concurrency=[2, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    now = h.end_s + 30
    assert h.refresh_age_s(1, now) == now - h.minute_start_s(3)
    assert h.refresh_age_s(2, now) == now - h.minute_start_s(0)
    assert h.refresh_age_s(3, now) is None


def test_idle_times_are_whole_minutes_between_active_minutes() -> None:
    assert history([1, 1, 0, 0, 1, 0, 1]).idle_times_min() == [0, 2, 1]
    assert history([0, 1, 0]).idle_times_min() == []


# --- what every policy shares --------------------------------------------------------------------------

def test_make_policy_names_what_exists_when_asked_for_what_does_not() -> None:
    with pytest.raises(PolicyConfigError, match="no pre-warming policy is called 'hybrid'; use one of none, fixed"):
        make_policy("hybrid", max_pings=2)
    with pytest.raises(PolicyConfigError, match="the fixed policy does not take these parameters"):
        make_policy("fixed", max_pings=2, threshold=0.5)
    with pytest.raises(PolicyConfigError, match="max_pings=101 is out of range; use 0..100"):
        make_policy("refresh", max_pings=101)
    assert POLICY_NAMES == ("none", "fixed", "refresh", "histogram", "learned")
    # keep-warm runs only its own three; a research policy is not one of them
    assert KEEP_WARM_POLICY_NAMES == ("none", "fixed", "refresh")
    with pytest.raises(PolicyConfigError, match="no pre-warming policy is called 'histogram'; use one of none, fixed"):
        keep_warm_policy("histogram", max_pings=2)


def test_fixed_and_none_decide_without_history() -> None:
    assert make_policy("fixed", max_pings=3).decide(None, START).pings == 3
    assert make_policy("none", max_pings=3).decide(None, START).pings == 0


def test_history_policies_refuse_no_history_and_a_history_from_the_future() -> None:
    policy = make_policy("refresh", max_pings=2)
    with pytest.raises(HistoryError, match="decides from the tier's history, and none was given"):
        policy.decide(None, START)
    h = history([1] * 10)
    with pytest.raises(HistoryError, match="after now"):
        policy.decide(h, h.end_s - 300)


@pytest.mark.parametrize("name", ["refresh", "histogram", "learned"])
def test_no_request_in_the_window_means_no_ping(name: str) -> None:
    h = history([0] * DAY_MIN)
    decision = make_policy(name, max_pings=2).decide(h, h.end_s + 180)
    assert (decision.pings, decision.reason) == (0, "no user request in the last 1440 min: nothing to keep warm")


@pytest.mark.parametrize("name", ["refresh", "histogram", "learned"])
def test_a_pool_that_traffic_keeps_running_is_not_pinged(name: str) -> None:
    # GIVEN traffic that ran two environments at once in each of the last two minutes it did run
    # (then a minute CloudWatch has not filled in yet)
    requests = every(10)
    requests[-3:] = [2, 2, 0]
    concurrency = [min(r, 2) for r in requests]
    h = history(requests, concurrency=concurrency)
    # WHEN the round comes 2 minutes after the history ends (CloudWatch's delay)
    decision = make_policy(name, max_pings=4).decide(h, h.end_s + 120)
    # THEN the pool of 2 is kept warm by the traffic: no ping, and the log says so
    assert decision.pings == 0
    assert decision.inputs["pool"] == 2 and decision.inputs["pool_ran_s_ago"] == 240
    assert "traffic keeps it warm" in decision.reason


def test_one_recent_burst_is_not_sustained_traffic_and_the_pool_is_pinged() -> None:
    # GIVEN the pool ran 4 minutes ago, but in that minute only (a burst, then silence)
    requests = every(10)
    requests[-1] = 2
    h = history(requests, concurrency=[min(r, 2) for r in requests])
    # WHEN the round comes THEN skipping it would leave the pool idle for up to two rounds,
    # long enough for an early reclaim: it is pinged
    decision = make_policy("refresh", max_pings=4).decide(h, h.end_s + 180)
    assert decision.pings == 2 and decision.inputs["pool_ran_s_ago"] == 240


def test_the_pool_is_what_users_needed_capped_by_the_warm_count() -> None:
    bursts = [3 * r for r in every(30)]
    h = history(bursts, concurrency=bursts)
    idle = h.end_s + 20 * 60  # long after the last request
    assert make_policy("refresh", max_pings=2).decide(h, idle).pings == 2
    assert make_policy("refresh", max_pings=5).decide(h, idle).pings == 3
    single = history(every(30))
    assert make_policy("refresh", max_pings=5).decide(single, idle).pings == 1


def test_a_decision_logs_as_one_flat_record() -> None:
    h = history(every(30))
    log = make_policy("refresh", max_pings=2).decide(h, h.end_s + 600).as_log()
    assert set(log) == {"policy", "pings", "reason", "inputs", "fallback"}
    assert (log["policy"], log["pings"], log["fallback"]) == ("refresh", 1, False)
    assert log["inputs"]["idle_s"] == 600


# --- the hybrid histogram policy -----------------------------------------------------------------------

def test_percentile_interpolates() -> None:
    assert percentile([0, 10], 50) == 5
    assert percentile([1, 2, 3, 4, 5], 0) == 1 and percentile([1, 2, 3, 4, 5], 100) == 5


def test_histogram_windows_of_a_timer_bracket_its_period() -> None:
    # A caller every 15 minutes: idle times of 14 whole minutes between active minutes.
    policy = HybridHistogramPolicy(max_pings=2)
    assert policy.windows(history(every(15)).idle_times_min()) == (12, 16)


def test_histogram_pings_only_inside_the_predicted_window() -> None:
    policy = make_policy("histogram", max_pings=2)
    # GIVEN a tier called every 15 minutes, its last request `offset` minutes before the history's end
    for offset, expected in ((3, 0), (7, 1), (12, 1), (30, 0)):
        h = history(every(15, offset=offset))
        decision = policy.decide(h, h.end_s + 180)
        idle_min = offset + 3
        # THEN no ping before the pre-warm window is reached by the next round, a ping inside it,
        # none past the keep-alive window
        assert decision.pings == expected, (idle_min, decision.reason)
        assert decision.inputs["prewarm_min"] == 12 and decision.inputs["keepalive_until_min"] == 16


def test_histogram_falls_back_to_holding_the_pool_when_it_cannot_predict() -> None:
    policy = make_policy("histogram", max_pings=2)
    few = history(every(200))  # 7 idle times, fewer than 10
    decision = policy.decide(few, few.end_s + 3600)
    assert decision.pings == 1 and "fewer than 10" in decision.reason
    beyond = history(every(300, minutes=5 * DAY_MIN))  # every idle time beyond the 4-hour range
    decision = policy.decide(beyond, beyond.end_s + 3600)
    assert decision.pings == 1 and "beyond 240 min" in decision.reason


def test_histogram_parameters_are_checked() -> None:
    with pytest.raises(PolicyConfigError, match="percentiles must satisfy 0 <= head < tail <= 100, got 50 and 5"):
        HybridHistogramPolicy(max_pings=1, head_percentile=50, tail_percentile=5)


# --- the learned predictor -----------------------------------------------------------------------------

def test_learned_predictor_learns_when_an_hourly_caller_is_due() -> None:
    policy = LearnedPolicy(max_pings=2, threshold=0.2)
    h = history(every(60, offset=0))
    # WHEN asked 10 minutes and 57 minutes after the last call (CloudWatch 3 minutes behind)
    early = policy.decide(h, h.end_s + 180 + 7 * 60)
    due = policy.decide(TierHistory(start_s=h.start_s + 47 * 60, requests=h.requests[47:] + (0,) * 47,
                                    concurrency=h.concurrency[47:] + (0,) * 47), h.end_s + 180 + 54 * 60)
    # THEN it lets the pool be early on, and holds it when the next call is due
    assert early.pings == 0 and early.inputs["p_request"] < 0.2, early.reason
    assert due.pings == 1 and due.inputs["p_request"] >= 0.2, due.reason


def test_learned_fit_stays_finite_on_separable_data() -> None:
    # Every example positive: plain Newton steps would send the bias to infinity.
    cells: dict[tuple[float, ...], list[int]] = {(1.0, 0.2 * i, 0.1 * i, 0.0, 1.0, 0.1): [50, 50] for i in range(5)}
    weights = fit(cells, l2=1.0)
    assert len(weights) == len(FEATURES) and all(math.isfinite(w) for w in weights)
    assert weights[0] > 0


def test_learned_threshold_must_be_a_probability() -> None:
    with pytest.raises(PolicyConfigError, match="threshold=1.5 must be a probability strictly between 0 and 1"):
        make_policy("learned", max_pings=1, threshold=1.5)
