"""Keep-warm: hold N execution environments of each tier warm.

An EventBridge Scheduler schedule invokes this function every few minutes. For each
tier it sends N overlapping ``GET /warm`` invocations to the tier's alias. Each ping
asks the instance to stay busy for ``WARM_HOLD_MS``, so while one environment is busy
the next ping cannot reuse it and Lambda must route it to another: N pings in flight
at once keep N distinct environments alive. The summary (how many distinct instances
answered, how many of them were cold) goes to the log as one JSON line, and is the
function's result.

Dependencies: boto3 from the Lambda runtime, and the shared runtime layer for the
event shape and configuration (nothing heavy: no model code is imported).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from inference_runtime.api.events import warm_event
from inference_runtime.config import KeepWarmConfig, WarmTarget

logger = logging.getLogger("keepwarm")
logger.setLevel(logging.INFO)

CONFIG = KeepWarmConfig.from_env()
_client: Any = None


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


def summarise(target: WarmTarget, results: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in results if r["ok"]]
    instances = {r["instance"] for r in answered}
    return {
        "function": target.function,
        "requested": target.count,
        "answered": len(answered),
        "distinct_instances": len(instances),
        "cold": sum(1 for r in answered if r["cold"]),
        "init_types": sorted({r["init_type"] for r in answered if r.get("init_type")}),
        "errors": [r["error"] for r in results if not r["ok"]],
    }


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Fan out every tier's pings at once, then report per tier."""
    jobs = [(target, i) for target in CONFIG.targets for i in range(target.count)]
    if not jobs:
        summary: dict[str, Any] = {"tiers": {}, "note": "no targets: both warm counts are 0"}
    else:
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(lambda job: ping(job[0], CONFIG.hold_ms), jobs))
        summary = {"tiers": {
            target.tier: summarise(target, [r for (t, _), r in zip(jobs, results, strict=True) if t is target])
            for target in CONFIG.targets
        }}
    summary["hold_ms"] = CONFIG.hold_ms
    logger.info(json.dumps({"event": "keepwarm", **summary}))
    return summary
