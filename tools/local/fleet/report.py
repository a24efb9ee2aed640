"""The lifecycle summary as a table, for ``make serve`` at exit and the replay's report."""

from __future__ import annotations

from typing import Any

COLUMNS = [("environments_started", "envs started"), ("peak_environments", "peak envs"),
           ("cold_starts", "cold starts"), ("init", "inits"), ("reclaim", "reclaims"), ("recycle", "recycles"),
           ("death", "deaths"), ("throttle", "throttles"), ("init_ms_median", "init ms (median)")]


def summary_table(summary: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: one row per tier (or function), one column per count."""
    header = "| tier | " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    rows = [f"| {tier} | " + " | ".join(_cell(counts.get(key)) for key, _ in COLUMNS) + " |"
            for tier, counts in summary.items()]
    return "\n".join([header, rule, *rows])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if isinstance(value, float) else str(value)
