"""Invoke one function with an event file, like `sam local invoke`, without Docker.

    python -m tools.local.invoke StandardFunction -e events/predict.json
    python -m tools.local.invoke PremiumFunction -e events/predict-premium.json
    python -m tools.local.invoke KeepWarmFunction -e events/keepwarm-schedule.json

The function runs under the real Runtime Interface Emulator, cold (a fresh process).
Its logs go to stderr, its result to stdout. KeepWarmFunction needs the inference
functions to ping: they are started in a local Lambda service for the duration.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lambda_shared.env import KEEP_WARM_POLICY, LAMBDA_ENDPOINT_URL, WARM_HOLD_MS
from lambda_shared.tiers import keep_warm_tiers

from .deployment import LocalDeployment
from .emulator import FUNCTIONS, check_runtime_ready, start_function


def keepwarm_environment(deployment: LocalDeployment, standard: int, premium: int) -> dict[str, str]:
    """What template.yaml gives the keep-warm function, pointed at the local Lambda service.

    The per-tier variables are the tier table's (lambda_shared.tiers), for the tiers keep-warm pings.
    """
    arn = "arn:aws:lambda:us-east-1:000000000000:function:{}:live"
    counts = {"standard": standard, "premium": premium}
    env: dict[str, str] = {}
    for tier in keep_warm_tiers():
        assert tier.alias_env and tier.warm_count_env  # nosec B101 - keep_warm_tiers() have both
        env[tier.alias_env] = arn.format(f"{tier.name.capitalize()}Function")
        env[tier.warm_count_env] = str(counts[tier.name])
    return {
        **env,
        WARM_HOLD_MS: "250",
        LAMBDA_ENDPOINT_URL: deployment.lambda_service.endpoint_url,
        # No CloudWatch here, and nothing local may reach AWS: the policies that read the
        # tiers' metrics are tested against a loopback CloudWatch (test_keepwarm_policy.py).
        KEEP_WARM_POLICY: "fixed",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("function", choices=sorted(FUNCTIONS), help="logical id in template.yaml")
    parser.add_argument("-e", "--event", type=Path, required=True, help="event file, e.g. events/predict.json")
    parser.add_argument("--standard-warm-count", type=int, default=2, help="KeepWarmFunction only")
    parser.add_argument("--premium-warm-count", type=int, default=1, help="KeepWarmFunction only")
    args = parser.parse_args(argv)

    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read event {args.event}: {exc}")
    check_runtime_ready()

    if args.function == "KeepWarmFunction":
        with LocalDeployment(prewarm_premium=False) as deployment:
            env = keepwarm_environment(deployment, args.standard_warm_count, args.premium_warm_count)
            with start_function("KeepWarmFunction", env=env) as function:
                result = function.invoke(event)
                sys.stderr.write(function.logs())
    else:
        with start_function(args.function) as function:
            result = function.invoke(event)
            sys.stderr.write(function.logs())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
