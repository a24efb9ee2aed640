"""The local front door: what the template's Application Load Balancer does, on 127.0.0.1.

The ALB listener in ``template.yaml`` has one rule: ``X-Latency-Tier: premium``
(case-insensitive) forwards to the premium function's target group; every other
request goes to the default action, the standard function. This server applies the
same rule, turns each HTTP request into the ALB target-group event, invokes the tier's
function pool, and turns the result back into HTTP, with the ALB's own answers for
what never reaches a function (413 over 1 MB, 502 when the function fails).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlsplit

from inference_runtime.api.events import alb_request_event

from .emulator import InvokeError
from .lambda_service import FunctionPool
from .loopback import LoopbackServer, QuietHandler

TIER_HEADER = "X-Latency-Tier"
# The largest request body an ALB passes to a Lambda target.
ALB_MAX_BODY_BYTES = 1_000_000
# Past this, an oversized body is not even read: the connection is closed.
_DRAIN_LIMIT_BYTES = 16 * 1_000_000


def route_tier(headers: dict[str, str]) -> str:
    """The ALB listener rule: premium on the header, standard otherwise."""
    value = next((v for k, v in headers.items() if k.lower() == TIER_HEADER.lower()), "")
    return "premium" if value.strip().lower() == "premium" else "standard"


class FrontDoor(LoopbackServer):
    """An HTTP server routing by X-Latency-Tier to per-tier function pools."""

    def __init__(self, pools: dict[str, FunctionPool], port: int = 0) -> None:
        self.pools = pools
        door = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > ALB_MAX_BODY_BYTES:
                    # Read what the client is sending before answering: closing on an unread
                    # body resets the connection, and the client may never see the 413.
                    if length <= _DRAIN_LIMIT_BYTES:
                        self.rfile.read(length)
                    self.close_connection = True
                    return self.reply(413, {"Content-Type": "text/plain", "Connection": "close"},
                                      b"413 Request Entity Too Large")
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                tier = route_tier(headers)
                url = urlsplit(self.path)
                event = alb_request_event(self.command, url.path, headers=headers,
                                          query=dict(parse_qsl(url.query)), body=body, tier=tier)
                try:
                    result = door.pools[tier].invoke(event)
                except InvokeError as exc:
                    return self.reply(502, {"Content-Type": "application/json"}, json.dumps(
                        {"error": {"code": "bad_gateway", "message": str(exc)}}).encode())
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                self.reply(int(result.get("statusCode", 502)), result.get("headers") or {}, data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

        super().__init__(Handler, port)
