"""The events an Application Load Balancer sends to a Lambda target group: checked and read here.

``check_alb_event`` is the handler's first step: an event without that shape is answered
400 ``unsupported_event`` before anything reads it. ``inference_body`` reads what every
route that runs the model reads: its tier header and its body. Building an event (the local
front door's, keep-warm's ping) is the shared core's job, ``lambda_shared.events``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from lambda_shared.tiers import TIER_HEADER, TIER_NAMES

from .errors import BadRequestError, quote
from .fields import json_type

if TYPE_CHECKING:
    from .router import Request

__all__ = ["check_alb_event", "inference_body"]

# The fields of an ALB request event the router reads that may be null or left out, by the
# shape they must have otherwise; "httpMethod" and "path" must be strings. The rest is ignored.
_OPTIONAL = {
    "headers": "an object of strings",
    "queryStringParameters": "an object of strings",
    "multiValueHeaders": "an object of arrays of strings",
    "multiValueQueryStringParameters": "an object of arrays of strings",
}


def check_alb_event(event: Any) -> dict[str, Any]:
    """``event`` if it has the shape of an ALB request event, else a BadRequestError
    (``unsupported_event``) that names the field that is off.

    Checked once, before routing: past this point every field the router and the routes
    read has the type an ALB sends, so an odd event is a 400 rather than an exception
    deep inside the router.
    """
    if not isinstance(event, dict):
        raise _unsupported(f"the event is {json_type(event)}, not an object")
    for field in ("httpMethod", "path"):
        if field not in event:
            raise _unsupported(f'the field "{field}" is missing')
        if not isinstance(event[field], str):
            raise _unsupported(f'"{field}" must be a string, got {json_type(event[field])}')
    for field, shape in _OPTIONAL.items():
        wrong = _first_wrong_entry(event[field], lists=field.startswith("multi")) if event.get(field) is not None \
            else None
        if wrong:
            raise _unsupported(f'"{field}" must be {shape} (or null), got {wrong}')
    if event.get("body") is not None and not isinstance(event["body"], str):
        raise _unsupported(f'"body" must be a string (or null), got {json_type(event["body"])}')
    if event.get("isBase64Encoded") is not None and not isinstance(event["isBase64Encoded"], bool):
        raise _unsupported(f'"isBase64Encoded" must be true or false, got {json_type(event["isBase64Encoded"])}')
    return event


def _unsupported(what: str) -> BadRequestError:
    return BadRequestError(
        f"this function expects an Application Load Balancer request event (see events/ for examples): {what}",
        code="unsupported_event",
    )


def _first_wrong_entry(value: Any, *, lists: bool) -> str | None:
    """What is wrong with a mapping field (its type, or its first bad entry); None if nothing."""
    if not isinstance(value, dict):
        return json_type(value)
    for key, item in value.items():
        if not isinstance(key, str):
            return f"a key that is {json_type(key)}"
        valid = isinstance(item, list) and all(isinstance(i, str) for i in item) if lists else isinstance(item, str)
        if not valid:
            odd = [i for i in item if not isinstance(i, str)] if isinstance(item, list) else []
            what = f"an array holding {json_type(odd[0])}" if odd else json_type(item)
            return f"{what} under {quote(key, 40)}"
    return None


def inference_body(request: Request) -> bytes:
    """The body's bytes, after the tier header's check (every route that runs the model).

    X-Latency-Tier is not compared with this function's own tier: routing is the load
    balancer's (its listener rules send each tier's header to that tier's target group), and
    a request the rules sent here is served here. A header naming no tier is refused, though:
    it is a client's typo that the rules would silently route to standard.
    """
    value = request.headers.get(TIER_HEADER.lower())
    if value is not None and value.strip() and value.strip().lower() not in TIER_NAMES:
        raise BadRequestError(f"X-Latency-Tier {quote(value)} is not a tier; use one of {', '.join(TIER_NAMES)} "
                              "or leave the header out for standard", code="invalid_latency_tier")
    return request_body(request.event.get("body"), is_base64=request.event.get("isBase64Encoded"))


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
