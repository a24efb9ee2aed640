"""Draw the cold-start waterfall (PNG) from a trace: the bench's, or one recorded in the cloud.

    python -m tools.bench.report TRACE.json [--out waterfall.png]

TRACE.json may be a trace (``{"phases": [...]}``), a /warm or /health response (its
``init``), the function's init log line (``"event": "init"``, its ``trace``), or the
bench's results.json. Each phase is a bar from its start to its end, in milliseconds
since the runtime process started; overlapping bars ran at the same time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def phases_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Find the phase list in any of the shapes the module docstring names."""
    for candidate in (document, document.get("trace"), document.get("template_trace")):
        if isinstance(candidate, dict) and isinstance(candidate.get("phases"), list):
            return candidate["phases"]
    raise SystemExit("no phase trace found: expected a trace, an init log line, or bench results "
                     "(a /warm answer's init has durations only; use the init log line)")


def draw_waterfall(trace: dict[str, Any] | None, out: Path, *, naive_s: dict[str, float] | None = None,
                   template_cold_s: float | None = None) -> Path:
    """Top: the template's init phases on one clock. Bottom (with ``naive_s``): both cold starts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(p["name"], p["start_ms"], p["duration_ms"]) for p in phases_of(trace or {})]
    end = max(start + duration for _, start, duration in rows)
    if template_cold_s is not None and template_cold_s * 1000 > end:
        rows.append(("first /predict, answered", end, template_cold_s * 1000 - end))
    panels = 2 if naive_s else 1
    fig, axes = plt.subplots(panels, 1, figsize=(10, 1.0 + 0.42 * len(rows) + (1.6 if naive_s else 0)), dpi=110,
                             gridspec_kw={"height_ratios": [len(rows), 2][:panels]}, squeeze=False)
    ax = axes[0][0]
    for index, (_, start, duration) in enumerate(rows):
        ax.barh(index, duration, left=start, color="#2b7bba", height=0.6)
        ax.text(start + duration + 4, index, f"{duration:.0f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the runtime process started (overlapping bars ran at the same time)")
    ax.set_title("Template cold start, phase by phase")
    ax.grid(axis="x", alpha=0.3)
    if naive_s:
        bottom = axes[1][0]
        naive_total = (naive_s["init"] + naive_s["first_response"]) * 1000
        template_total = template_cold_s * 1000 if template_cold_s else end
        bottom.barh([0, 1], [template_total, naive_total], color=["#2b7bba", "#c44e52"], height=0.6)
        for index, value in enumerate((template_total, naive_total)):
            bottom.text(value + 20, index, f"{value / 1000:.2f} s", va="center", fontsize=8)
        bottom.set_yticks([0, 1], ["template", "naive (torch + transformers)"], fontsize=8)
        bottom.invert_yaxis()
        bottom.set_xlabel("cold start: process start to first answer (ms)")
        bottom.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--out", type=Path, default=Path("build") / "bench" / "waterfall-trace.png")
    args = parser.parse_args(argv)
    text = args.trace.read_text()
    # Accept a whole log file: use the last init line in it.
    lines = [line for line in text.splitlines() if '"phases"' in line] or [text]
    document = json.loads(lines[-1] if len(lines) > 1 or lines[0] != text else text)
    print(draw_waterfall({"phases": phases_of(document)}, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
