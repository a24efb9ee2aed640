"""The events an Application Load Balancer sends to a Lambda target group: build and check them.

The local front door turns real HTTP requests into these, and keep-warm uses one to
ping ``/warm`` by direct invocation, so the functions see one event shape wherever a
request comes from. ``check_alb_event`` is the handler's first step: an event without
that shape is answered 400 ``unsupported_event`` before anything reads it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from .errors import BadRequestError, quote

# What a target group's ARN looks like; the handler never reads it, ALB always sends one.
LOCAL_TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/{tier}/local"

# The fields of an ALB request event the function (its router, api/router.py) reads, by
# the shape they must have. Anything else in the event is ignored.
_REQUIRED_STRINGS = ("httpMethod", "path")
_STRING_MAPS = ("headers", "queryStringParameters")
_LIST_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def check_alb_event(event: Any) -> dict[str, Any]:
    """``event`` if it has the shape of an ALB request event, else a BadRequestError
    (``unsupported_event``) that names the field that is off.

    Checked once, before routing: past this point every field the router and the routes
    read has the type an ALB sends, so an odd event is a 400 rather than an exception
    deep inside the router.
    """
    if not isinstance(event, dict):
        raise _unsupported(f"the event is {_json_type(event)}, not an object")
    for field in _REQUIRED_STRINGS:
        if field not in event:
            raise _unsupported(f'the field "{field}" is missing')
        if not isinstance(event[field], str):
            raise _unsupported(f'"{field}" must be a string, got {_json_type(event[field])}')
    for fields, valid, shape in ((_STRING_MAPS, _is_string, "an object of strings"),
                                 (_LIST_MAPS, _is_string_list, "an object of arrays of strings")):
        for field in fields:
            value = event.get(field)
            wrong = _first_wrong_entry(value, valid) if value is not None else None
            if wrong:
                raise _unsupported(f'"{field}" must be {shape} (or null), got {wrong}')
    if event.get("body") is not None and not isinstance(event["body"], str):
        raise _unsupported(f'"body" must be a string (or null), got {_json_type(event["body"])}')
    if event.get("isBase64Encoded") is not None and not isinstance(event["isBase64Encoded"], bool):
        raise _unsupported(f'"isBase64Encoded" must be true or false, got {_json_type(event["isBase64Encoded"])}')
    return event


def _unsupported(what: str) -> BadRequestError:
    return BadRequestError(
        f"this function expects an Application Load Balancer request event (see events/ for examples): {what}",
        code="unsupported_event",
    )


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _first_wrong_entry(value: Any, valid: Callable[[Any], bool]) -> str | None:
    """What is wrong with a mapping field (its type, or its first bad entry); None if nothing."""
    if not isinstance(value, dict):
        return _json_type(value)
    for key, item in value.items():
        if not isinstance(key, str):
            return f"a key that is {_json_type(key)}"
        if not valid(item):
            odd = [i for i in item if not isinstance(i, str)] if isinstance(item, list) else []
            what = f"an array holding {_json_type(odd[0])}" if odd else _json_type(item)
            return f"{what} under {quote(key, 40)}"
    return None


def alb_request_event(method: str, path: str, *, headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None, body: bytes | str | None = None,
                      tier: str = "standard") -> dict[str, Any]:
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


def warm_event(hold_ms: int = 0, *, tier: str = "standard") -> dict[str, Any]:
    """The GET /warm event keep-warm sends; ``hold_ms`` keeps concurrent pings overlapping."""
    query = {"hold_ms": str(hold_ms)} if hold_ms else {}
    return alb_request_event("GET", "/warm", headers={"user-agent": "keepwarm"}, query=query, tier=tier)
