"""The traces the policies are compared on: the Azure split and the generators, seeded."""

from __future__ import annotations

import statistics

import pytest

from tools.prewarm import traces


def test_the_azure_trace_is_split_into_streams_that_hold_every_request_once() -> None:
    requests, span = traces.load_azure()
    assert len(requests) > 8_000 and 3_000 < span < 3_700  # one hour, less its tail
    counts = [sum(1 for r in requests if r.stream == i) for i in range(traces.AZURE_STREAMS)]
    assert sum(counts) == len(requests) and min(counts) > 0.2 * len(requests)
    sparse = traces.build("azure-sparse", seed=0, days=2)
    assert sparse.requests == len(requests)
    assert all(s.arrivals[-1] < 2 * traces.DAY_S for s in sparse.streams)


def test_azure_busy_keeps_the_trace_rate_over_the_days() -> None:
    busy = traces.build("azure-busy", seed=0, days=1)
    requests, span = traces.load_azure()
    assert busy.requests == pytest.approx(len(requests) * traces.DAY_S / span, rel=0.02)


@pytest.mark.parametrize("name", sorted(traces.TRACE_CLASSES))
def test_a_seed_gives_the_same_traffic_and_another_seed_other_traffic(name: str) -> None:
    first, again, other = (traces.build(name, seed=s, days=1) for s in (3, 3, 4))
    assert [s.arrivals for s in first.streams] == [s.arrivals for s in again.streams]
    if name != "azure-sparse":  # the stretched trace has no randomness
        assert [s.arrivals for s in first.streams] != [s.arrivals for s in other.streams]


def test_rare_calls_have_the_mean_gap_they_are_named_for() -> None:
    rare = traces.build("rare", seed=1, days=20)
    gaps = [b - a for a, b in zip(rare.streams[0].arrivals, rare.streams[0].arrivals[1:], strict=False)]
    assert statistics.mean(gaps) == pytest.approx(30 * 60, rel=0.1)


def test_timer_fanouts_overlap() -> None:
    timers = traces.build("timers", seed=0, days=1)
    fanout3 = timers.streams[3].arrivals
    assert fanout3[2] - fanout3[0] < 0.03  # within one request's service time: three at once


def test_unknown_classes_are_named() -> None:
    with pytest.raises(ValueError, match="no trace class is called 'spiky'; use one of azure-busy"):
        traces.build("spiky", seed=0)
