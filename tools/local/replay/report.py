"""What a replay came to: per-tier figures, results.json, results.md and latency.png.

Latency percentiles are over the requests answered 200, by nearest rank; errors are every
other request (an HTTP error, or no answer at all: "lost"). Cold starts are the answers
that say ``cold_start: true`` (the function's own flag: the first request its environment
served); environments used are the distinct ``instance`` ids that answered.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from ..fleet.report import summary_table
from .runner import Record

TABLE_COLUMNS = [("requests", "requests"), ("answered", "answered"), ("lost", "lost"), ("errors", "errors"),
                 ("throttled", "throttled"), ("cold_starts", "cold starts"),
                 ("environments_used", "environments used"), ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"),
                 ("p99_ms", "p99 ms"), ("max_ms", "max ms"), ("cold_p50_ms", "cold p50 ms")]


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank ``p``th percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def tier_figures(records: list[Record]) -> dict[str, Any]:
    ok = [r for r in records if r.status == 200]
    latencies = [r.latency_ms for r in ok if r.latency_ms is not None]
    cold = [r.latency_ms for r in ok if r.cold_start and r.latency_ms is not None]
    lags = [r.lag_ms for r in records if r.lag_ms is not None]
    return {
        "requests": len(records),
        "answered": sum(1 for r in records if r.status),
        "lost": sum(1 for r in records if not r.status),
        "errors": sum(1 for r in records if r.status != 200),
        "throttled": sum(1 for r in records if r.status == 503 and "lambda_throttled" in (r.error or "")),
        "errors_by_kind": dict(Counter((r.error or "")[:80] for r in records if r.status != 200)),
        "cold_starts": sum(1 for r in ok if r.cold_start),
        "environments_used": len({r.instance for r in ok if r.instance}),
        "p50_ms": _round(percentile(latencies, 50)), "p95_ms": _round(percentile(latencies, 95)),
        "p99_ms": _round(percentile(latencies, 99)), "max_ms": _round(max(latencies) if latencies else None),
        "cold_p50_ms": _round(statistics.median(cold) if cold else None),
        "sender_lag_max_ms": _round(max(lags) if lags else None),
    }


def figures(records: list[Record], tiers: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    by_tier = {tier: tier_figures([r for r in records if r.tier == tier]) for tier in tiers}
    if len(tiers) > 1:
        by_tier["all"] = tier_figures(records)
    return by_tier


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def figures_table(by_tier: dict[str, dict[str, Any]]) -> str:
    header = "| tier | " + " | ".join(title for _, title in TABLE_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(TABLE_COLUMNS)
    rows = [f"| {tier} | " + " | ".join("-" if f.get(key) is None else str(f[key]) for key, _ in TABLE_COLUMNS)
            + " |" for tier, f in by_tier.items()]
    return "\n".join([header, rule, *rows])


def write_results(out: Path, *, settings: dict[str, Any], by_tier: dict[str, dict[str, Any]],
                  fleet: dict[str, dict[str, Any]], records: list[Record],
                  environments: list[tuple[float, str, int]], attribution: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    document = {"trace": {"attribution": attribution}, "settings": settings, "tiers": by_tier, "fleet": fleet,
                "environments_over_time": [{"trace_s": t, "tier": tier, "live": n} for t, tier, n in environments],
                "requests": [r.as_dict() for r in records]}
    _atomic_write(out / "results.json", json.dumps(document, indent=1) + "\n")
    _atomic_write(out / "results.md", markdown(settings, by_tier, fleet, attribution))
    plot(out / "latency.png", records, environments, settings)


def markdown(settings: dict[str, Any], by_tier: dict[str, dict[str, Any]], fleet: dict[str, dict[str, Any]],
             attribution: str) -> str:
    s = settings
    split = f", every {s['premium_every']}th request premium" if len(s["tiers"]) > 1 else ""
    lines = [
        "# Replay of real traffic through the local front door", "",
        f"Trace: {attribution}", "",
        f"Window: {s['duration_s']:.0f} s of the trace from {s['start_s']:.0f} s ({s['planned']} requests), "
        f"compressed {s['compression']:g}x: {s['wall_s']:.1f} s of wall time; tiers {', '.join(s['tiers'])}"
        f"{split}; inputs of "
        f"ContextTokens words, at most {s['max_tokens']}; seed {s['seed']}.",
        f"Fleet: {s['fleet_description']}; lifecycle {s['lifecycle_description']}.",
        f"Machine: {s['cpus']} CPUs.", "",
        figures_table(by_tier), "",
        "Latencies are from each request's planned arrival time to its answer, over the requests answered "
        "200. Cold starts: answers with `cold_start: true`; environments used: distinct instances that answered.",
        "", "Lifecycle events (the fleet's log):", "", summary_table(fleet), "",
        "![latency over time](latency.png)", "",
    ]
    return "\n".join(lines)


def plot(path: Path, records: list[Record], environments: list[tuple[float, str, int]],
         settings: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"standard": "tab:blue", "premium": "tab:orange"}
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12, 7), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    for tier in settings["tiers"]:
        ok = [r for r in records if r.tier == tier and r.status == 200 and r.latency_ms is not None]
        warm = [r for r in ok if not r.cold_start]
        cold = [r for r in ok if r.cold_start]
        top.scatter([r.trace_s for r in warm], [r.latency_ms for r in warm], s=4, alpha=0.5, color=colours[tier],
                    label=f"{tier} ({len(ok)} answered)")
        top.scatter([r.trace_s for r in cold], [r.latency_ms for r in cold], s=60, marker="^", color=colours[tier],
                    edgecolors="black", label=f"{tier} cold start ({len(cold)})")
    failed = [r for r in records if r.status != 200]
    if failed:
        top.scatter([r.trace_s for r in failed], [r.latency_ms or 1.0 for r in failed], s=30, marker="x",
                    color="red", label=f"error ({len(failed)})")
    top.set_yscale("log")
    top.set_ylabel("latency (ms, log)")
    figure.suptitle(f"Replay: {settings['duration_s']:.0f} s of the Azure LLM code trace at "
                    f"{settings['compression']:g}x ({settings['planned']} requests)")
    # Above the axes: inside, it would hide the cold starts, which sit at the top.
    top.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=5, fontsize=8, frameon=False)
    top.grid(True, which="both", alpha=0.3)
    arrivals = Counter(int(r.trace_s) for r in records)
    bottom.bar(list(arrivals), list(arrivals.values()), width=1.0, color="grey", alpha=0.5, label="arrivals / s")
    bottom.set_ylabel("arrivals / s")
    bottom.set_xlabel("time in the trace (s)")
    live = bottom.twinx()
    for tier in settings["tiers"]:
        points = [(t, n) for t, name, n in environments if name == tier]
        if points:
            live.step([t for t, _ in points], [n for _, n in points], where="post", color=colours[tier],
                      label=f"{tier} environments")
    live.set_ylabel("live environments")
    live.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    temporary = path.with_suffix(".tmp.png")
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    temporary.replace(path)


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
