"""The whole template on loopback: both tiers' function pools, the Lambda API, the front door.

    with LocalDeployment() as deployment:
        deployment.front_door.url        # curl it, with or without X-Latency-Tier
        deployment.lambda_service.endpoint_url   # boto3 Lambda client endpoint_url

The premium pool is initialised before traffic, as provisioned concurrency does in the
cloud (the emulator can only run init as part of an invocation, so it sends one
/warm; that ping is the premium environment's first invocation).
"""

from __future__ import annotations

from inference_runtime.api.events import warm_event

from .emulator import check_runtime_ready
from .frontdoor import FrontDoor, PremiumAccess
from .lambda_service import FunctionPool, LambdaService


class LocalDeployment:
    def __init__(self, *, max_environments: int = 4, prewarm_premium: bool = True,
                 env: dict[str, str] | None = None, front_door_port: int = 0,
                 premium_access: PremiumAccess | None = None) -> None:
        check_runtime_ready()
        self.pools = {
            "standard": FunctionPool("StandardFunction", max_environments=max_environments, env=env),
            "premium": FunctionPool("PremiumFunction", max_environments=max_environments, env=env),
        }
        self.prewarm_premium = prewarm_premium
        self.lambda_service = LambdaService({"StandardFunction": self.pools["standard"],
                                             "PremiumFunction": self.pools["premium"]})
        self.front_door = FrontDoor(self.pools, port=front_door_port, premium_access=premium_access)

    def start(self) -> LocalDeployment:
        self.lambda_service.start()
        self.front_door.start()
        if self.prewarm_premium:
            self.pools["premium"].prewarm(warm_event(tier="premium"))
        return self

    def stop(self) -> None:
        self.front_door.stop()
        self.lambda_service.stop()

    def __enter__(self) -> LocalDeployment:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
