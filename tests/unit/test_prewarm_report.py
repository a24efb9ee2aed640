"""The report: the target, the choice, and the files a small run writes."""

from __future__ import annotations

import json
from pathlib import Path

from tools.prewarm import report
from tools.prewarm.simulator import SimResult


def result(cold: int, pings: int) -> SimResult:
    return SimResult(requests=1000, user_cold=cold, pings=pings)


def test_the_target_needs_one_figure_better_and_neither_worse() -> None:
    fixed = result(10, 100)
    assert report.meets_target(result(9, 100), fixed)
    assert report.meets_target(result(10, 99), fixed)
    assert not report.meets_target(result(10, 100), fixed)
    assert not report.meets_target(result(11, 10), fixed)
    assert not report.meets_target(result(1, 101), fixed)


def test_the_choice_is_the_policy_meeting_the_target_most_often() -> None:
    def row(target: bool, cold: int, pings: int) -> dict[str, object]:
        return {"target": target, "user_cold": cold, "pings": pings}

    classes = {
        "a": {"policies": {"refresh": row(True, 5, 50), "histogram": row(True, 4, 40), "learned": row(False, 1, 1)}},
        "b": {"policies": {"refresh": row(True, 5, 50), "histogram": row(False, 9, 20), "learned": row(False, 1, 1)}},
    }
    chosen, why = report.choose(classes)
    assert chosen == "refresh" and why.startswith("refresh meets the target on 2 of 2 trace classes")


def test_a_small_run_writes_the_table_the_json_and_the_plot(tmp_path: Path) -> None:
    code = report.main(["--out", str(tmp_path), "--classes", "timers", "--models", "default",
                        "--replicates", "2", "--seed", "7"])
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    table = results["models"]["default"]["classes"]["timers"]["policies"]
    assert set(table) == {"none", "fixed", "refresh", "histogram", "learned"}
    assert table["fixed"]["pings"] == 2 * 4 * 288 * 2  # warm count x streams x rounds a day x replicates
    assert table["none"]["pings"] == 0 and table["none"]["user_cold"] > table["fixed"]["user_cold"]
    assert results["chosen"]["policy"] in report.CANDIDATES
    markdown = (tmp_path / "results.md").read_text()
    assert "| policy | requests | user cold | cold fraction |" in markdown
    assert "CC-BY 4.0" in markdown and "python -m tools.prewarm.report --out" in markdown
    assert (tmp_path / "policies.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
