"""`make serve`: both tiers as fleets of emulator environments behind a front door on 127.0.0.1.

    curl -s localhost:8080/predict -d '{"inputs": ["hello"]}'
    curl -s localhost:8080/predict -H 'X-Latency-Tier: premium' -d '{"inputs": ["hello"]}'
    curl -s localhost:8080/warm
    curl -s localhost:8080/models/<name>/health        # with --models: a served model's own fleet

Each tier is a fleet with Lambda's lifecycle (tools/local/fleet): a request that finds
no idle environment starts one (a cold start), up to --max-environments; beyond that the
front door answers 503 (the Lambda API 429), as Lambda throttles. Idle environments are
reclaimed after a time drawn from the lifecycle model (tools/lifecycle_model.py; its
times divided by --compression), old ones recycled, premium's --premium-provisioned ones
initialised before traffic. Every lifecycle event goes to --log (JSON lines); the summary
is printed at exit. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from tools.lifecycle_model import DEFAULT_LIFECYCLE, IdleReclaim, LifecycleModel
from tools.template.models import ModelListError

from .deployment import LocalDeployment, ModelArtifactMissingError, ModelOptions, TierOptions, models_from_list
from .emulator import REPO_ROOT
from .fleet.errors import FleetConfigError
from .fleet.report import summary_table
from .frontdoor import PremiumAccess

DEFAULT_LOG = REPO_ROOT / "build" / "fleet" / "lifecycle.jsonl"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parse.add_argument("--port", type=int, default=8080)
    parse.add_argument("--premium-token", help="as the token in PremiumTokenSecret: the X-Premium-Token that opens "
                                                "premium (and gpu, when a GPU tier is served)")
    parse.add_argument("--premium-cidr", action="append",
                       help="as PremiumAllowedCidr, for premium and gpu (repeatable); default 127.0.0.0/8 unless "
                            "--premium-token is set")
    fleet = parse.add_argument_group("the fleets")
    fleet.add_argument("--max-environments", type=positive, default=4,
                       help="concurrency limit per tier, in environments (default 4)")
    fleet.add_argument("--standard-max-environments", type=positive, help="the standard tier's own limit")
    fleet.add_argument("--premium-max-environments", type=positive, help="the premium tier's own limit")
    fleet.add_argument("--premium-provisioned", type=non_negative, default=1,
                       help="premium environments initialised before traffic, never reclaimed (default 1)")
    fleet.add_argument("--standard-workers", type=positive, default=1,
                       help="worker processes per standard environment, as Lambda Managed Instances (default 1)")
    fleet.add_argument("--premium-workers", type=positive, default=1, help="the same for premium")
    fleet.add_argument("--snapstart", action="store_true",
                       help="start standard environments by forking one initialised process (SnapStart-like)")
    lifecycle = parse.add_argument_group("the lifecycle model (default: tools/lifecycle_model.py's)")
    lifecycle.add_argument("--compression", type=positive_float, default=1.0,
                           help="divide every lifecycle time by this (traffic replayed this much faster)")
    lifecycle.add_argument("--reclaim-s", type=positive_float, nargs=2, metavar=("LOW", "HIGH"),
                           help="reclaim idle environments after a time uniform in [LOW, HIGH] seconds instead")
    lifecycle.add_argument("--max-age-s", type=positive_float, help="recycle environments older than this")
    lifecycle.add_argument("--seed", type=int, default=0, help="seeds the reclaim times drawn")
    served = parse.add_argument_group("served models (a stack with several models: docs/rag.md)")
    served.add_argument("--models", type=Path, metavar="MODELS_JSON",
                        help="a model list (e.g. examples/rag/models.json): each model with a \"serve\" object gets a "
                             "fleet of its own (the standard tier's options) behind /models/<name>/, as the "
                             "template generated from that list routes it")
    served.add_argument("--model-artifact", action="append", default=[], metavar="NAME=DIR",
                        help="a served model's artifact (default build/artifacts/<name>, where `make artifact ... "
                             "NAME=<name>` builds it); repeatable")
    parse.add_argument("--log", type=Path, default=DEFAULT_LOG, help=f"lifecycle events (default {DEFAULT_LOG})")
    return parse


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def lifecycle_from(args: argparse.Namespace) -> LifecycleModel:
    reclaim = DEFAULT_LIFECYCLE.idle_reclaim
    if args.reclaim_s:
        low, high = sorted(args.reclaim_s)
        reclaim = IdleReclaim(early_probability=1.0, early_s=(low, high))
    return LifecycleModel(reclaim, args.max_age_s or DEFAULT_LIFECYCLE.max_age_s)


def tiers_from(args: argparse.Namespace) -> tuple[TierOptions, TierOptions]:
    try:
        standard = TierOptions(max_environments=args.standard_max_environments or args.max_environments,
                               workers=args.standard_workers, snapstart=args.snapstart)
        premium = TierOptions(max_environments=args.premium_max_environments or args.max_environments,
                              provisioned=args.premium_provisioned, workers=args.premium_workers)
    except FleetConfigError as exc:  # the fleet's own checks, with the flags that set them
        raise SystemExit(f"{exc} (--max-environments, --premium-max-environments, --premium-provisioned, "
                         "--standard-workers, --premium-workers)") from exc
    return standard, premium


def models_from(args: argparse.Namespace, standard: TierOptions) -> dict[str, ModelOptions]:
    """The served models of --models, each with the standard tier's fleet options (as the template: the standard
    tier's settings and warm count); none without --models."""
    artifacts: dict[str, Path] = {}
    for item in args.model_artifact:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise SystemExit(f"--model-artifact {item!r}: expected NAME=DIR")
        artifacts[name] = Path(folder)
    if not args.models:
        if artifacts:
            raise SystemExit("--model-artifact needs --models (the list that serves those models)")
        return {}
    try:
        return models_from_list(args.models, standard, artifacts)
    except (ModelListError, ModelArtifactMissingError) as exc:
        raise SystemExit(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cidrs = tuple(args.premium_cidr or (() if args.premium_token else ("127.0.0.0/8",)))
    access = PremiumAccess(token=args.premium_token, cidrs=cidrs)
    standard, premium = tiers_from(args)
    models = models_from(args, standard)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalDeployment(front_door_port=args.port, premium_access=access, standard=standard, premium=premium,
                         lifecycle=lifecycle_from(args), compression=args.compression, seed=args.seed,
                         log_path=args.log, models=models) as deployment:
        url = deployment.front_door.url
        model = deployment.lifecycle
        print(f"front door:     {url}  (X-Latency-Tier: premium -> PremiumFunction, else StandardFunction)")
        print(f"premium (gpu):  {', '.join(cidrs) or 'no address'}"
              f"{' and X-Premium-Token holders' if access.token else ''}; others get 403")
        functions = ["StandardFunction", "PremiumFunction", *(f"{m.id}Function" for m in models.values())]
        print(f"Lambda API:     {deployment.lambda_service.endpoint_url}  (boto3 endpoint_url; "
              f"functions {', '.join(functions)}; "
              "GET /local/fleet for the summary)")
        for tier, options in (("standard", standard), ("premium", premium)):
            print(f"{tier + ':':<15} up to {options.max_environments} environments"
                  f"{f' of {options.workers} workers' if options.workers > 1 else ''}"
                  f"{f', {options.provisioned} provisioned (initialised)' if options.provisioned else ''}"
                  f"{', SnapStart-like (forked)' if options.snapstart else ''}")
        for name, served in models.items():
            print(f"{'model:':<15} {url}/models/{name}/  -> {served.id}Function ({served.artifact_dir}; "
                  f"up to {served.options.max_environments} environments)")
        reclaim = model.idle_reclaim
        print(f"lifecycle:      idle reclaim {reclaim.early_probability:.0%} in {_span(reclaim.early_s)}, else in "
              f"{_span(reclaim.usual_s)}; recycled at {model.max_age_s:.0f} s; log {args.log}\n")
        print(f"  curl -s {url}/predict -d '{{\"inputs\": [\"hello\"]}}'")
        print(f"  curl -s {url}/predict -H 'X-Latency-Tier: premium' -d '{{\"inputs\": [\"hello\"]}}'")
        for name in models:
            print(f"  curl -s {url}/models/{name}/health")
        print(f"  curl -s {url}/warm\n\nCtrl-C to stop.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        summary = deployment.summary()
    print("\n" + summary_table(summary))
    args.log.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def _span(span: tuple[float, float]) -> str:
    return f"{span[0]:.0f}-{span[1]:.0f} s"


if __name__ == "__main__":
    raise SystemExit(main())
