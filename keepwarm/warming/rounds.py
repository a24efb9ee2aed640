"""One keep-warm round for one tier: decide how many to ping (or fall back), ping, sum up.

The clients are passed in (``cloudwatch``, ``invoke``), so tests hand in ones pointed at
loopback servers, or fakes that fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lambda_shared.events import warm_event

from .base import Decision, PrewarmPolicy
from .cloudwatch import MetricsSource, read_history
from .settings import WarmTarget


def decide(policy: PrewarmPolicy, target: WarmTarget, now_s: float, *, cloudwatch: Callable[[], Any],
           namespace: str, history_minutes: int) -> Decision:
    """The policy's decision for one tier this round; the tier's fixed count when it cannot decide.

    ``cloudwatch`` makes the CloudWatch client, called only when the policy reads history.
    Any failure, reading the history or deciding from it, falls back: a round with the fixed
    count beats no round, and the decision's ``reason`` says what failed.
    """
    history = None
    try:
        if policy.reads_history:
            source = MetricsSource.for_alias(target.function, tier=target.tier, service=target.service,
                                             namespace=namespace)
            history = read_history(cloudwatch(), source, now_s=now_s, minutes=history_minutes)
        return policy.decide(history, now_s)
    except Exception as exc:  # never fail the schedule for a decision
        what = "metrics unavailable" if history is None and policy.reads_history else "policy failed"
        return Decision(policy.name, target.count, f"{what} ({type(exc).__name__}: {exc}); "
                        f"sent the fixed count {target.count}", {}, fallback=True)


def ping(invoke: Callable[..., Any], target: WarmTarget, hold_ms: int) -> dict[str, Any]:
    """One /warm invocation of the target alias; returns what the instance said, or the error."""
    try:
        response = invoke(FunctionName=target.function, InvocationType="RequestResponse",
                          Payload=json.dumps(warm_event(hold_ms, tier=target.tier)).encode())
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
    """What one tier's pings found: how many answered, on how many distinct instances, how many cold."""
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
