"""`make replay`: replay the Azure trace's arrivals through the front door, both tiers, and report.

    python -m tools.local.replay [--compression F] [--duration S] [--tiers standard,premium] [--out build/replay]

--duration is seconds of the trace (from --start); the replay takes duration / compression
seconds of wall time. The defaults are what a 2-core machine serves with no error: the
first 600 s of the trace at 2x (1,482 requests in 5 minutes, bursts of up to 40 arrivals
a second of trace), inputs of ContextTokens words capped at 64, and up to 16 standard and
6 premium environments (2 provisioned). ContextTokens are an LLM's prompt sizes (median
1,469): at face value nearly every input is the 256 tokens this model reads, ~40 ms of a
core each, and the bursts then need more CPU than 2 cores have (measured at these
defaults but --max-tokens 256: 85 of 1,482 requests throttled, p50 110 ms; at 64: none,
p50 20 ms). Exit status 1 when any request failed or got no answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tools.lifecycle_model import DEFAULT_LIFECYCLE

from ..deployment import LocalDeployment, TierOptions
from ..emulator import REPO_ROOT
from .report import figures, figures_table, write_results
from .runner import run_plan
from .trace import ATTRIBUTION, DEFAULT_TRACE, TraceError, load_trace, plan

DEFAULT_COMPRESSION = 2.0
DEFAULT_DURATION_S = 600.0
SAMPLE_EVERY_S = 0.25


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--compression", type=float, default=DEFAULT_COMPRESSION,
                       help=f"replay this many times faster than the trace (default {DEFAULT_COMPRESSION:g})")
    parse.add_argument("--duration", type=float, default=DEFAULT_DURATION_S,
                       help=f"seconds of the trace to replay (default {DEFAULT_DURATION_S:.0f})")
    parse.add_argument("--start", type=float, default=0.0, help="where in the trace to start, in seconds")
    parse.add_argument("--tiers", default="standard,premium", help="comma-separated: standard, premium or both")
    parse.add_argument("--premium-every", type=int, default=4, help="with both tiers, every Nth request is premium")
    parse.add_argument("--max-tokens", type=int, default=64,
                       help="input length: ContextTokens words, at most this many (default 64; the model reads 256)")
    parse.add_argument("--standard-max-environments", type=int, default=16)
    parse.add_argument("--premium-max-environments", type=int, default=6)
    parse.add_argument("--premium-provisioned", type=int, default=2, help="as PremiumProvisionedConcurrency")
    parse.add_argument("--ort-threads", type=int, default=1,
                       help="ORT_INTRA_OP_THREADS of every environment (default 1: here N environments share "
                            "this machine's cores, where on Lambda each has its own; 0: ONNX Runtime decides)")
    parse.add_argument("--seed", type=int, default=0)
    parse.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    parse.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "replay")
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tiers = tuple(t.strip() for t in args.tiers.split(",") if t.strip())
    try:
        requests = plan(load_trace(args.trace), duration_s=args.duration, compression=args.compression,
                        tiers=tiers, premium_every=args.premium_every, start_s=args.start,
                        max_tokens=args.max_tokens, seed=args.seed)
    except (TraceError, ValueError) as exc:
        raise SystemExit(f"replay: {exc}") from None
    if not requests:
        raise SystemExit(f"replay: no request in [{args.start}, {args.start + args.duration}) s of {args.trace}")
    standard = TierOptions(max_environments=args.standard_max_environments)
    premium = TierOptions(max_environments=args.premium_max_environments,
                          provisioned=args.premium_provisioned if "premium" in tiers else 0)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"replay: {len(requests)} requests, {args.duration:.0f} s of the trace at {args.compression:g}x "
          f"({args.duration / args.compression:.0f} s); tiers {', '.join(tiers)}", flush=True)
    env = {"ORT_INTRA_OP_THREADS": str(args.ort_threads)}
    with LocalDeployment(standard=standard, premium=premium, compression=args.compression, seed=args.seed,
                         log_path=args.out / "lifecycle.jsonl", env=env) as deployment:
        environments: list[tuple[float, str, int]] = []
        done = threading.Event()
        started = time.perf_counter()

        def sample() -> None:
            while not done.wait(SAMPLE_EVERY_S):
                now = (time.perf_counter() - started) * args.compression
                environments.extend((round(now, 2), tier, len(deployment.fleets[tier].environments))
                                    for tier in tiers)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        records = run_plan(deployment.front_door.url, requests, seed=args.seed)
        wall_s = time.perf_counter() - started
        done.set()
        sampler.join()
    fleet = {tier: summary for tier, summary in deployment.summary().items() if tier in tiers}
    by_tier = figures(records, tiers)
    settings = _settings(args, tiers, len(requests), wall_s, standard, premium, deployment)
    write_results(args.out, settings=settings, by_tier=by_tier, fleet=fleet, records=records,
                  environments=environments, attribution=ATTRIBUTION)
    print(figures_table(by_tier))
    print(f"\nwrote {args.out / 'results.json'}, {args.out / 'results.md'}, {args.out / 'latency.png'}")
    overall = by_tier.get("all") or by_tier[tiers[0]]
    if overall["errors"] or overall["lost"]:
        print(f"replay: {overall['errors']} errors, {overall['lost']} lost; lower --compression or raise the "
              "limits", file=sys.stderr)
        return 1
    return 0


def _settings(args: argparse.Namespace, tiers: tuple[str, ...], planned: int, wall_s: float, standard: TierOptions,
              premium: TierOptions, deployment: LocalDeployment) -> dict[str, Any]:
    reclaim = DEFAULT_LIFECYCLE.idle_reclaim
    fleet = [f"standard up to {standard.max_environments} environments on demand"] if "standard" in tiers else []
    if "premium" in tiers:
        fleet.append(f"premium {premium.provisioned} provisioned, up to {premium.max_environments}")
    return {
        "compression": args.compression, "duration_s": args.duration, "start_s": args.start, "tiers": list(tiers),
        "premium_every": args.premium_every, "max_tokens": args.max_tokens, "seed": args.seed, "planned": planned,
        "ort_intra_op_threads": args.ort_threads,
        "wall_s": round(wall_s, 2), "cpus": os.cpu_count(), "trace_file": str(args.trace),
        "fleet_description": "; ".join(fleet),
        "lifecycle_description": (f"idle reclaim {reclaim.early_probability:.0%} after {reclaim.early_s[0]:.0f}-"
                                  f"{reclaim.early_s[1]:.0f} s, else {reclaim.usual_s[0]:.0f}-{reclaim.usual_s[1]:.0f}"
                                  f" s, recycled at {DEFAULT_LIFECYCLE.max_age_s:.0f} s (trace time; on the wall "
                                  f"clock divided by {args.compression:g})"),
        "lifecycle_wall": {"max_age_s": deployment.lifecycle.max_age_s,
                           "early_s": list(deployment.lifecycle.idle_reclaim.early_s),
                           "usual_s": list(deployment.lifecycle.idle_reclaim.usual_s)},
    }


if __name__ == "__main__":
    raise SystemExit(main())
