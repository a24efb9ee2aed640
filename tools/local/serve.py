"""`make serve`: both tiers under the Lambda runtime emulator behind a front door on 127.0.0.1.

    curl -s localhost:8080/predict -d '{"inputs": ["hello"]}'
    curl -s localhost:8080/predict -H 'X-Latency-Tier: premium' -d '{"inputs": ["hello"]}'
    curl -s localhost:8080/warm

Each tier scales out to --max-environments emulator processes under concurrent load,
as Lambda does. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import signal
import threading

from .deployment import LocalDeployment
from .frontdoor import PremiumAccess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-environments", type=int, default=2, help="per tier")
    parser.add_argument("--premium-token", help="as PremiumAccessToken: X-Premium-Token that opens premium")
    parser.add_argument("--premium-cidr", action="append",
                        help="as PremiumAllowedCidr (repeatable); default 127.0.0.0/8 unless --premium-token is set")
    args = parser.parse_args(argv)
    cidrs = tuple(args.premium_cidr or (() if args.premium_token else ("127.0.0.0/8",)))
    access = PremiumAccess(token=args.premium_token, cidrs=cidrs)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalDeployment(front_door_port=args.port, max_environments=args.max_environments,
                         premium_access=access) as deployment:
        url = deployment.front_door.url
        print(f"front door:     {url}  (X-Latency-Tier: premium -> PremiumFunction, else StandardFunction)")
        print(f"premium for:    {', '.join(cidrs) or 'no address'}"
              f"{' and X-Premium-Token holders' if access.token else ''}; others get 403")
        print(f"Lambda API:     {deployment.lambda_service.endpoint_url}  (boto3 endpoint_url; "
              "functions StandardFunction, PremiumFunction)")
        print("premium is initialised (provisioned concurrency); standard starts cold on its first request.\n")
        print(f"  curl -s {url}/predict -d '{{\"inputs\": [\"hello\"]}}'")
        print(f"  curl -s {url}/predict -H 'X-Latency-Tier: premium' -d '{{\"inputs\": [\"hello\"]}}'")
        print(f"  curl -s {url}/warm\n\nCtrl-C to stop.", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
