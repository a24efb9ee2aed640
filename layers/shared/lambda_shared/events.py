"""The Application Load Balancer request event, and keep-warm's ``GET /warm`` ping built from it.

The local front door turns real HTTP requests into these, and keep-warm sends the ping by
direct invocation, so the inference function sees one event shape wherever a request comes
from. Checking an event (a 400 for one of another shape) is the inference runtime's job
(``inference_runtime/api/events.py``); building one is here, where keep-warm can reach it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .emf import KEEP_WARM_ROUTE
from .tiers import DEFAULT_TIER

# What a target group's ARN looks like; the handler never reads it, ALB always sends one.
LOCAL_TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{tier}/local"


def alb_request_event(method: str, path: str, *, headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None, body: bytes | str | None = None,
                      tier: str = DEFAULT_TIER) -> dict[str, Any]:
    """An ALB target-group request event (multi-value headers off, as the template sets)."""
    if isinstance(body, str):
        # "surrogatepass": a str that holds lone surrogates becomes the bytes a client
        # would have sent for it, which are not UTF-8, so the body goes base64 as below.
        body = body.encode("utf-8", "surrogatepass")
    try:
        text_body = body.decode("utf-8") if body else ""
        is_base64 = False
    except UnicodeDecodeError:
        # ALB base64-encodes bodies that are not valid UTF-8 text; do the same.
        text_body, is_base64 = base64.b64encode(body or b"").decode("ascii"), True
    return {
        "requestContext": {"elb": {"targetGroupArn": LOCAL_TARGET_GROUP_ARN.format(tier=tier)}},
        "httpMethod": method.upper(),
        "path": path,
        "queryStringParameters": dict(query or {}),
        # ALB forwards header names lowercased when multi-value headers are off.
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


def warm_event(hold_ms: int = 0, *, tier: str = DEFAULT_TIER) -> dict[str, Any]:
    """The GET /warm event keep-warm sends; ``hold_ms`` keeps concurrent pings overlapping."""
    query = {"hold_ms": str(hold_ms)} if hold_ms else {}
    return alb_request_event("GET", KEEP_WARM_ROUTE, headers={"user-agent": "keepwarm"}, query=query, tier=tier)
