"""Keep-warm: each round, a pre-warming policy decides how many environments of each tier to ping.

An EventBridge Scheduler schedule invokes this function every few minutes. For each tier
keep-warm pings (standard and premium: the tier table, ``lambda_shared.tiers``):

1. the policy (``KEEP_WARM_POLICY``: refresh, the default, chosen by measurement in
   ``tools/prewarm``; fixed; none) reads the tier's recent history from CloudWatch (one
   GetMetricData call: user requests and concurrency per minute) and decides how many
   environments to ping this round, at most the tier's warm count;
2. one JSON line per tier logs the decision (``event: keepwarm_decision``): policy, inputs,
   pings, reason, and whether it fell back;
3. the decided number of overlapping ``GET /warm`` invocations go to the tier's alias. Each
   asks its instance to stay busy for ``WARM_HOLD_MS``, so while one environment is busy
   the next ping cannot reuse it and Lambda must route it to another: N pings in flight
   at once keep N distinct environments alive.

If the metrics cannot be read, or the policy fails, the tier gets its fixed warm count and
the decision line says why: a round is never skipped for want of metrics. The summary (per
tier: how many distinct instances answered, how many were cold; and the decisions) goes to
the log as one JSON line (``event: keepwarm``), and is the function's result.

Dependencies: boto3 from the Lambda runtime, the shared core (``lambda_shared``) from its
layer, and its own package (``warming``) beside this file. No inference code is imported.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambda_shared.log import LazyLogger
from warming import KeepWarmConfig, PrewarmPolicy, make_policy
from warming.rounds import decide, ping, summarise

logger = LazyLogger("keepwarm", default_service="keepwarm")

CONFIG = KeepWarmConfig.from_env()
# One policy per target (a tier, or a served model's function), for the life of this environment
# (a policy may keep state between rounds).
POLICIES: dict[str, PrewarmPolicy] = {
    target.key: make_policy(CONFIG.policy, max_pings=target.count, interval_s=CONFIG.interval_s)
    for target in CONFIG.targets
}
_client: Any = None
_cloudwatch: Any = None


def lambda_client() -> Any:
    """The Lambda client, created on first use and reused by later invocations."""
    global _client
    if _client is None:
        import boto3
        from botocore.config import Config

        pings = max(1, sum(t.count for t in CONFIG.targets))
        _client = boto3.client(
            "lambda",
            endpoint_url=CONFIG.endpoint_url,
            config=Config(max_pool_connections=pings, retries={"mode": "standard", "max_attempts": 2},
                          read_timeout=60, connect_timeout=5),
        )
    return _client


def cloudwatch_client() -> Any:
    """The CloudWatch client, created on first use: short timeouts, since a late answer falls back anyway."""
    global _cloudwatch
    if _cloudwatch is None:
        import boto3
        from botocore.config import Config

        _cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=CONFIG.cloudwatch_endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": 2}, read_timeout=10, connect_timeout=3),
        )
    return _cloudwatch


def run_round(now_s: float) -> dict[str, Any]:
    """One round at ``now_s`` (epoch seconds): decide per tier, log each decision, ping every tier at once."""
    if not CONFIG.targets:
        summary: dict[str, Any] = {"tiers": {}, "decisions": {}, "note": "no targets: every warm count is 0",
                                   "hold_ms": CONFIG.hold_ms}
        logger.info("keep-warm round", extra={"event": "keepwarm", **summary})
        return summary
    decisions = {target.key: decide(POLICIES[target.key], target, now_s, cloudwatch=cloudwatch_client,
                                     namespace=CONFIG.metrics_namespace, history_minutes=CONFIG.history_minutes)
                 for target in CONFIG.targets}
    for target in CONFIG.targets:
        decision = decisions[target.key]
        model = {"model": target.model} if target.model else {}
        logger.log(logging.WARNING if decision.fallback else logging.INFO, "keep-warm decision", extra={
            "event": "keepwarm_decision", "tier": target.tier, **model, "function": target.function,
            **decision.as_log()})
    jobs = [(target, i) for target in CONFIG.targets for i in range(decisions[target.key].pings)]
    results: list[dict[str, Any]] = []
    if jobs:
        invoke = lambda_client().invoke
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(lambda job: ping(invoke, job[0], CONFIG.hold_ms), jobs))
    summary = {
        "tiers": {
            target.key: summarise(target, decisions[target.key].pings,
                                   [r for (t, _), r in zip(jobs, results, strict=True) if t is target])
            for target in CONFIG.targets
        },
        "decisions": {tier: decision.as_log() for tier, decision in decisions.items()},
        "policy": CONFIG.policy,
        "hold_ms": CONFIG.hold_ms,
    }
    logger.info("keep-warm round", extra={"event": "keepwarm", **summary})
    return summary


def handler(event: Any, context: Any) -> dict[str, Any]:
    """The schedule's entry: one round, now."""
    return run_round(time.time())
