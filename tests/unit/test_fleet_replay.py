"""The replay's plan and figures, without a fleet: the trace read, the window, the split, the arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.local.replay.report import figures, markdown, percentile, tier_figures
from tools.local.replay.runner import Record
from tools.local.replay.trace import ATTRIBUTION, DEFAULT_TRACE, Arrival, TraceError, load_trace, plan, text_for


@pytest.fixture(scope="module")
def arrivals() -> list[Arrival]:
    return load_trace(DEFAULT_TRACE)


def test_the_trace_is_read_in_arrival_order_from_its_first_request(arrivals: list[Arrival]) -> None:
    offsets = [a.offset_s for a in arrivals]
    assert len(arrivals) > 8800 and offsets[0] == 0.0 and offsets == sorted(offsets)
    assert 3400 < offsets[-1] < 3600  # one hour
    assert arrivals[0].context_tokens == 4808  # the file's first row


def test_a_window_is_compressed_in_time_and_keeps_its_arrivals(arrivals: list[Arrival]) -> None:
    requests = plan(arrivals, duration_s=60, start_s=30, compression=4)
    window = [a for a in arrivals if 30 <= a.offset_s < 90]
    assert len(requests) == len(window)
    assert [r.trace_s for r in requests] == [a.offset_s - 30 for a in window]
    assert [r.at_s for r in requests] == [(a.offset_s - 30) / 4 for a in window]


def test_every_kth_request_is_premium_where_the_seed_says(arrivals: list[Arrival]) -> None:
    first = plan(arrivals, duration_s=300, compression=1, premium_every=4, seed=3)
    again = plan(arrivals, duration_s=300, compression=1, premium_every=4, seed=3)
    premium = [r.index for r in first if r.tier == "premium"]
    assert first == again
    assert {i % 4 for i in premium} == {premium[0] % 4} and premium[1] - premium[0] == 4
    assert {r.tier for r in plan(arrivals, duration_s=60, compression=1, tiers=("standard",))} == {"standard"}


def test_inputs_are_as_long_as_the_prompt_up_to_the_cap(arrivals: list[Arrival]) -> None:
    requests = plan(arrivals, duration_s=60, compression=1, max_tokens=64)
    by_index = {r.index: r for r in requests}
    assert all(r.tokens == min(a.context_tokens, 64) for r, a in zip(requests, arrivals, strict=False))
    text = text_for(by_index[2], seed=1)
    assert len(text.split()) == by_index[2].tokens and text == text_for(by_index[2], seed=1)
    assert text != text_for(by_index[2], seed=2)


@pytest.mark.parametrize("settings, message", [
    ({"compression": 0}, "compression and duration must be positive"),
    ({"tiers": ("gold",)}, "tiers must be among standard, premium"),
    ({"premium_every": 0}, "premium_every and max_tokens must be at least 1"),
])
def test_bad_settings_say_what_to_fix(arrivals: list[Arrival], settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(arrivals, **{"duration_s": 10, "compression": 1, **settings})  # type: ignore[arg-type]


@pytest.mark.parametrize("content, message", [
    ("when,tokens\n1,2\n", "needs the columns TIMESTAMP and ContextTokens"),
    ("TIMESTAMP,ContextTokens\nyesterday,12\n", "a row does not parse"),
])
def test_a_file_that_is_not_the_trace_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(content)
    with pytest.raises(TraceError, match=message):
        load_trace(path)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


def test_figures_count_errors_lost_cold_starts_and_environments() -> None:
    records = [
        Record(0, "standard", 5, 0.0, 0.0, status=200, latency_ms=900.0, cold_start=True, instance="a"),
        Record(1, "standard", 5, 0.1, 0.2, status=200, latency_ms=10.0, cold_start=False, instance="a"),
        Record(2, "standard", 5, 0.2, 0.4, status=200, latency_ms=20.0, cold_start=True, instance="b"),
        Record(3, "standard", 5, 0.3, 0.6, status=503, latency_ms=2.0, error="HTTP 503: lambda_throttled"),
        Record(4, "premium", 5, 0.4, 0.8, status=0, error="ConnectionError: no answer"),
        Record(5, "premium", 5, 0.5, 1.0, status=200, latency_ms=12.0, cold_start=False, instance="p"),
    ]
    standard = tier_figures(records[:4])
    assert (standard["requests"], standard["answered"], standard["lost"], standard["errors"]) == (4, 4, 0, 1)
    assert (standard["throttled"], standard["cold_starts"], standard["environments_used"]) == (1, 2, 2)
    assert (standard["p50_ms"], standard["max_ms"], standard["cold_p50_ms"]) == (20.0, 900.0, 460.0)
    both = figures(records, ("standard", "premium"))
    assert (both["premium"]["lost"], both["premium"]["errors"], both["all"]["errors"]) == (1, 1, 2)


def test_the_report_names_the_trace_and_its_licence() -> None:
    settings = {"duration_s": 60.0, "start_s": 0.0, "planned": 2, "compression": 2.0, "wall_s": 30.0,
                "tiers": ["standard"], "premium_every": 4, "max_tokens": 64, "seed": 0, "cpus": 2,
                "fleet_description": "standard up to 2", "lifecycle_description": "the default"}
    text = markdown(settings, {"standard": tier_figures([])}, {}, ATTRIBUTION)
    assert "CC-BY 4.0" in text and "Patel et al., ISCA 2024" in text and "AzurePublicDataset" in text
    assert "| standard | 0 | 0 | 0 | 0 | 0 | 0 | 0 | - |" in text
