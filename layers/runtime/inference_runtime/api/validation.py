"""Validation of request bodies and parameters; every failure is an ApiError with advice."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..config import TIERS, RuntimeConfig
from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError

PREDICT_FIELDS = ("inputs",)
TIER_HEADER = "x-latency-tier"


def parse_predict_body(raw: bytes, config: RuntimeConfig) -> list[str]:
    """Turn a /predict body into the list of texts to embed, or raise an ApiError."""
    if len(raw) > config.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(raw)} bytes; the limit is {config.max_body_bytes} bytes "
            "(MAX_BODY_BYTES). Split the inputs over several requests.",
            code="body_too_large",
        )
    if not raw.strip():
        raise BadRequestError('request body is empty; send JSON like {"inputs": ["some text"]}',
                              code="empty_body")
    try:
        payload: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(
            f'request body is not valid JSON ({exc}); send JSON like {{"inputs": ["some text"]}}',
            code="invalid_json",
        ) from None
    if not isinstance(payload, dict):
        raise BadRequestError(
            f'request body must be a JSON object, got {type(payload).__name__}; '
            'send {"inputs": ["some text"]}',
            code="invalid_json",
        )
    unknown = sorted(set(payload) - set(PREDICT_FIELDS))
    if unknown:
        raise UnprocessableError(
            f"unknown field(s) {', '.join(map(repr, unknown))}; the only field is 'inputs'",
            code="unknown_field",
        )
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
    return inputs


def requested_tier(headers: Mapping[str, str]) -> str | None:
    """The tier named by X-Latency-Tier (lowercased), None if absent; 400 if unknown."""
    value = next((v for k, v in headers.items() if k.lower() == TIER_HEADER), None)
    if value is None or not value.strip():
        return None
    tier = value.strip().lower()
    if tier not in TIERS:
        raise BadRequestError(
            f"X-Latency-Tier {value!r} is not a tier; use one of {', '.join(TIERS)} "
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
    except ValueError:
        raise BadRequestError(f"hold_ms={raw!r} is not an integer number of milliseconds",
                              code="invalid_parameter") from None
    if not 0 <= hold <= config.max_warm_hold_ms:
        raise BadRequestError(
            f"hold_ms={hold} is out of range; use 0..{config.max_warm_hold_ms} (MAX_WARM_HOLD_MS)",
            code="invalid_parameter",
        )
    return hold
