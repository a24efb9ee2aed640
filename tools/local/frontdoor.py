"""The local front door: what the template's Application Load Balancer does, on 127.0.0.1.

The ALB listener in ``template.yaml`` sends ``X-Latency-Tier: premium``
(case-insensitive) to the premium function's target group when the request is allowed
premium (the ``X-Premium-Token`` header equals the token in the Secrets Manager secret
``PremiumTokenSecret`` names, or the client is in ``PremiumAllowedCidr``), answers other
premium requests itself with a JSON 403, does the same for ``X-Latency-Tier: gpu`` (the same
token or addresses, its own 403) when the stack has the GPU tier (GpuTier), and
sends everything else to the default action, the standard function. Which header value
names which tier is the tier table's (``lambda_shared.tiers``). A request for a tier this
front door has no fleet for (the GPU tier, locally, unless a fleet is given for it) is
answered 503 ``tier_not_deployed``, saying so, rather than served by another tier (before the
token is checked: without GpuTier the template has no GPU rule to refuse it). This server applies
the same rules (``PremiumAccess``, for premium and gpu; locally loopback clients are allowed by default, as if
``PremiumAllowedCidr`` were 127.0.0.0/8), turns each HTTP request into the ALB target-group
event, invokes the tier's function's fleet, and turns the result back into HTTP, with the ALB's own answers for
what never reaches a function (413 over 1 MB, 400 for a body it cannot read), or that the
function could not answer: 502 when it failed (an unhandled error, an environment that
died or timed out: the access log's ``LambdaUnhandled``), and 503 when Lambda throttled it
(every environment busy at the concurrency limit: ``LambdaThrottling``). The ELB guide
lists ``LambdaThrottling`` among a Lambda target's error reasons (counted as
``LambdaUserError``) without naming its status code, and its list of the codes the ALB
generates itself has no 429; of those, 503 (Service Unavailable, documented for a target
group that has nothing to serve the request) is the one that fits, and the one used here
(``THROTTLED_STATUS``). Both answers carry a JSON error body, as the function's own do.

A stack that serves further models (models.json's ``serve``: tools/template/models.py) has a listener
rule per model, ahead of the tier rules: ``/models/<name>`` and ``/models/<name>/...`` go to that
model's function whatever ``X-Latency-Tier`` says (served models have the standard tier only).
``models`` gives this front door a fleet per served model; the path reaches the function unchanged,
as the ALB passes it.

As an ALB does, it forwards every method to the function, whatever its name (the
function answers 405 or 404 for what it does not serve), and answers HEAD with the
function's status and headers but no body.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from lambda_shared.events import alb_request_event
from lambda_shared.tiers import TIER_HEADER, for_header

from .emulator import InvokeError, function_error
from .fleet import Fleet, ThrottledError
from .loopback import LoopbackServer, QuietHandler

# The largest request body an ALB passes to a Lambda target.
ALB_MAX_BODY_BYTES = 1_000_000
# Past this, an oversized body is not even read: the connection is closed.
_DRAIN_LIMIT_BYTES = 16 * 1_000_000
# The ALB's own error pages (for what it refuses itself) are small HTML documents.
_ALB_ERROR_PAGE = "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n" \
                  "</body>\r\n</html>\r\n"
_STATUS_LINES = {400: "400 Bad Request", 413: "413 Request Entity Too Large"}
# What the ALB answers when Lambda throttles its target (see the module's docstring).
THROTTLED_STATUS = 503


# The name of the header that carries the token (bandit takes the name for a password).
PREMIUM_TOKEN_HEADER = "X-Premium-Token"  # nosec B105
# template.yaml's PremiumTierRefusedRule and GpuTierRefusedRule answer with exactly these (a test
# keeps them equal).
PREMIUM_REFUSED_BODY = (
    '{"error": {"code": "premium_not_allowed", "message": "the premium tier needs the X-Premium-Token '
    "header with the stack's premium token (PremiumTokenSecret), or a source address in PremiumAllowedCidr; "
    'leave X-Latency-Tier out (or send standard) for the standard tier"}}'
)
GPU_REFUSED_BODY = (
    '{"error": {"code": "gpu_not_allowed", "message": "the GPU tier needs the X-Premium-Token header with '
    "the stack's premium token, or a source address in PremiumAllowedCidr"
    '"}}'
)
#: The tiers the listener opens only to PremiumAccess, and what it answers anyone else.
GATED_TIERS = {"premium": PREMIUM_REFUSED_BODY, "gpu": GPU_REFUSED_BODY}


@dataclass(frozen=True)
class PremiumAccess:
    """Who may use the premium and GPU tiers: the token of the template's PremiumTokenSecret, and PremiumAllowedCidr."""

    token: str | None = None
    cidrs: tuple[str, ...] = ("127.0.0.0/8",)

    def allows(self, headers: dict[str, str], client_ip: str) -> bool:
        sent = _header(headers, PREMIUM_TOKEN_HEADER)
        # ALB header conditions compare case-insensitively.
        if self.token and sent is not None and sent.strip().lower() == self.token.lower():
            return True
        address = ipaddress.ip_address(client_ip)
        return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in self.cidrs)


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def route_tier(headers: dict[str, str]) -> str:
    """Which tier the header asks for (the tier table's header values); standard for none or another value."""
    return for_header(_header(headers, TIER_HEADER)).name


def route_model(path: str, models: dict[str, Fleet] | dict[str, object]) -> str | None:
    """The served model whose listener rule matches ``path`` (``/models/<name>`` or below), else None."""
    for name in models:
        prefix = f"/models/{name}"
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None


class _Refused(Exception):
    """Raised while reading a request that the ALB answers itself (413, 400), never the function."""

    def __init__(self, status: int) -> None:
        super().__init__(_STATUS_LINES[status])
        self.status = status


class FrontDoor(LoopbackServer):
    """An HTTP server routing by X-Latency-Tier to per-tier fleets."""

    def __init__(self, fleets: dict[str, Fleet], port: int = 0,
                 premium_access: PremiumAccess | None = None, models: dict[str, Fleet] | None = None) -> None:
        self.fleets = fleets
        self.models = models or {}
        self.premium_access = premium_access or PremiumAccess()
        door = self

        class Handler(QuietHandler):
            # The Server header: http.server's own, except on the ALB's own answers.
            server_name: str | None = None

            def version_string(self) -> str:
                return self.server_name or super().version_string()

            def __getattr__(self, name: str) -> Any:
                # http.server answers 501 to a method without a do_<METHOD>; an ALB
                # forwards any method, so every do_<anything> is the one handler.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def handle_expect_100(self) -> bool:
                # Refuse an oversized body before the client sends it (curl waits for
                # "100 Continue" before a large upload), as the ALB does.
                if self._declared_length() > ALB_MAX_BODY_BYTES:
                    self._refuse(413)
                    return False
                return super().handle_expect_100()

            def _handle(self) -> None:
                try:
                    body = self._read_body()
                except _Refused as refused:
                    return self._refuse(refused.status)
                headers = {k: v for k, v in self.headers.items()}
                url = urlsplit(self.path)
                model = route_model(url.path, door.models)
                if model is not None:
                    return self._forward(door.models[model], "standard", f"model {model}'s", headers, url, body)
                tier = route_tier(headers)
                fleet = door.fleets.get(tier)
                if fleet is None:
                    return self._error(503, "tier_not_deployed", f"{TIER_HEADER} {tier} asks for the {tier} tier, "
                                       "which this deployment does not have (the template's GpuTier parameter "
                                       "deploys the GPU tier); leave the header out for the standard tier")
                refusal = GATED_TIERS.get(tier)
                if refusal is not None and not door.premium_access.allows(headers, self.client_address[0]):
                    return self.reply(403, {"Content-Type": "application/json"}, refusal.encode())
                self._forward(fleet, tier, f"the {tier} tier's", headers, url, body)

            def _forward(self, fleet: Fleet, tier: str, whose: str, headers: dict[str, str], url: SplitResult,
                         body: bytes) -> None:
                """The target group's part: the ALB event to ``fleet``, its answer back as HTTP."""
                event = alb_request_event(self.command, url.path, headers=headers,
                                          query=dict(parse_qsl(url.query)), body=body, tier=tier)
                try:
                    invocation = fleet.invoke_raw(json.dumps(event).encode())
                except ThrottledError as exc:
                    return self._error(THROTTLED_STATUS, "lambda_throttled", f"{whose} function was "
                                       f"throttled: {exc}")
                except InvokeError as exc:
                    return self._error(502, "bad_gateway", str(exc))
                try:
                    result = json.loads(invocation.payload or b"null")
                except ValueError:
                    result = None
                if invocation.function_error or not isinstance(result, dict):
                    error = function_error(invocation.payload) or {}
                    detail = f"{error.get('errorType', 'invalid response')}: {error.get('errorMessage', '')}"
                    return self._error(502, "bad_gateway", f"{whose} function failed ({detail})")
                payload = result.get("body") or ""
                data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
                self.reply(int(result.get("statusCode", 502)), result.get("headers") or {}, data)

            def _error(self, status: int, code: str, message: str) -> None:
                self.reply(status, {"Content-Type": "application/json"},
                           json.dumps({"error": {"code": code, "message": message}}).encode())

            def reply(self, status: int, headers: dict[str, Any], data: bytes) -> None:
                if self.command != "HEAD":
                    return super().reply(status, headers, data)
                # HEAD: the status and headers a GET would get (Content-Length included), no body.
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, str(value))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()

            def _declared_length(self) -> int:
                value = self.headers.get("Content-Length")
                if value is None:
                    return 0
                value = value.strip()
                if not (value.isascii() and value.isdigit()):  # "²".isdigit() too, but int() refuses it
                    return -1
                return int(value)

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    return self._read_chunked()
                length = self._declared_length()
                if length < 0:  # not a number: the ALB cannot tell where the body ends
                    raise _Refused(400)
                if length > ALB_MAX_BODY_BYTES:
                    # Read what the client is sending before answering: closing on an unread
                    # body resets the connection, and the client may never see the 413.
                    if length <= _DRAIN_LIMIT_BYTES:
                        self.rfile.read(length)
                    raise _Refused(413)
                return self.rfile.read(length) if length else b""

            def _read_chunked(self) -> bytes:
                """A chunked body, refused with 413 once it passes the limit (no Content-Length to tell)."""
                chunks: list[bytes] = []
                total = 0
                while True:
                    line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                    try:
                        size = int(line, 16)
                    except ValueError:
                        raise _Refused(400) from None
                    if size == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        break
                    total += size
                    if total > _DRAIN_LIMIT_BYTES:
                        raise _Refused(413)
                    chunk = self.rfile.read(size)
                    self.rfile.readline(3)  # the CRLF after the chunk
                    if total <= ALB_MAX_BODY_BYTES:
                        chunks.append(chunk)
                if total > ALB_MAX_BODY_BYTES:
                    raise _Refused(413)
                return b"".join(chunks)

            def _refuse(self, status: int) -> None:
                """The ALB's own answer: its HTML error page, and the connection closed."""
                self.close_connection = True
                self.server_name = "awselb/2.0"
                page = _ALB_ERROR_PAGE.format(status=_STATUS_LINES[status]).encode()
                self.reply(status, {"Content-Type": "text/html", "Connection": "close"}, page)

        super().__init__(Handler, port)
