"""The PreTraffic hook: traffic moves to a new version only once its environments are warm.

SAM's ``DeploymentPreference`` gives each tier's alias a CodeDeploy deployment; before any
traffic shifts, CodeDeploy invokes this function (one per tier) with ``DeploymentId`` and
``LifecycleEventHookExecutionId``. It checks the version the template names
(``PRETRAFFIC_VERSION_ARN``, set to ``!Ref <Function>.Version``):

1. provisioned concurrency, if the version has any, polled until READY (FAILED, or not READY by
   the deadline: Failed);
2. ``PRETRAFFIC_WARM_COUNT`` overlapping ``GET /warm`` invocations of the version, each holding
   its environment ``WARM_HOLD_MS``, answered 200 with the model loaded by as many distinct
   environments; then one smoke ``POST /predict``, answered 200 with outputs of the same model;
3. the verdict (Succeeded or Failed) to CodeDeploy. Any error is a Failed verdict, reported.

Every step is a JSON log line (``event``: pretraffic_start, _provisioned, _ping, _smoke,
_verdict, _reported) with the instances that answered and whether each was cold.

Dependencies: boto3 from the Lambda runtime, the shared core (``lambda_shared``) from its layer,
and its own package (``pretraffic``) beside this file. No inference code is imported.
"""

from __future__ import annotations

import time
from typing import Any

from lambda_shared.env import CODEDEPLOY_ENDPOINT_URL
from lambda_shared.log import LazyLogger
from lambda_shared.settings import resolve
from pretraffic import HookConfig, HookEventError, run_hook

logger = LazyLogger("pretraffic", default_service="pretraffic")

#: Seconds kept back from the function's timeout for the verdict's report to CodeDeploy.
REPORT_MARGIN_S = 15.0
_codedeploy: Any = None


def lambda_client(config: HookConfig) -> Any:
    """A Lambda client for this invocation: its pool fits the N concurrent pings, its read timeout a cold init."""
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", endpoint_url=config.lambda_endpoint_url, config=Config(
        max_pool_connections=max(10, config.warm_count),
        # No retry of an invocation: a retried /warm could land on an environment another ping
        # already holds, and a failure is what the verdict must hear about.
        retries={"mode": "standard", "max_attempts": 1}, read_timeout=config.timeout_s, connect_timeout=5))


def codedeploy_client() -> Any:
    """The CodeDeploy client, created on first use (its endpoint alone: no other setting can stop a report)."""
    global _codedeploy
    if _codedeploy is None:
        import boto3
        from botocore.config import Config

        _codedeploy = boto3.client("codedeploy", endpoint_url=resolve(CODEDEPLOY_ENDPOINT_URL),
                                   config=Config(retries={"mode": "standard", "max_attempts": 5},
                                                 connect_timeout=5, read_timeout=10))
    return _codedeploy


def handler(event: Any, context: Any) -> dict[str, Any]:
    """CodeDeploy's BeforeAllowTraffic invocation: check the version, report, return the verdict."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    budget_s = remaining_ms() / 1000.0 - REPORT_MARGIN_S if callable(remaining_ms) else None
    try:
        return run_hook(event, config=HookConfig.from_env, lambda_client=lambda_client,
                        codedeploy_client=codedeploy_client, clock=time.monotonic, sleep=time.sleep,
                        budget_s=budget_s)
    except HookEventError as exc:
        # Not CodeDeploy's event (a hand-run `sam local invoke`?): no execution to report to.
        logger.error("not a CodeDeploy lifecycle event", extra={"event": "pretraffic_bad_event", "error": str(exc)})
        return {"status": "Failed", "reason": str(exc)}
