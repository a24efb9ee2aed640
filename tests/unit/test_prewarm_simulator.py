"""The simulator's fleet: Lambda's lifecycle as modelled, keep-warm's pings, and what each costs."""

from __future__ import annotations

from typing import Any

import pytest

from tools.lifecycle_model import DEFAULT_LIFECYCLE, IdleReclaim, LifecycleModel
from tools.prewarm.simulator import FleetParams, simulate
from tools.prewarm.traces import Stream
from warming import FixedPolicy, NoPingPolicy, PrewarmPolicy, TierHistory, make_policy

HOUR = 3600.0
#: Reclaimed after exactly 10 minutes idle; at most 4 hours old.
TEN_MINUTES = LifecycleModel(IdleReclaim(early_probability=0.0, usual_s=(600.0, 600.0)))


def stream(arrivals: list[float], end_s: float, service_s: float = 0.03) -> Stream:
    return Stream("test", tuple(arrivals), tuple([service_s] * len(arrivals)), end_s)


def test_without_pings_every_request_after_a_gap_longer_than_any_reclaim_is_cold() -> None:
    # GIVEN requests 61 minutes apart: longer than the longest idle reclaim (60 min)
    arrivals = [i * 61 * 60.0 for i in range(20)]
    result = simulate(stream(arrivals, 21 * HOUR), NoPingPolicy(max_pings=0), DEFAULT_LIFECYCLE, seed=1)
    # THEN every one of them starts an environment
    assert (result.requests, result.user_cold, result.pings) == (20, 20, 0)
    assert result.environments_started == 20


def test_without_pings_requests_closer_than_the_shortest_reclaim_share_one_environment() -> None:
    # GIVEN a request a minute: never idle long enough for even an early reclaim (5 min)
    arrivals = [i * 60.0 for i in range(120)]
    result = simulate(stream(arrivals, 2 * HOUR), NoPingPolicy(max_pings=0), DEFAULT_LIFECYCLE, seed=1)
    assert (result.user_cold, result.environments_started) == (1, 1)


def test_fixed_pings_hold_n_environments_so_a_burst_of_n_finds_them_warm() -> None:
    # GIVEN keep-warm holding 3 environments, and bursts of 3 and then 4 simultaneous requests
    # long after anything else ran (50 and 100 minutes in)
    burst = [3000.0, 3000.001, 3000.002] + [6000.0 + 0.001 * i for i in range(4)]
    result = simulate(stream(burst, 2 * HOUR), FixedPolicy(max_pings=3), TEN_MINUTES, seed=3,
                      params=FleetParams(round_offset_s=10.0))
    # THEN the burst of 3 is served warm, and the burst of 4 starts exactly one environment
    assert (result.requests, result.user_cold) == (7, 1)
    # and every round sent 3 pings; the first round's pings started the 3 environments
    assert result.rounds == 24 and result.pings == 72
    assert result.cold_pings == 3


def test_a_ping_that_starts_an_environment_is_a_ping_cost_not_a_user_cold_start() -> None:
    result = simulate(stream([], 1 * HOUR), FixedPolicy(max_pings=2), DEFAULT_LIFECYCLE, seed=0)
    assert (result.requests, result.user_cold, result.cold_pings) == (0, 0, 2)
    params = FleetParams()
    assert result.ping_s == pytest.approx(result.pings * params.hold_s + result.cold_pings * params.init_s)


def test_a_user_who_arrives_while_the_pings_hold_every_environment_starts_a_new_one() -> None:
    # GIVEN keep-warm holding one environment (started by the round at 37 s; warm for a request
    # at 300 s), pinged again at 337 s and held 250 ms
    result = simulate(stream([300.0, 337.1], 600.0), FixedPolicy(max_pings=1), TEN_MINUTES, seed=0)
    # THEN the request 100 ms into the hold finds it busy: cold, though keep-warm "held it warm"
    assert (result.user_cold, result.environments_started) == (1, 2)
    later = simulate(stream([300.0, 337.3], 600.0), FixedPolicy(max_pings=1), TEN_MINUTES, seed=0)
    assert (later.user_cold, later.environments_started) == (0, 1)


def test_environments_past_their_maximum_age_are_recycled() -> None:
    # GIVEN pings every 5 minutes for 12 hours, environments living at most 4 hours
    result = simulate(stream([], 12 * HOUR), FixedPolicy(max_pings=1), DEFAULT_LIFECYCLE, seed=0)
    # THEN the pinged environment is replaced when it is 4 hours old: 3 starts in 12 hours
    assert result.cold_pings == 3


def test_the_short_reclaim_model_loses_an_environment_between_requests_20_minutes_apart() -> None:
    short = LifecycleModel(IdleReclaim(early_probability=1.0, early_s=(300.0, 900.0)))
    arrivals = [i * 20 * 60.0 for i in range(30)]
    none = simulate(stream(arrivals, 10 * HOUR + 60), NoPingPolicy(max_pings=0), short, seed=5)
    assert none.user_cold == 30
    fixed = simulate(stream(arrivals, 10 * HOUR + 60), FixedPolicy(max_pings=1), short, seed=5)
    assert fixed.user_cold <= 3  # the first, and a request that meets a ping's hold or an age recycle


def test_idle_environment_seconds_add_up_to_the_lifetime_less_the_busy_time() -> None:
    # GIVEN one request, then nothing: its environment is idle until reclaimed at exactly 10 minutes
    result = simulate(stream([60.0], HOUR, service_s=1.0), NoPingPolicy(max_pings=0), TEN_MINUTES, seed=0)
    assert result.busy_env_s == pytest.approx(1.5)  # init 0.5 s + the request
    assert result.idle_env_s == pytest.approx(600.0)


def test_only_the_measured_window_is_counted() -> None:
    arrivals = [i * 61 * 60.0 for i in range(20)]
    result = simulate(stream(arrivals, 21 * HOUR), NoPingPolicy(max_pings=0), DEFAULT_LIFECYCLE, seed=1,
                      measure_from_s=10 * HOUR)
    assert result.requests == sum(1 for a in arrivals if a >= 10 * HOUR) == result.user_cold


class Spy(PrewarmPolicy):
    """Records what the simulator shows a policy, and pings nothing."""

    name = "spy"

    def __init__(self) -> None:
        super().__init__(max_pings=1)
        self.seen: list[tuple[float, TierHistory]] = []

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        assert history is not None
        self.seen.append((now_s, history))
        return 0, "spy", {}


def test_the_policy_sees_per_minute_counts_a_metric_delay_late() -> None:
    # GIVEN 3 requests in minute 2 (two at once) and one in minute 8
    arrivals = [130.0, 130.01, 150.0, 490.0]
    spy = Spy()
    simulate(stream(arrivals, 1200.0), spy, TEN_MINUTES, seed=0, params=FleetParams(metrics_lag_s=180.0))
    # THEN at each round the history ends at least 180 s before it, on a whole minute
    assert [now for now, _ in spy.seen] == [37.0, 337.0, 637.0, 937.0]
    for now, history in spy.seen:
        assert history.end_s <= max(0.0, now - 180) and history.end_s % 60 == 0
    _, at_637 = spy.seen[2]
    assert at_637.requests == (0, 0, 3, 0, 0, 0, 0)
    assert at_637.concurrency == (0, 0, 2, 0, 0, 0, 0)
    _, at_937 = spy.seen[3]
    assert at_937.requests[8] == 1


def test_the_same_seed_gives_the_same_result_and_another_seed_another() -> None:
    # Requests 40 minutes apart: whether each finds its environment depends on the reclaim draws.
    arrivals = [i * 40 * 60.0 for i in range(60)]
    runs = [simulate(stream(arrivals, 41 * HOUR), NoPingPolicy(max_pings=0), DEFAULT_LIFECYCLE, seed=s)
            for s in (11, 11, 12)]
    assert runs[0].as_dict() == runs[1].as_dict()
    assert runs[0].idle_env_s != runs[2].idle_env_s
    refresh = [simulate(stream(arrivals, 41 * HOUR), make_policy("refresh", max_pings=2), DEFAULT_LIFECYCLE,
                        seed=11).as_dict() for _ in range(2)]
    assert refresh[0] == refresh[1]


def test_fleet_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="routing='random': use mru"):
        FleetParams(routing="random")
    with pytest.raises(ValueError, match=r"round_offset_s=300.0 must be in \[0, interval_s\)"):
        FleetParams(round_offset_s=300.0)
