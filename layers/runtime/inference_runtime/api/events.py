"""The events an Application Load Balancer sends to a Lambda target group: checked and read here.

``check_alb_event`` is the handler's first step: an event without that shape is answered
400 ``unsupported_event`` before anything reads it. ``inference_body`` reads what every
route that runs the model reads: its tier header and its body. Building an event (the
local front door's, keep-warm's ping) is ``lambda_shared.events``', re-exported here.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lambda_shared.events import LOCAL_TARGET_GROUP_ARN, alb_request_event, warm_event

from ..config import TIERS
from .errors import BadRequestError, quote
from .fields import json_type as _json_type

if TYPE_CHECKING:
    from .router import Request

__all__ = ["LOCAL_TARGET_GROUP_ARN", "alb_request_event", "check_alb_event", "inference_body", "warm_event"]
TIER_HEADER = "x-latency-tier"

# The fields of an ALB request event the function (its router, api/router.py) reads, by
# the shape they must have. Anything else in the event is ignored.
_REQUIRED_STRINGS = ("httpMethod", "path")
_STRING_MAPS = ("headers", "queryStringParameters")
_LIST_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")


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


def inference_body(request: Request) -> bytes:
    """The body's bytes, after the tier header's check (every route that runs the model)."""
    requested_tier(request.headers)
    return request_body(request.event.get("body"), is_base64=request.event.get("isBase64Encoded"))


def requested_tier(headers: Mapping[str, str]) -> str | None:
    """The tier X-Latency-Tier names (lowercased), None if absent; 400 if it names no tier.

    Not compared with this function's own tier: routing is the load balancer's (its
    listener rules send each tier's header to that tier's target group), and a request
    the rules sent here is served here. A header naming no tier is refused, though: it is
    a client's typo that the rules would silently route to standard.
    """
    value = headers.get(TIER_HEADER)
    if value is None or not value.strip():
        return None
    tier = value.strip().lower()
    if tier not in TIERS:
        raise BadRequestError(f"X-Latency-Tier {quote(value)} is not a tier; use one of {', '.join(TIERS)} "
                              "or leave the header out for standard", code="invalid_latency_tier")
    return tier


def request_body(body: str | None, *, is_base64: bool | None) -> bytes:
    """The bytes of an event's body: base64-decoded when the event says so, else UTF-8."""
    if is_base64:
        try:
            return base64.b64decode(body or "", validate=True)
        except ValueError as exc:  # binascii.Error, or a str that is not ASCII
            raise BadRequestError(f"the event says the body is base64 but it is not ({exc}); send standard "
                                  "base64 with padding, or isBase64Encoded false", code="invalid_body") from exc
    try:
        return (body or "").encode("utf-8")
    except UnicodeEncodeError as exc:
        # Only a hand-made event gets here: an ALB sends a body that is not UTF-8 as base64.
        raise BadRequestError(
            f"the body is not valid Unicode text: a lone surrogate {quote(exc.object[exc.start:exc.end], 20)} at "
            f'character {exc.start}; send it as UTF-8, like {{"inputs": ["some text"]}}, or base64 with '
            "isBase64Encoded true", code="invalid_body") from exc
