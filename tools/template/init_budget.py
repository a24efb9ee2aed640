"""The init budget: refuse a model whose on-demand init would not fit Lambda's 10 seconds.

On demand, Lambda limits the Init phase (extensions, runtime, the function's static code) to
10 s; past it, Lambda retries Init during the first invocation, under the function's timeout,
so the first caller waits for two inits. Provisioned concurrency and SnapStart do not have
that limit: their init runs ahead of traffic and may take up to 15 minutes (the larger of
130 s and the function timeout). Sources: docs/models.md "The init budget".

Each artifact records the init the build measured (``manifest.json``'s ``init``:
tools/build_artifact.py runs a fresh process with the template's handler). Lambda gives CPU
in proportion to memory, the equivalent of one vCPU at 1,769 MB (up to 6 vCPUs at 10,240 MB),
so the record is scaled to the configured memory by the cores the init kept busy:

    busy cores   = cpu_ms / init_ms               (measured: 1.0 for a single-threaded init)
    Lambda vCPUs = min(memory_mb / 1769, 6)
    estimate     = init_ms x max(1, busy cores / Lambda vCPUs) x HEADROOM

An init that used one core stretches by 1769/1024 = 1.73x at 1,024 MB and not at all at
3,008 MB; one that kept four cores busy stretches by 4/1.7 at 3,008 MB. What this does not
model (a slower core than the build machine's; an image whose layers Lambda reads lazily,
so the weights' first read comes over the network rather than from the page cache the
build left warm) is why HEADROOM is there, and why Lambda's own Init Duration (the REPORT
line) is the figure to trust once deployed.

    python -m tools.template.init_budget build/artifacts/all-mpnet-base-v2 --memory-mb 3008 \
        [--snapstart] [--provisioned-concurrency N]

exits 1 with the fix when the model would not fit on demand and neither is on. `make template`
runs the same check on every served model of the list (their functions are on demand).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from inference_runtime.artifact.manifest import InitRecord

#: Lambda's on-demand Init limit, seconds.
ON_DEMAND_INIT_S = 10.0
#: Memory that buys the equivalent of one vCPU, and the most vCPUs a function gets (10,240 MB).
MB_PER_VCPU = 1769
MAX_VCPUS = 6.0
#: Lambda's per-core speed and its lazily loaded image layers are not the build machine's: a
#: model is refused from 8 s of estimated init, not 10.
HEADROOM = 1.25
#: Memory a function needs beyond the measured process's peak (the runtime's own, the page cache).
MEMORY_MARGIN = 1.25
#: What to change, for a tier function (its SnapStart and provisioned concurrency are parameters).
TIER_FIX = "Serve it with SnapStart (StandardSnapStart=true) or provisioned concurrency (the premium tier)"
#: What to change, for a served model (models.json "serve"): its function has neither.
SERVED_FIX = ("A served model's function is on demand (serve.memory_mb sets its memory): serve it from the "
              "standard tier with StandardSnapStart=true or from the premium tier (provisioned concurrency)")
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "build" / "artifacts"


class InitBudgetError(ValueError):
    """Raised when a model's measured init, scaled to its memory, would not fit Lambda's on-demand 10 s."""


@dataclass(frozen=True)
class Verdict:
    """What the check found: the scaled estimate and whether the configuration may run the model."""

    estimate_s: float
    fits_on_demand: bool
    allowed: bool
    message: str


def lambda_vcpus(memory_mb: int) -> float:
    return min(memory_mb / MB_PER_VCPU, MAX_VCPUS)


def estimate_init_s(record: InitRecord, memory_mb: int) -> float:
    """The recorded init scaled to ``memory_mb`` (module docstring), with HEADROOM."""
    busy_cores = record.cpu_ms / record.init_ms
    stretch = max(1.0, busy_cores / lambda_vcpus(memory_mb))
    return record.init_ms / 1000 * stretch * HEADROOM


def smallest_memory_that_fits(record: InitRecord) -> int | None:
    """The least memory (MB, a multiple of 64) at which the estimate fits on demand; None if none does."""
    for memory_mb in range(128, 10241, 64):
        if estimate_init_s(record, memory_mb) <= ON_DEMAND_INIT_S and record.peak_rss_mb * MEMORY_MARGIN <= memory_mb:
            return memory_mb
    return None


def check(record: InitRecord, *, name: str, memory_mb: int, snapstart: bool = False,
          provisioned_concurrency: int = 0, fix: str = TIER_FIX) -> Verdict:
    """May ``name`` run at ``memory_mb`` with this init? On demand only if it fits 10 s; SnapStart or PC always."""
    estimate = estimate_init_s(record, memory_mb)
    needed_mb = record.peak_rss_mb * MEMORY_MARGIN
    if needed_mb > memory_mb:
        # Out of memory is a failure whatever the init budget: no SnapStart or provisioned concurrency helps.
        return Verdict(estimate, False, False,
                       f"{name}: its process peaked at {record.peak_rss_mb:.0f} MB when measured; {memory_mb} MB "
                       f"leaves no room (at least {needed_mb:.0f} MB, x{MEMORY_MARGIN} margin): raise the memory")
    fits = estimate <= ON_DEMAND_INIT_S
    measured = (f"{name}: init measured {record.init_ms / 1000:.2f} s on {record.cpus} CPUs "
                f"({record.cpu_ms / record.init_ms:.1f} cores busy, {record.measured_at}), estimated "
                f"{estimate:.1f} s at {memory_mb} MB ({lambda_vcpus(memory_mb):.2f} vCPUs, x{HEADROOM} headroom)")
    if fits:
        return Verdict(estimate, True, True, f"{measured}: fits the on-demand init limit of {ON_DEMAND_INIT_S:.0f} s")
    if snapstart or provisioned_concurrency > 0:
        how = "SnapStart" if snapstart else f"provisioned concurrency ({provisioned_concurrency})"
        return Verdict(estimate, False, True,
                       f"{measured}: over the on-demand {ON_DEMAND_INIT_S:.0f} s, allowed with {how} (init runs "
                       "ahead of traffic, up to 15 minutes)")
    memory = smallest_memory_that_fits(record)
    more_memory = (f", or give its function at least {memory} MB of memory" if memory is not None
                   else "; no memory size is enough on demand")
    return Verdict(estimate, False, False,
                   f"{measured}: over the on-demand init limit of {ON_DEMAND_INIT_S:.0f} s, where Lambda would "
                   f"retry init inside the first request. {fix}{more_memory}.")


def read_record(artifact_dir: Path) -> InitRecord | None:
    """The init recorded in ``artifact_dir``'s manifest.json; None when the artifact or the record is absent."""
    try:
        data = json.loads((Path(artifact_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    record = data.get("init") if isinstance(data, dict) else None
    return InitRecord.from_dict(record) if record is not None else None


def check_served(models: tuple[tuple[str, int], ...], artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """`make template`'s check: each served model (name, memory_mb) runs on demand; raise for any that does not fit.

    A model is found by its name under ``artifacts_dir`` (what `make artifact NAME=...` builds); one
    without a built artifact or without a record is not checked (returned, so the caller can say so).
    """
    unchecked, refused = [], []
    for name, memory_mb in models:
        record = read_record(artifacts_dir / name)
        if record is None:
            unchecked.append(name)
            continue
        verdict = check(record, name=name, memory_mb=memory_mb, fix=SERVED_FIX)
        if not verdict.allowed:
            refused.append(verdict.message)
    if refused:
        raise InitBudgetError("\n".join(refused))
    return unchecked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path, help="an artifact directory whose manifest.json records its init")
    parser.add_argument("--memory-mb", type=int, default=3008, help="the function's MemorySize (default 3008)")
    parser.add_argument("--snapstart", action="store_true", help="the function runs on SnapStart")
    parser.add_argument("--provisioned-concurrency", type=int, default=0, help="its provisioned concurrency")
    args = parser.parse_args(argv)
    if not 128 <= args.memory_mb <= 10240:
        parser.error("--memory-mb must be from 128 to 10240 (Lambda's range)")
    record = read_record(args.artifact)
    if record is None:
        print(f"{args.artifact}: no recorded init in its manifest.json; rebuild it with `make artifact` "
              "(tools/build_artifact.py measures it)", file=sys.stderr)
        return 2
    verdict = check(record, name=args.artifact.name, memory_mb=args.memory_mb, snapstart=args.snapstart,
                    provisioned_concurrency=args.provisioned_concurrency)
    print(verdict.message, file=sys.stdout if verdict.allowed else sys.stderr)
    return 0 if verdict.allowed else 1


if __name__ == "__main__":
    raise SystemExit(main())
