"""One CodeDeploy BeforeAllowTraffic lifecycle event: check the new version, then report the verdict.

The order: (a) the version's provisioned concurrency READY, if it has any; (b) N overlapping
/warm invocations answered by N distinct environments, then a smoke /predict; (c) the verdict
to CodeDeploy (PutLifecycleEventHookExecutionStatus). Any exception on the way is a Failed
verdict, reported like a Succeeded one: CodeDeploy waits up to an hour for a hook that never
reports, and the deployment should fail in seconds instead. Every step is one JSON log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from lambda_shared.log import LazyLogger

from .checks import served_task, smoke_predict, warm_environments
from .errors import CheckFailedError, DeadlineError, HookEventError
from .provisioned import wait_provisioned
from .settings import SMOKE_BODIES, HookConfig

logger = LazyLogger("pretraffic", default_service="pretraffic")

SUCCEEDED, FAILED = "Succeeded", "Failed"


@dataclass(frozen=True)
class LifecycleEvent:
    """What CodeDeploy sends a hook: the deployment, and the execution the verdict is for."""

    deployment_id: str
    execution_id: str

    @classmethod
    def parse(cls, event: Any) -> LifecycleEvent:
        if not isinstance(event, dict):
            raise HookEventError(f"the event is a {type(event).__name__}, not CodeDeploy's object "
                                 '{"DeploymentId": ..., "LifecycleEventHookExecutionId": ...}')
        missing = [key for key in ("DeploymentId", "LifecycleEventHookExecutionId")
                   if not isinstance(event.get(key), str) or not event.get(key)]
        if missing:
            raise HookEventError(f"the event has no {' or '.join(missing)}: this function is CodeDeploy's "
                                 f"BeforeAllowTraffic hook and only CodeDeploy invokes it (got keys {sorted(event)})")
        return cls(event["DeploymentId"], event["LifecycleEventHookExecutionId"])


@dataclass
class Verdict:
    """The outcome, as logged and returned: the status CodeDeploy hears and what was found."""

    status: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, **self.details}


def check_version(config: HookConfig, lambda_client: Any, *, deadline: float, clock: Callable[[], float],
                  sleep: Callable[[float], None]) -> dict[str, Any]:
    """Steps (a) and (b): what the version's environments said; raises PreTrafficError (or any error) if not ready."""
    found: dict[str, Any] = {"version": config.version_arn, "tier": config.tier, "warm_count": config.warm_count}
    if config.wait_provisioned:
        found["provisioned"] = wait_provisioned(lambda_client, config.function_name, config.qualifier,
                                                deadline=deadline, clock=clock, sleep=sleep, poll_s=config.poll_s)
    warm = warm_environments(lambda_client.invoke, config.version_arn, tier=config.tier, count=config.warm_count,
                             hold_ms=config.hold_ms)
    found["warm"] = warm
    body = config.smoke_body
    if body is None:
        found["task"] = served_task(lambda_client.invoke, config.version_arn, tier=config.tier)
        if found["task"] not in SMOKE_BODIES:
            raise CheckFailedError(f"no smoke /predict body for task {found['task']!r}; set PRETRAFFIC_SMOKE_BODY")
        body = SMOKE_BODIES[found["task"]]
    found["smoke"] = smoke_predict(lambda_client.invoke, config.version_arn, tier=config.tier,
                                   body=body, model=warm["models"][0])
    return found


def _within(seconds: float, check: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``check(*args, **kwargs)``, or DeadlineError after ``seconds``: a /warm or smoke call that hangs
    (each may wait up to the function's timeout) must not outlive the hook, which would then end
    with no verdict and leave CodeDeploy waiting an hour. The check's thread is left to Lambda's
    end of the invocation."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pretraffic-check")
    try:
        return pool.submit(check, *args, **kwargs).result(timeout=max(0.0, seconds))
    except FutureTimeout:
        raise DeadlineError(f"the checks did not finish within the hook's {seconds:.0f} s") from None
    finally:
        pool.shutdown(wait=False)


def run_hook(event: Any, *, config: Callable[[], HookConfig], lambda_client: Callable[[HookConfig], Any],
             codedeploy_client: Callable[[], Any], clock: Callable[[], float],
             sleep: Callable[[float], None], budget_s: float | None = None) -> dict[str, Any]:
    """Check the version and report the verdict for ``event``; returns the verdict.

    ``config`` and the Lambda client are made here, inside the try, so that a bad setting or a
    client that cannot be made is a Failed verdict too; the CodeDeploy client needs no setting
    but its endpoint, so a verdict can be reported whatever else is wrong. ``budget_s`` is what
    the function's own timeout leaves (the handler passes the context's remaining time less a
    margin for the report): the deadline is the sooner of it and PRETRAFFIC_TIMEOUT_S.
    """
    started = clock()
    lifecycle = LifecycleEvent.parse(event)
    settings: HookConfig | None = None
    try:
        settings = config()
        limit = settings.timeout_s if budget_s is None else min(settings.timeout_s, budget_s)
        logger.info("checking the new version before traffic", extra={
            "event": "pretraffic_start", "deployment_id": lifecycle.deployment_id, "version": settings.version_arn,
            "tier": settings.tier, "warm_count": settings.warm_count, "hold_ms": settings.hold_ms,
            "deadline_s": round(limit, 3)})
        found = _within(limit - (clock() - started), check_version, settings, lambda_client(settings),
                        deadline=started + limit, clock=clock, sleep=sleep)
        verdict = Verdict(SUCCEEDED, f"{settings.warm_count} environment(s) warm and the smoke /predict answered",
                          found)
    except Exception as exc:  # every failure is a verdict: CodeDeploy must hear one
        verdict = Verdict(FAILED, f"{type(exc).__name__}: {exc}",
                          {"version": settings.version_arn if settings else None})
    verdict.details.update(deployment_id=lifecycle.deployment_id, execution_id=lifecycle.execution_id,
                           elapsed_s=round(clock() - started, 3))
    logger.log(logging.INFO if verdict.status == SUCCEEDED else logging.ERROR, "pre-traffic verdict",
               extra={"event": "pretraffic_verdict", **verdict.as_dict()})
    try:
        codedeploy_client().put_lifecycle_event_hook_execution_status(
            deploymentId=lifecycle.deployment_id, lifecycleEventHookExecutionId=lifecycle.execution_id,
            status=verdict.status)
    except Exception:
        # Nothing else can tell CodeDeploy: fail the invocation loudly, so Lambda's own retry of an
        # asynchronous invocation runs the hook again, and the error is in the function's metrics.
        logger.exception("could not report the verdict to CodeDeploy", extra={
            "event": "pretraffic_report_failed", "status": verdict.status, "deployment_id": lifecycle.deployment_id})
        raise
    logger.info("verdict reported", extra={"event": "pretraffic_reported", "status": verdict.status,
                                           "deployment_id": lifecycle.deployment_id})
    return verdict.as_dict()
