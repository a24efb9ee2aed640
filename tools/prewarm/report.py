"""The pre-warming policies compared on every trace class: a table per class, a plot, the chosen policy.

    python -m tools.prewarm.report [--out build/prewarm] [--seed 0] [--replicates 4]

For each lifecycle model (the shared default, and a shorter idle reclaim, since Lambda does
not document its own), each trace class (``traces.py``) and each replicate (new traffic and
new reclaim draws from ``--seed``), every policy of ``inference_runtime.prewarm`` runs on
every stream of the class for two days; the second day is counted. The fixed policy is
today's keep-warm: ``--warm-count`` (2, the template's StandardWarmCount) pings every 5
minutes; every other policy may send at most that many per round.

The target, per class, on the totals over replicates: the policy has fewer user cold starts
than fixed at no more pings, or fewer pings at no more cold starts. "Equal" is taken
literally, no tolerance; the table shows the paired difference in cold starts and its
standard error over replicates, so a miss by noise can be told from a real one.

The chosen policy is picked by measurement among the policies that read history: the one
that meets the target on the most classes under the default lifecycle model, then the one
with the fewest cold starts, then the fewest pings. ``KeepWarmConfig``'s default policy
should be that one; the report says when it is not.

Writes (atomically) ``results.json``, ``results.md`` and ``policies.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.lifecycle_model import DEFAULT_LIFECYCLE, IdleReclaim, LifecycleModel
from tools.prewarm import traces
from tools.prewarm.policies import DEFAULT_POLICY as DEFAULT_KEEP_WARM_POLICY
from tools.prewarm.policies import POLICIES, POLICY_NAMES, make_policy
from tools.prewarm.simulator import FleetParams, SimResult, simulate
from warming.base import PrewarmPolicy

BASELINE = "fixed"
#: Policies the choice is made among: those that decide from the tier's history.
CANDIDATES = tuple(name for name, policy in POLICIES.items() if policy.reads_history)
MODELS: dict[str, tuple[LifecycleModel, str]] = {
    "default": (DEFAULT_LIFECYCLE, "tools/lifecycle_model.py DEFAULT_LIFECYCLE: 20% reclaimed after 5-45 min "
                                   "idle, the rest after 45-60 min; at most 4 h old"),
    "short-reclaim": (LifecycleModel(IdleReclaim(early_probability=1.0, early_s=(300.0, 900.0))),
                      "sensitivity: every idle environment reclaimed after 5-15 min; at most 4 h old"),
}
DAYS = 2


def policy_for(name: str, warm_count: int, params: FleetParams) -> PrewarmPolicy:
    return make_policy(name, max_pings=warm_count, interval_s=params.interval_s)


def run_class(class_name: str, model: LifecycleModel, *, seed: int, replicates: int, warm_count: int,
              params: FleetParams) -> dict[str, Any]:
    """Every policy on every stream of one class, per replicate; totals and per-replicate figures."""
    per_policy: dict[str, dict[str, Any]] = {name: {"total": SimResult(), "replicates": []} for name in POLICY_NAMES}
    description = ""
    stream_days = 0
    simulated_s = 0.0
    for replicate in range(replicates):
        trace = traces.build(class_name, seed=f"{seed}/{replicate}", days=DAYS)
        description = trace.description
        for name in POLICY_NAMES:
            replicate_total = SimResult()
            for index, stream in enumerate(trace.streams):
                started = time.perf_counter()
                result = simulate(stream, policy_for(name, warm_count, params), model,
                                  seed=hash_seed(seed, replicate, index), params=params,
                                  measure_from_s=(DAYS - 1) * traces.DAY_S)
                simulated_s += time.perf_counter() - started
                stream_days += DAYS
                replicate_total.add(result)
            per_policy[name]["total"].add(replicate_total)
            per_policy[name]["replicates"].append({"user_cold": replicate_total.user_cold,
                                                   "pings": replicate_total.pings})
    baseline = per_policy[BASELINE]
    rows = {}
    for name, figures in per_policy.items():
        total: SimResult = figures["total"]
        differences = [r["user_cold"] - b["user_cold"]
                       for r, b in zip(figures["replicates"], baseline["replicates"], strict=True)]
        rows[name] = {
            **total.as_dict(),
            "replicates": figures["replicates"],
            "cold_vs_fixed": sum(differences),
            "cold_vs_fixed_se": (statistics.stdev(differences) * math.sqrt(len(differences))
                                 if len(differences) > 1 else None),
            "target": None if name == BASELINE else meets_target(total, baseline["total"]),
        }
    return {"description": description, "policies": rows,
            "seconds_per_stream_day": simulated_s / max(stream_days, 1)}


def hash_seed(seed: int, replicate: int, stream: int) -> int:
    # Distinct for every (seed, replicate, stream), the same for every policy (common random numbers).
    return (seed * 1_000 + replicate) * 1_000 + stream


def meets_target(result: SimResult, fixed: SimResult) -> bool:
    """Fewer cold starts at no more pings, or fewer pings at no more cold starts."""
    return ((result.user_cold < fixed.user_cold and result.pings <= fixed.pings)
            or (result.pings < fixed.pings and result.user_cold <= fixed.user_cold))


def choose(results: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The candidate that meets the target on the most classes, then fewest cold starts, then pings."""
    scores = []
    for name in CANDIDATES:
        met = sum(1 for c in results.values() if c["policies"][name]["target"])
        cold = sum(c["policies"][name]["user_cold"] for c in results.values())
        pings = sum(c["policies"][name]["pings"] for c in results.values())
        scores.append((-met, cold, pings, name))
    scores.sort()
    met, cold, pings, name = scores[0]
    why = (f"{name} meets the target on {-met} of {len(results)} trace classes (default lifecycle model), "
           f"with {cold} user cold starts and {pings} pings in all; ranking: "
           + ", ".join(f"{n} ({-m} classes, {c} cold, {p} pings)" for m, c, p, n in scores))
    return name, why


def _fmt_row(name: str, row: dict[str, Any], chosen: str) -> str:
    se = row["cold_vs_fixed_se"]
    delta = "" if name == BASELINE else f"{row['cold_vs_fixed']:+d}" + (f" ± {se:.1f}" if se is not None else "")
    target = "—" if row["target"] is None else ("yes" if row["target"] else "no")
    label = f"**{name}** (chosen)" if name == chosen else name
    return (f"| {label} | {row['requests']} | {row['user_cold']} | {100 * row['cold_fraction']:.3f}% | {delta} | "
            f"{row['pings']} | {row['cold_pings']} | {row['ping_s']:.0f} | {row['idle_env_s'] / 3600:.1f} | "
            f"{target} |")


def markdown(report: dict[str, Any]) -> str:
    setup = report["setup"]
    chosen = report["chosen"]["policy"]
    lines = [
        "# Pre-warming policies compared on traces",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Trace data: {traces.AZURE_ATTRIBUTION} (see tools/data/azure-llm-inference-2023/README.md).",
        "",
        f"Each class is replayed for {DAYS} days per replicate, {setup['replicates']} replicates "
        f"(seed {setup['seed']}); only the second day is counted (the first is the policies' history). "
        f"Keep-warm runs every {setup['fleet']['interval_s']:.0f} s; each ping holds an environment "
        f"{1000 * setup['fleet']['hold_s']:.0f} ms; a cold start takes {setup['fleet']['init_s']} s; the "
        f"policies see CloudWatch {setup['fleet']['metrics_lag_s']:.0f} s late, over "
        f"{setup['fleet']['history_minutes']} minutes; idle environments are picked most recently used "
        f"first. The fixed policy is today's: {setup['warm_count']} pings every round; no other policy "
        f"sends more than that in a round.",
        "",
        "Columns: user requests and cold starts counted on the measured days of all streams and replicates; "
        "Δ cold vs fixed is the paired difference (± its standard error over replicates); pings are "
        "invocations keep-warm sent, cold pings the ones that started an environment, ping s their billed "
        "seconds (hold, plus init when cold); idle env-h are hours environments sat alive and idle (what "
        "a warm pool costs the platform; not billed on demand). Target: fewer cold starts than fixed at no "
        "more pings, or fewer pings at no more cold starts.",
        "",
        f"**Chosen: `{chosen}`.** {report['chosen']['why']}.",
        "",
    ]
    if report["chosen"]["configured_default"] != chosen:
        lines += [f"> Note: KeepWarmConfig's default policy is `{report['chosen']['configured_default']}`, "
                  f"not the measured choice `{chosen}`.", ""]
    for model_name, model in report["models"].items():
        lines += [f"## Lifecycle model: {model_name}", "", model["description"], ""]
        for class_name, result in model["classes"].items():
            lines += [f"### {class_name}: {result['description']}", "",
                      "| policy | requests | user cold | cold fraction | Δ cold vs fixed | pings | cold pings "
                      "| ping s | idle env-h | target |",
                      "|---|---|---|---|---|---|---|---|---|---|"]
            lines += [_fmt_row(name, row, chosen) for name, row in result["policies"].items()]
            lines.append("")
        met = [c for c, r in model["classes"].items() if r["policies"][chosen]["target"]]
        lines += [f"`{chosen}` meets the target on {len(met)} of {len(model['classes'])} classes here"
                  + (f" ({', '.join(met)})." if met else "."), ""]
    lines += [f"Speed: {report['speed']['seconds_per_stream_day']:.2f} s of CPU per simulated stream-day "
              f"({report['speed']['python']}); the whole report took {report['speed']['wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(report["models"])
    classes = list(report["models"][models[0]]["classes"])
    columns = 3
    rows = math.ceil(len(classes) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 4 * rows), squeeze=False)
    colours = {name: f"C{i}" for i, name in enumerate(POLICY_NAMES)}
    for axis, class_name in zip(axes.flat, classes, strict=False):
        for model_name, marker_fill in zip(models, ("full", "none"), strict=False):
            for name, row in report["models"][model_name]["classes"][class_name]["policies"].items():
                axis.scatter(row["pings"], row["user_cold"], s=60, color=colours[name],
                             facecolors=colours[name] if marker_fill == "full" else "none",
                             label=name if model_name == models[0] else None, marker="o")
        axis.set_title(class_name)
        axis.set_xlabel("pings sent")
        axis.set_ylabel("user cold starts")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(classes):]:
        axis.axis("off")
    axes.flat[0].legend(title="policy (filled: default model,\nhollow: short reclaim)", fontsize=8)
    figure.suptitle(f"Pre-warming policies: cold starts against pings (chosen: {report['chosen']['policy']})")
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
    os.replace(temporary, path)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def build_report(*, seed: int, replicates: int, warm_count: int, classes: list[str], models: list[str],
                 params: FleetParams, command: str) -> dict[str, Any]:
    started = time.perf_counter()
    report: dict[str, Any] = {
        "command": command,
        "setup": {"seed": seed, "replicates": replicates, "warm_count": warm_count, "days": DAYS,
                  "fleet": asdict(params),
                  "policies": {name: policy_for(name, warm_count, params).parameters() for name in POLICY_NAMES}},
        "attribution": traces.AZURE_ATTRIBUTION,
        "models": {},
    }
    per_day = []
    for model_name in models:
        model, description = MODELS[model_name]
        model_report: dict[str, Any] = {"description": description, "lifecycle": asdict(model), "classes": {}}
        for class_name in classes:
            result = run_class(class_name, model, seed=seed, replicates=replicates, warm_count=warm_count,
                               params=params)
            per_day.append(result.pop("seconds_per_stream_day"))
            model_report["classes"][class_name] = result
            print(f"  {model_name:14s} {class_name:13s} " + "  ".join(
                f"{n} {r['user_cold']}/{r['pings']}" for n, r in result["policies"].items()), file=sys.stderr)
        report["models"][model_name] = model_report
    primary = report["models"][models[0]]["classes"]
    chosen, why = choose(primary)
    report["chosen"] = {"policy": chosen, "why": why, "decided_on": models[0],
                        "configured_default": DEFAULT_KEEP_WARM_POLICY}
    report["speed"] = {"seconds_per_stream_day": statistics.mean(per_day), "wall_s": time.perf_counter() - started,
                       "python": f"Python {platform.python_version()}"}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/prewarm"), help="where the results go")
    parser.add_argument("--seed", type=int, default=0, help="seed of the traffic and the reclaim draws")
    parser.add_argument("--replicates", type=int, default=4, help="independent repeats of each class (1..50)")
    parser.add_argument("--warm-count", type=int, default=2, help="the fixed policy's pings per round (1..100)")
    parser.add_argument("--classes", default=",".join(traces.TRACE_CLASSES),
                        help=f"comma-separated trace classes (default: all of {', '.join(traces.TRACE_CLASSES)})")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated lifecycle models; the first decides (default: {', '.join(MODELS)})")
    args = parser.parse_args(argv)
    classes = [c for c in args.classes.split(",") if c]
    models = [m for m in args.models.split(",") if m]
    unknown = [c for c in classes if c not in traces.TRACE_CLASSES] + [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown trace class or model: {', '.join(unknown)}; classes are "
                     f"{', '.join(traces.TRACE_CLASSES)}, models {', '.join(MODELS)}")
    if not classes or not models:
        parser.error("give at least one trace class and one lifecycle model")
    if not 1 <= args.replicates <= 50:
        parser.error(f"--replicates {args.replicates}: use 1..50")
    if not 1 <= args.warm_count <= 100:
        parser.error(f"--warm-count {args.warm_count}: use 1..100")
    command = "python -m tools.prewarm.report " + " ".join(argv if argv is not None else sys.argv[1:])
    report = build_report(seed=args.seed, replicates=args.replicates, warm_count=args.warm_count, classes=classes,
                          models=models, params=FleetParams(), command=command.strip())
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out / "results.json", json.dumps(report, indent=2, sort_keys=False) + "\n")
    write_atomically(args.out / "results.md", markdown(report))
    plot(report, args.out / "policies.png")
    print(f"chosen: {report['chosen']['policy']} ({report['chosen']['why']})")
    print(f"wrote {args.out / 'results.md'}, {args.out / 'results.json'}, {args.out / 'policies.png'}")
    if report["chosen"]["configured_default"] != report["chosen"]["policy"]:
        print(f"note: KeepWarmConfig's default policy is {report['chosen']['configured_default']}, "
              f"the measurement chose {report['chosen']['policy']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
