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
    """Turn a /predict body for an embedding model into the list of texts to embed, or raise an ApiError."""
    payload = _predict_payload(raw, config, "embeddings")
    return _texts(payload, "inputs", config)


def parse_classify_body(raw: bytes, config: RuntimeConfig) -> tuple[list[str], int | None]:
    """A /predict body for a classifier: the texts, and ``top_k`` (None: every label)."""
    payload = _predict_payload(raw, config, "classification")
    return _texts(payload, "inputs", config), _positive_int(payload, "top_k")


def parse_rerank_body(raw: bytes, config: RuntimeConfig) -> tuple[str, list[str], int | None]:
    """A /predict body for a reranker: the query, the documents, and ``top_n`` (None: every document)."""
    payload = _predict_payload(raw, config, "reranking")
    if "query" not in payload:
        raise UnprocessableError('missing field "query": a string', code="missing_inputs")
    query = payload["query"]
    if not isinstance(query, str):
        raise UnprocessableError('"query" must be a string', code="invalid_inputs")
    _check_text(query, "query", config)
    return query, _texts(payload, "documents", config), _positive_int(payload, "top_n")


# /predict's fields for each task, and a body to show in advice.
PREDICT_FIELDS_BY_TASK: dict[str, tuple[str, ...]] = {
    "embeddings": PREDICT_FIELDS,
    "classification": ("inputs", "top_k"),
    "reranking": ("query", "documents", "top_n"),
}
EXAMPLE_BODIES = {
    "embeddings": EXAMPLE_BODY,
    "classification": '{"inputs": ["some text"], "top_k": 2}',
    "reranking": '{"query": "a question", "documents": ["a text", "another"], "top_n": 1}',
}


def _predict_payload(raw: bytes, config: RuntimeConfig, task: str) -> dict[str, Any]:
    """The /predict body as a JSON object holding only ``task``'s fields, or an ApiError with advice."""
    example = EXAMPLE_BODIES[task]
    if len(raw) > config.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(raw)} bytes; the limit is {config.max_body_bytes} bytes "
            "(MAX_BODY_BYTES). Split the inputs over several requests.",
            code="body_too_large",
        )
    if not raw.strip():
        raise BadRequestError(f"request body is empty; send JSON like {example}", code="empty_body")
    try:
        payload: Any = json.loads(raw)
    except RecursionError as exc:
        raise BadRequestError(f"request body nests JSON arrays or objects too deeply to parse; "
                              f"send JSON like {example}", code="invalid_json") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON ({exc}); send UTF-8 JSON like {example}",
                              code="invalid_json") from exc
    except ValueError as exc:  # Python's limit on integer digits (4,300), hit while parsing
        raise BadRequestError(f"request body holds a number too long to parse; send JSON like {example}",
                              code="invalid_json") from exc
    if not isinstance(payload, dict):
        raise BadRequestError(
            f"request body must be a JSON object, got {type(payload).__name__}; send {example}",
            code="invalid_json",
        )
    fields = PREDICT_FIELDS_BY_TASK[task]
    unknown = sorted(set(payload) - set(fields))
    if unknown:
        # A body shaped for another task: say which task this model serves, and what to send it.
        other = [t for t, f in PREDICT_FIELDS_BY_TASK.items() if t != task and set(unknown) <= set(f)]
        if other and not set(payload) & (set(fields) - set(PREDICT_FIELDS_BY_TASK[other[0]])):
            raise UnprocessableError(
                f"this model serves {task}, and {', '.join(quote(k, 40) for k in unknown)} belong to "
                f"{other[0]}; send {example}", code="task_not_supported")
        shown = ", ".join(quote(key, 40) for key in unknown[:5]) + (f" and {len(unknown) - 5} more"
                                                                    if len(unknown) > 5 else "")
        allowed = "the only field is 'inputs'" if len(fields) == 1 else f"the fields are {', '.join(fields)}"
        raise UnprocessableError(f"unknown field(s) {shown}; {allowed}", code="unknown_field")
    return payload


def _texts(payload: dict[str, Any], field: str, config: RuntimeConfig) -> list[str]:
    """A required field holding one string or a list of strings, each within the limits."""
    if field not in payload:
        raise UnprocessableError(f'missing field "{field}": a string or a list of strings',
                                 code="missing_inputs")
    texts = payload[field]
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise UnprocessableError(f'"{field}" must be a string or a list of strings', code="invalid_inputs")
    if not texts:
        raise UnprocessableError(f'"{field}" is empty; send at least one string', code="empty_inputs")
    if len(texts) > config.max_inputs:
        raise PayloadTooLargeError(
            f"{len(texts)} {field} in one request; the limit is {config.max_inputs} (MAX_INPUTS). "
            "Split them over several requests.",
            code="too_many_inputs",
        )
    for index, text in enumerate(texts):
        _check_text(text, f"{field}[{index}]", config)
    return texts


def _check_text(text: str, where: str, config: RuntimeConfig) -> None:
    if len(text) > config.max_input_chars:
        raise PayloadTooLargeError(
            f"{where} has {len(text)} characters; the limit is {config.max_input_chars} "
            "(MAX_INPUT_CHARS). The model truncates long texts to its maximum length anyway: shorten or "
            "chunk it.",
            code="input_too_long",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A JSON escape like "\ud800" decodes to half a surrogate pair: no tokenizer
        # (nor any UTF-8 system) can take it.
        raise UnprocessableError(
            f"{where} is not valid Unicode text: {_bad_characters(exc)}; send UTF-8 text, "
            "and write a character outside the Basic Multilingual Plane as itself or as a whole "
            'surrogate pair (\\ud83d\\ude80 for 🚀)',
            code="invalid_text",
        ) from exc


def _positive_int(payload: dict[str, Any], field: str) -> int | None:
    """An optional positive integer field (``top_k``, ``top_n``); null or absent is None."""
    value = payload.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnprocessableError(f'"{field}" must be a positive integer (or null for all), got {quote(value, 40)}',
                                 code="invalid_field")
    return value


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
