"""Validation of request bodies and parameters; every failure is an ApiError with advice."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from ..config import TIERS, RuntimeConfig
from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError, quote

PREDICT_FIELDS = ("inputs",)
TIER_HEADER = "x-latency-tier"
EXAMPLE_BODY = '{"inputs": ["some text"]}'


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
            f"the body is not valid Unicode text: {_bad_characters(exc)}; "
            f"send it as UTF-8, like {EXAMPLE_BODY}, or base64 with isBase64Encoded true",
            code="invalid_body",
        ) from exc


def parse_predict_body(raw: bytes, config: RuntimeConfig) -> list[str]:
    """Turn a /predict body into the list of texts to embed, or raise an ApiError."""
    if len(raw) > config.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(raw)} bytes; the limit is {config.max_body_bytes} bytes "
            "(MAX_BODY_BYTES). Split the inputs over several requests.",
            code="body_too_large",
        )
    if not raw.strip():
        raise BadRequestError(f"request body is empty; send JSON like {EXAMPLE_BODY}", code="empty_body")
    try:
        payload: Any = json.loads(raw)
    except RecursionError as exc:
        raise BadRequestError(f"request body nests JSON arrays or objects too deeply to parse; "
                              f"send JSON like {EXAMPLE_BODY}", code="invalid_json") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON ({exc}); send UTF-8 JSON like {EXAMPLE_BODY}",
                              code="invalid_json") from exc
    except ValueError as exc:  # Python's limit on integer digits (4,300), hit while parsing
        raise BadRequestError(f"request body holds a number too long to parse; send JSON like {EXAMPLE_BODY}",
                              code="invalid_json") from exc
    if not isinstance(payload, dict):
        raise BadRequestError(
            f"request body must be a JSON object, got {type(payload).__name__}; send {EXAMPLE_BODY}",
            code="invalid_json",
        )
    unknown = sorted(set(payload) - set(PREDICT_FIELDS))
    if unknown:
        shown = ", ".join(quote(key, 40) for key in unknown[:5]) + (f" and {len(unknown) - 5} more"
                                                                    if len(unknown) > 5 else "")
        raise UnprocessableError(f"unknown field(s) {shown}; the only field is 'inputs'", code="unknown_field")
    if "inputs" not in payload:
        raise UnprocessableError('missing field "inputs": a string or a list of strings',
                                 code="missing_inputs")
    inputs = payload["inputs"]
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
        raise UnprocessableError('"inputs" must be a string or a list of strings', code="invalid_inputs")
    if not inputs:
        raise UnprocessableError('"inputs" is empty; send at least one string', code="empty_inputs")
    if len(inputs) > config.max_inputs:
        raise PayloadTooLargeError(
            f"{len(inputs)} inputs in one request; the limit is {config.max_inputs} (MAX_INPUTS). "
            "Split them over several requests.",
            code="too_many_inputs",
        )
    for index, text in enumerate(inputs):
        if len(text) > config.max_input_chars:
            raise PayloadTooLargeError(
                f"inputs[{index}] has {len(text)} characters; the limit is {config.max_input_chars} "
                "(MAX_INPUT_CHARS). The model reads at most 256 tokens anyway: shorten or chunk it.",
                code="input_too_long",
            )
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # A JSON escape like "\ud800" decodes to half a surrogate pair: no tokenizer
            # (nor any UTF-8 system) can take it.
            raise UnprocessableError(
                f"inputs[{index}] is not valid Unicode text: {_bad_characters(exc)}; send UTF-8 text, "
                "and write a character outside the Basic Multilingual Plane as itself or as a whole "
                'surrogate pair (\\ud83d\\ude80 for 🚀)',
                code="invalid_text",
            ) from exc
    return inputs


def _bad_characters(exc: UnicodeEncodeError) -> str:
    """Where a text stops being Unicode: the lone surrogate and its position."""
    return f"a lone surrogate {quote(exc.object[exc.start:exc.end], 20)} at character {exc.start}"


def requested_tier(headers: Mapping[str, str]) -> str | None:
    """The tier named by X-Latency-Tier (lowercased), None if absent; 400 if unknown."""
    value = next((v for k, v in headers.items() if k.lower() == TIER_HEADER), None)
    if value is None or not value.strip():
        return None
    tier = value.strip().lower()
    if tier not in TIERS:
        raise BadRequestError(
            f"X-Latency-Tier {quote(value)} is not a tier; use one of {', '.join(TIERS)} "
            "or leave the header out for standard",
            code="invalid_latency_tier",
        )
    return tier


def parse_hold_ms(raw: str | None, config: RuntimeConfig) -> int:
    """The /warm ``hold_ms`` query parameter: how long keep-warm asks the instance to stay busy."""
    if raw in (None, ""):
        return 0
    try:
        hold = int(str(raw))
    except ValueError as exc:
        raise BadRequestError(f"hold_ms={quote(raw)} is not an integer number of milliseconds; "
                              f"send 0..{config.max_warm_hold_ms}", code="invalid_parameter") from exc
    if not 0 <= hold <= config.max_warm_hold_ms:
        raise BadRequestError(
            f"hold_ms={hold} is out of range; use 0..{config.max_warm_hold_ms} (MAX_WARM_HOLD_MS)",
            code="invalid_parameter",
        )
    return hold
