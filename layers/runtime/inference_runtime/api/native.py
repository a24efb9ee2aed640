"""This project's own routes: ``POST /predict`` in the loaded model's task's shape, ``/warm``, ``/health``.

Each takes the request, the model (``model.Model``) and the limits, and answers a dict.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

from ..artifact.spec import Task
from ..config import TIERS
from ..lifecycle import init_type, instance_id
from ..log import logger
from .errors import BadRequestError, ModelUnavailableError, quote
from .model import Limits, Model
from .router import Request
from .table import PREDICT

TIER_HEADER = "x-latency-tier"


def environment(request: Request, limits: Limits) -> dict[str, Any]:
    return {"instance": instance_id(), "cold_start": request.context.get("cold_start", False), "tier": limits.tier}


def predict(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    # The native route takes the body shape of the loaded model's task:
    #   embeddings      {"inputs": [...]}                        -> [[float, ...], ...]
    #   classification  {"inputs": [...], "top_k": k?}          -> [[{"label", "score"}, ...], ...]
    #   reranking       {"query", "documents": [...], "top_n"?}  -> [{"index", "score"}, ...], best first
    raw = inference_body(request)
    task = model.describe().spec.task  # loads the model if needed: 503 with the reason when it cannot
    body = PREDICT[task].parse(raw, limits)
    started = time.perf_counter()
    outputs: list[Any]
    if task is Task.CLASSIFICATION:
        texts = body["inputs"]
        outputs = model.classify(texts, top_k=body["top_k"])
    elif task is Task.RERANKING:
        texts = body["documents"]
        scores = model.rerank(body["query"], texts)
        best_first = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:body["top_n"]]
        outputs = [{"index": i, "score": scores[i]} for i in best_first]
    else:
        texts = body["inputs"]
        outputs = model.embed(texts)
    logger.debug("predict", extra={"task": task.value, "inputs": len(texts),
                                   "inference_ms": round((time.perf_counter() - started) * 1000, 3)})
    return {"outputs": outputs, **model.model_identity(), **environment(request, limits)}


def warm(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    # Cheap by design: no inference. keep-warm passes hold_ms so that its N concurrent
    # pings overlap and land on N distinct environments.
    hold_ms = parse_hold_ms(request.query.get("hold_ms"), limits)
    if not model.ready:
        model.load()  # raises ModelNotReadyError (503) with the reason
    if hold_ms:
        time.sleep(hold_ms / 1000.0)
    context = environment(request, limits)
    return {"status": "warm", "model_loaded": True, **model.model_identity(), **context,
            "first_invocation": context["cold_start"], "init_type": init_type(), "init": model.init_summary()}


def health(request: Request, model: Model, limits: Limits) -> dict[str, Any]:
    if not model.ready:
        raise ModelUnavailableError(f"not ready: {model.error or 'the model has not been loaded yet'}",
                                    details={"instance": instance_id(), "tier": limits.tier})
    return {"status": "ready", **model.model_identity(), "instance": instance_id(), "tier": limits.tier,
            "init_type": init_type(), "init": model.init_summary()}


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


def parse_hold_ms(raw: str | None, limits: Limits) -> int:
    """The /warm ``hold_ms`` query parameter: how long keep-warm asks the instance to stay busy."""
    if raw in (None, ""):
        return 0
    try:
        hold = int(str(raw))
    except ValueError as exc:
        raise BadRequestError(f"hold_ms={quote(raw)} is not an integer number of milliseconds; "
                              f"send 0..{limits.max_warm_hold_ms}", code="invalid_parameter") from exc
    if not 0 <= hold <= limits.max_warm_hold_ms:
        raise BadRequestError(f"hold_ms={hold} is out of range; use 0..{limits.max_warm_hold_ms} (MAX_WARM_HOLD_MS)",
                              code="invalid_parameter")
    return hold
