"""Keep-warm: each round, a pre-warming policy decides how many environments of each tier to ping.

An EventBridge Scheduler schedule invokes this function every few minutes. For each tier:

1. the policy (``KEEP_WARM_POLICY``; the default was chosen by measurement, see
   ``tools/prewarm``) reads the tier's recent history from CloudWatch (one GetMetricData
   call: user requests, invocations, concurrency per minute) and decides how many
   environments to ping this round, at most the tier's warm count;
2. one JSON line per tier logs the decision: policy, inputs, pings, reason;
3. the decided number of overlapping ``GET /warm`` invocations go to the tier's alias. Each
   asks its instance to stay busy for ``WARM_HOLD_MS``, so while one environment is busy
   the next ping cannot reuse it and Lambda must route it to another: N pings in flight
   at once keep N distinct environments alive.

If the metrics cannot be read (or the policy fails), the tier gets its fixed warm count and
the decision line says why: a round is never skipped for want of metrics. The fixed policy
(``KEEP_WARM_POLICY=fixed``) reads nothing and pings the warm count, as before the policies.
The summary (per tier: how many distinct instances answered, how many were cold; and the
decisions) goes to the log as one JSON line, and is the function's result.

Dependencies: boto3 from the Lambda runtime, and the shared runtime layer for the event
shape, configuration and the policies (standard library only: no model code is imported).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from inference_runtime.api.events import warm_event
from inference_runtime.config import KeepWarmConfig, WarmTarget
from inference_runtime.prewarm import Decision, MetricsSource, PrewarmPolicy, make_policy, read_history

logger = logging.getLogger("keepwarm")
logger.setLevel(logging.INFO)

CONFIG = KeepWarmConfig.from_env()
# One policy per tier, for the life of this environment: the learned policy keeps its fitted
# weights between rounds.
POLICIES: dict[str, PrewarmPolicy] = {
    target.tier: make_policy(CONFIG.policy, max_pings=target.count, interval_s=CONFIG.interval_s)
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


def decide(target: WarmTarget, now_s: float) -> Decision:
    """The policy's decision for one tier this round; the fixed count when it cannot decide."""
    policy = POLICIES[target.tier]
    history = None
    try:
        if policy.reads_history:
            source = MetricsSource.for_alias(target.function, tier=target.tier, service=target.service,
                                             namespace=CONFIG.metrics_namespace)
            history = read_history(cloudwatch_client(), source, now_s=now_s, minutes=CONFIG.history_minutes)
        return policy.decide(history, now_s)
    except Exception as exc:  # never fail the schedule: a round with the fixed count beats no round
        what = "metrics unavailable" if history is None and policy.reads_history else "policy failed"
        return Decision(policy.name, target.count, f"{what} ({type(exc).__name__}: {exc}); "
                        f"sent the fixed count {target.count}", {}, fallback=True)


def ping(target: WarmTarget, hold_ms: int) -> dict[str, Any]:
    """One /warm invocation of the target alias; returns what the instance said, or the error."""
    try:
        response = lambda_client().invoke(
            FunctionName=target.function,
            InvocationType="RequestResponse",
            Payload=json.dumps(warm_event(hold_ms, tier=target.tier)).encode(),
        )
        result = json.loads(response["Payload"].read() or b"null")
        if "FunctionError" in response or not isinstance(result, dict):
            return {"ok": False, "error": f"function error: {result}"}
        body = json.loads(result.get("body") or "{}")
        if result.get("statusCode") != 200:
            return {"ok": False, "error": f"HTTP {result.get('statusCode')}: {body.get('error', body)}"}
        return {"ok": True, "instance": body.get("instance"), "cold": bool(body.get("first_invocation")),
                "init_type": body.get("init_type")}
    except Exception as exc:  # one failed ping must not hide the others' results
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def summarise(target: WarmTarget, requested: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in results if r["ok"]]
    instances = {r["instance"] for r in answered}
    return {
        "function": target.function,
        "requested": requested,
        "answered": len(answered),
        "distinct_instances": len(instances),
        "cold": sum(1 for r in answered if r["cold"]),
        "init_types": sorted({r["init_type"] for r in answered if r.get("init_type")}),
        "errors": [r["error"] for r in results if not r["ok"]],
    }


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Decide per tier, log each decision, fan out every tier's pings at once, then report per tier."""
    if not CONFIG.targets:
        summary: dict[str, Any] = {"tiers": {}, "decisions": {}, "note": "no targets: both warm counts are 0"}
        summary["hold_ms"] = CONFIG.hold_ms
        logger.info(json.dumps({"event": "keepwarm", **summary}))
        return summary
    now_s = time.time()
    decisions = {target.tier: decide(target, now_s) for target in CONFIG.targets}
    for target in CONFIG.targets:
        logger.info(json.dumps({"event": "keepwarm_decision", "tier": target.tier, "function": target.function,
                                **decisions[target.tier].as_log()}))
    jobs = [(target, i) for target in CONFIG.targets for i in range(decisions[target.tier].pings)]
    results: list[dict[str, Any]] = []
    if jobs:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(lambda job: ping(job[0], CONFIG.hold_ms), jobs))
    summary = {
        "tiers": {
            target.tier: summarise(target, decisions[target.tier].pings,
                                   [r for (t, _), r in zip(jobs, results, strict=True) if t is target])
            for target in CONFIG.targets
        },
        "decisions": {tier: decision.as_log() for tier, decision in decisions.items()},
        "policy": CONFIG.policy,
    }
    summary["hold_ms"] = CONFIG.hold_ms
    logger.info(json.dumps({"event": "keepwarm", **summary}))
    return summary
