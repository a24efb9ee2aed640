"""JSON request bodies of the OpenAI- and TEI-shaped routes: one parser, and field checks that name the field.

Every failure is an ApiError (400 for what is not a JSON object, 413 for what is over a
limit, 422 for a field of the wrong shape) whose ``param`` is the field, so the OpenAI
error shape can carry it. Limits come from RuntimeConfig, as for /predict.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError, quote

if TYPE_CHECKING:
    from ..config import RuntimeConfig

# Where a client that sends token ids most likely comes from, and what to change there.
_TEXT_ONLY_ADVICE = ("this service tokenizes itself and takes text only: send the strings (LangChain's "
                     "OpenAIEmbeddings sends token ids unless check_embedding_ctx_length=False)")


def parse_json_object(raw: bytes, config: RuntimeConfig, *, example: str) -> dict[str, Any]:
    """The body as a JSON object, or a 413/400 that says what to send (``example``)."""
    if len(raw) > config.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(raw)} bytes; the limit is {config.max_body_bytes} bytes "
            "(MAX_BODY_BYTES). Split the inputs over several requests.", code="body_too_large")
    if not raw.strip():
        raise BadRequestError(f"request body is empty; send JSON like {example}", code="empty_body")
    try:
        payload: Any = json.loads(raw)
    except RecursionError as exc:
        raise BadRequestError(f"request body nests JSON arrays or objects too deeply to parse; send JSON like "
                              f"{example}", code="invalid_json") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON ({exc}); send UTF-8 JSON like {example}",
                              code="invalid_json") from exc
    except ValueError as exc:  # Python's limit on integer digits (4,300), hit while parsing
        raise BadRequestError(f"request body holds a number too long to parse; send JSON like {example}",
                              code="invalid_json") from exc
    if not isinstance(payload, dict):
        raise BadRequestError(f"request body must be a JSON object, got {_json_type(payload)}; send {example}",
                              code="invalid_json")
    return payload


def check_fields(payload: dict[str, Any], allowed: Iterable[str]) -> None:
    """422 unknown_field for a field outside ``allowed`` (a typo must not be silently ignored)."""
    allowed = tuple(allowed)
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        shown = ", ".join(quote(key, 40) for key in unknown[:5]) + (f" and {len(unknown) - 5} more"
                                                                    if len(unknown) > 5 else "")
        raise UnprocessableError(f"unknown field(s) {shown}; the fields are {', '.join(allowed)}",
                                 code="unknown_field", param=unknown[0] if len(unknown[0]) <= 40 else None)


def texts_field(payload: dict[str, Any], name: str, config: RuntimeConfig) -> list[str]:
    """A required "text or list of texts" field (OpenAI's ``input``, TEI's ``inputs``) as a list."""
    if name not in payload:
        raise UnprocessableError(f'missing field "{name}": a string or a list of strings',
                                 code="missing_inputs", param=name)
    value = payload[name]
    if isinstance(value, str):
        value = [value]
    _refuse_token_ids(value, name)
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise UnprocessableError(f'"{name}" must be a string or a list of strings, got {_json_type(value)}',
                                 code="invalid_inputs", param=name)
    return check_texts(value, name, config)


def text_list_field(payload: dict[str, Any], name: str, config: RuntimeConfig) -> list[str]:
    """A required list of texts (TEI's rerank ``texts``)."""
    if name not in payload:
        raise UnprocessableError(f'missing field "{name}": a list of strings', code="missing_inputs", param=name)
    value = payload[name]
    _refuse_token_ids(value, name)
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise UnprocessableError(f'"{name}" must be a list of strings, got {_json_type(value)}',
                                 code="invalid_inputs", param=name)
    return check_texts(value, name, config)


def text_field(payload: dict[str, Any], name: str, config: RuntimeConfig) -> str:
    """A required single text (TEI's rerank ``query``)."""
    if name not in payload:
        raise UnprocessableError(f'missing field "{name}": a string', code="missing_inputs", param=name)
    value = payload[name]
    if not isinstance(value, str):
        raise UnprocessableError(f'"{name}" must be a string, got {_json_type(value)}', code="invalid_inputs",
                                 param=name)
    check_text(value, name, config)
    return value


def check_texts(texts: list[str], name: str, config: RuntimeConfig) -> list[str]:
    """``texts`` if within the limits and valid Unicode, else a 422/413 naming the input."""
    if not texts:
        raise UnprocessableError(f'"{name}" is empty; send at least one string', code="empty_inputs", param=name)
    if len(texts) > config.max_inputs:
        raise PayloadTooLargeError(
            f'{len(texts)} texts in "{name}"; the limit is {config.max_inputs} (MAX_INPUTS). '
            "Split them over several requests.", code="too_many_inputs", param=name)
    for index, text in enumerate(texts):
        check_text(text, f"{name}[{index}]", config)
    return texts


def check_text(text: str, label: str, config: RuntimeConfig) -> None:
    if len(text) > config.max_input_chars:
        raise PayloadTooLargeError(
            f"{label} has {len(text)} characters; the limit is {config.max_input_chars} (MAX_INPUT_CHARS). "
            "The model reads only its first tokens anyway: shorten or chunk it.",
            code="input_too_long", param=label.split("[")[0])
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnprocessableError(
            f"{label} is not valid Unicode text: a lone surrogate {quote(exc.object[exc.start:exc.end], 20)} at "
            f"character {exc.start}; send UTF-8 text, and write a character outside the Basic Multilingual "
            "Plane as itself or as a whole surrogate pair (\\ud83d\\ude80 for 🚀)",
            code="invalid_text", param=label.split("[")[0]) from exc


def bool_field(payload: dict[str, Any], name: str, default: bool, *, nullable: bool = False) -> bool:
    """An optional true/false field; null counts as left out where ``nullable`` (TEI's Option<bool>)."""
    value = payload.get(name, default)
    if value is None and nullable:
        return default
    if not isinstance(value, bool):
        raise UnprocessableError(f'"{name}" must be true or false{" (or null)" if nullable else ""}, '
                                 f"got {_json_type(value)}", code="invalid_field", param=name)
    return value


def choice_field(payload: dict[str, Any], name: str, choices: tuple[Any, ...]) -> Any:
    """An optional field with a fixed set of values (null or left out: None)."""
    value = payload.get(name)
    if value is not None and (not isinstance(value, str) or value not in choices):
        raise UnprocessableError(f'"{name}" must be one of {", ".join(map(json.dumps, choices))} (or null), '
                                 f"got {quote(value, 40)}", code="invalid_field", param=name)
    return value


def positive_int_field(payload: dict[str, Any], name: str) -> int | None:
    """An optional integer >= 1 (null or left out: None). 384.0 counts, as JSON Schema counts it."""
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnprocessableError(f'"{name}" must be a positive integer (or null), got {quote(value, 40)}',
                                 code="invalid_field", param=name)
    return value


def string_field(payload: dict[str, Any], name: str) -> str | None:
    """An optional string (null or left out: None)."""
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        raise UnprocessableError(f'"{name}" must be a string (or null), got {_json_type(value)}',
                                 code="invalid_field", param=name)
    return value


def _refuse_token_ids(value: Any, name: str) -> None:
    """422 token_ids_not_supported for an array of integers, or of arrays of integers."""
    def is_ids(item: Any) -> bool:
        return isinstance(item, list) and bool(item) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in item)

    if is_ids(value) or (isinstance(value, list) and bool(value) and all(is_ids(item) for item in value)):
        raise UnprocessableError(f'"{name}" holds token ids; {_TEXT_ONLY_ADVICE}', code="token_ids_not_supported",
                                 param=name)


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)
