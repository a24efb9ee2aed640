"""Wait for the version's provisioned concurrency: READY, or a Failed verdict.

Lambda allocates a version's provisioned environments in the background after the
configuration is put (Status IN_PROGRESS, then READY or FAILED with a StatusReason);
until READY, requests beyond the allocated ones run on demand, cold. So the hook polls
GetProvisionedConcurrencyConfig on the version itself until READY, bounded by a deadline.
A version with none configured (ProvisionedConcurrencyConfigNotFoundException) has nothing
to wait for. The client, the clock and the sleep are passed in (tests hand in fakes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambda_shared.log import LazyLogger

from .errors import DeadlineError, ProvisioningFailedError

logger = LazyLogger("pretraffic", default_service="pretraffic")

NOT_CONFIGURED = "ProvisionedConcurrencyConfigNotFoundException"


def _error_code(exc: Exception) -> str | None:
    # botocore's ClientError carries the service's error code here; read without importing botocore.
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def wait_provisioned(client: Any, function_name: str, qualifier: str, *, deadline: float,
                     clock: Callable[[], float], sleep: Callable[[float], None], poll_s: float) -> dict[str, Any]:
    """Poll until the version's provisioned concurrency is READY; what Lambda last said.

    Returns ``{"configured": False}`` when the version has none. Raises ProvisioningFailedError
    on FAILED, DeadlineError when ``clock()`` passes ``deadline`` first.
    """
    polls = 0
    while True:
        polls += 1
        try:
            config = client.get_provisioned_concurrency_config(FunctionName=function_name, Qualifier=qualifier)
        except Exception as exc:
            if _error_code(exc) == NOT_CONFIGURED:
                logger.info("no provisioned concurrency on this version", extra={
                    "event": "pretraffic_provisioned", "qualifier": qualifier, "configured": False})
                return {"configured": False}
            raise
        status = config.get("Status")
        state = {"configured": True, "status": status, "polls": polls,
                 "requested": config.get("RequestedProvisionedConcurrentExecutions"),
                 "allocated": config.get("AllocatedProvisionedConcurrentExecutions"),
                 "available": config.get("AvailableProvisionedConcurrentExecutions")}
        logger.info("provisioned concurrency", extra={"event": "pretraffic_provisioned", "qualifier": qualifier,
                                                      **state})
        if status == "READY":
            return state
        if status == "FAILED":
            raise ProvisioningFailedError(f"provisioned concurrency of version {qualifier} FAILED: "
                                          f"{config.get('StatusReason') or 'Lambda gave no reason'}")
        remaining = deadline - clock()
        if remaining <= 0:
            raise DeadlineError(f"provisioned concurrency of version {qualifier} still {status} after {polls} "
                                f"polls ({state['allocated']} of {state['requested']} allocated) at the "
                                "hook's deadline; raise PRETRAFFIC_TIMEOUT_S (and the hook's Timeout) or "
                                "lower the provisioned count")
        sleep(min(poll_s, remaining))
