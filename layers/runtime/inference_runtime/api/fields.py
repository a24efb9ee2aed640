"""Request bodies as data: a ``Body`` of typed ``Field``s drives both the validation and the schema.

``parse`` is the one JSON parser and the one validator of every route's body; ``schema``
gives the same body's JSON Schema for the OpenAPI document. A field states its kind, its
default, whether null counts as left out, its accepted values and the ones this service
refuses (422 ``unsupported_parameter``, never silently changed), and its description.
Fields are checked in their declared order, so the first wrong one is the one named.

Two dialects of messages, kept from before the redesign (clients and the golden test read
them): ``native`` for /predict, the ecosystem's (OpenAI, TEI) otherwise, which also refuses
token ids and says what type it got.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadRequestError, PayloadTooLargeError, UnprocessableError, quote

if TYPE_CHECKING:
    from .model import Limits

# Text that is valid Unicode: a lone surrogate (a JSON escape such as "\ud800" alone)
# cannot be encoded, so no tokenizer takes it (422 invalid_text).
NO_LONE_SURROGATES = "^[^\\ud800-\\udfff]*$"
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}
# Where a client that sends token ids most likely comes from, and what to change there.
_TEXT_ONLY = ("this service tokenizes itself and takes text only: send the strings (LangChain's "
              "OpenAIEmbeddings sends token ids unless check_embedding_ctx_length=False)")


class Kind(enum.Enum):
    TEXT = "a string"
    TEXTS = "a string or a list of strings"
    TEXT_LIST = "a list of strings"
    BOOL = "true or false"
    POSITIVE_INT = "a positive integer"
    STRING = "a string (or null)"
    CHOICE = "one of its choices"
    NULL = "null only"
    OBJECT = "an object"
    CUSTOM = "checked by its own function"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    required: bool = False
    #: the value when left out (and when null, for a nullable field)
    default: Any = None
    nullable: bool = True
    #: CHOICE: the values accepted (refused ones included, so that they get their reason)
    choices: tuple[Any, ...] = ()
    #: a value this service does not honour (BOOL, CHOICE; NULL: any), and why: 422 unsupported_parameter
    refused: tuple[Any, ...] = ()
    why: str = ""
    description: str = ""
    #: OBJECT: its fields
    body: Body | None = None
    #: a check that needs the served model (its name, its dimensions), given the value and the model's description
    check: Callable[[Any, Any], None] | None = None
    #: the field's schema for a model's description (None: generic); replaces the kind's
    model_schema: Callable[[Any, Limits], dict[str, Any]] | None = None
    #: CUSTOM: the checker, and its schema
    custom: Callable[[Any, Limits], Any] | None = None
    custom_schema: Callable[[Limits], dict[str, Any]] | None = None
    #: the schema's "default", where it states one
    schema_default: Any = None


@dataclass(frozen=True, slots=True)
class Body:
    #: the OpenAPI component name
    name: str
    fields: tuple[Field, ...]
    #: a body to show in advice ("send JSON like ...")
    example: str
    examples: tuple[dict[str, Any], ...] = ()
    native: bool = False
    #: called with (payload, unknown names) before the unknown_field answer, to answer better
    on_unknown: Callable[[dict[str, Any], list[str]], None] | None = None

    def parse(self, raw: bytes, limits: Limits, model: Any = None) -> dict[str, Any]:
        """The body's values by field name (defaults filled in), or the ApiError that says what to send."""
        return self.check(parse_json(raw, limits, self.example, native=self.native), limits, model)

    def check(self, payload: dict[str, Any], limits: Limits, model: Any = None, *, within: str = "") -> dict[str, Any]:
        names = [f.name for f in self.fields]
        unknown = sorted(set(payload) - set(names))
        if unknown:
            if self.on_unknown is not None:
                self.on_unknown(payload, unknown)
            shown = ", ".join(quote(key, 40) for key in unknown[:5]) + (
                f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            allowed = (f"the only field is {names[0]!r}" if self.native and len(names) == 1
                       else f"the fields are {', '.join(names)}")
            raise UnprocessableError(f"unknown field(s) {shown}; {allowed}", code="unknown_field",
                                     param=unknown[0] if len(unknown[0]) <= 40 else None)
        values = {}
        for field in self.fields:
            values[field.name] = value = _check(field, payload, limits, self.native, within)
            if field.check is not None and model is not None:
                field.check(value, model)
        return values

    def schema(self, limits: Limits, model: Any = None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "required": [f.name for f in self.fields if f.required],
                                  "additionalProperties": False,
                                  "properties": {f.name: field_schema(f, limits, model) for f in self.fields}}
        if not schema["required"]:
            del schema["required"]
        if self.examples:
            schema["examples"] = [dict(example) for example in self.examples]  # the document may edit them
        return schema


def parse_json(raw: bytes, limits: Limits, example: str, *, native: bool = False) -> dict[str, Any]:
    """The body as a JSON object, or a 413/400 that says what to send (``example``)."""
    if len(raw) > limits.max_body_bytes:
        raise PayloadTooLargeError(
            f"request body is {len(raw)} bytes; the limit is {limits.max_body_bytes} bytes "
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
        got = type(payload).__name__ if native else json_type(payload)
        raise BadRequestError(f"request body must be a JSON object, got {got}; send {example}", code="invalid_json")
    return payload


def _check(field: Field, payload: dict[str, Any], limits: Limits, native: bool, within: str) -> Any:
    name, kind = field.name, field.kind
    if field.required and name not in payload:
        what = "a string, or a batch [[\"text\"], [\"text\"], ...]" if kind is Kind.CUSTOM else kind.value
        raise UnprocessableError(f'missing field "{name}": {what}', code="missing_inputs", param=name)
    value = payload.get(name, field.default)
    got = "" if native else f", got {json_type(value)}"
    if kind is Kind.CUSTOM:
        assert field.custom is not None  # nosec B101 (a CUSTOM field has its checker)
        return field.custom(value, limits)
    if kind in (Kind.TEXTS, Kind.TEXT_LIST):
        if kind is Kind.TEXTS and isinstance(value, str):
            value = [value]
        if not native:
            _refuse_token_ids(value, name)
        if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
            raise UnprocessableError(f'"{name}" must be {kind.value}{got}', code="invalid_inputs", param=name)
        return check_texts(value, name, limits, native=native)
    if kind is Kind.TEXT:
        if not isinstance(value, str):
            raise UnprocessableError(f'"{name}" must be a string{got}', code="invalid_inputs", param=name)
        check_text(value, name, limits, native=native)
        return value
    if value is None and (field.nullable or kind is not Kind.BOOL):
        if kind is Kind.OBJECT and name in payload:
            return {}  # sent as null: an empty object, which tells "sent" from "left out"
        return field.default
    if kind is Kind.BOOL and not isinstance(value, bool):
        raise UnprocessableError(f'"{name}" must be true or false{" (or null)" if field.nullable else ""}{got}',
                                 code="invalid_field", param=name)
    if kind is Kind.POSITIVE_INT:
        if not native and isinstance(value, float) and value.is_integer():
            value = int(value)  # 384.0 counts, as JSON Schema counts it
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UnprocessableError(f'"{name}" must be a positive integer (or null{" for all" if native else ""}), '
                                     f"got {quote(value, 40)}", code="invalid_field", param=name)
    if kind is Kind.STRING and not isinstance(value, str):
        raise UnprocessableError(f'"{name}" must be a string (or null){got}', code="invalid_field", param=name)
    if kind is Kind.CHOICE and (not isinstance(value, str) or value not in field.choices):
        raise UnprocessableError(f'"{name}" must be one of {", ".join(map(json.dumps, field.choices))} (or null), '
                                 f"got {quote(value, 40)}", code="invalid_field", param=name)
    if kind is Kind.OBJECT:
        assert field.body is not None  # nosec B101 (an OBJECT field has its body)
        if not isinstance(value, dict):
            raise UnprocessableError(f'"{name}" must be an object like {field.body.example} (or null)',
                                     code="invalid_field", param=name)
        return field.body.check(value, limits, within=name)
    if kind is Kind.NULL or value in field.refused:
        raise unsupported(within or name, field.why.format(got=quote(value, 40)))
    return value


def check_texts(texts: list[str], name: str, limits: Limits, *, native: bool = False) -> list[str]:
    """``texts`` if within the limits and valid Unicode, else a 422/413 naming the input."""
    if not texts:
        raise UnprocessableError(f'"{name}" is empty; send at least one string', code="empty_inputs", param=name)
    if len(texts) > limits.max_inputs:
        what = f"{name} in one request" if native else f'texts in "{name}"'
        raise PayloadTooLargeError(f"{len(texts)} {what}; the limit is {limits.max_inputs} (MAX_INPUTS). "
                                   "Split them over several requests.", code="too_many_inputs", param=name)
    for index, text in enumerate(texts):
        check_text(text, f"{name}[{index}]", limits, native=native)
    return texts


def check_text(text: str, label: str, limits: Limits, *, native: bool = False) -> None:
    param = label.split("[")[0]
    if len(text) > limits.max_input_chars:
        anyway = ("truncates long texts to its maximum length anyway" if native
                  else "reads only its first tokens anyway")
        raise PayloadTooLargeError(f"{label} has {len(text)} characters; the limit is {limits.max_input_chars} "
                                   f"(MAX_INPUT_CHARS). The model {anyway}: shorten or chunk it.",
                                   code="input_too_long", param=param)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnprocessableError(
            f"{label} is not valid Unicode text: a lone surrogate {quote(exc.object[exc.start:exc.end], 20)} at "
            f"character {exc.start}; send UTF-8 text, and write a character outside the Basic Multilingual "
            "Plane as itself or as a whole surrogate pair (\\ud83d\\ude80 for 🚀)",
            code="invalid_text", param=param) from exc


def _refuse_token_ids(value: Any, name: str) -> None:
    """422 token_ids_not_supported for an array of integers, or of arrays of integers."""
    def is_ids(item: Any) -> bool:
        return isinstance(item, list) and bool(item) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in item)

    if is_ids(value) or (isinstance(value, list) and bool(value) and all(is_ids(item) for item in value)):
        raise UnprocessableError(f'"{name}" holds token ids; {_TEXT_ONLY}', code="token_ids_not_supported",
                                 param=name)


def unsupported(param: str, why: str, *, code: str = "unsupported_parameter") -> UnprocessableError:
    return UnprocessableError(f"{param}: {why}", code=code, param=param)


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def text_schemas(limits: Limits) -> tuple[dict[str, Any], dict[str, Any]]:
    """A text's schema and a list of texts' (within MAX_INPUT_CHARS and MAX_INPUTS)."""
    text = {"type": "string", "maxLength": limits.max_input_chars, "pattern": NO_LONE_SURROGATES}
    return text, {"type": "array", "items": text, "minItems": 1, "maxItems": limits.max_inputs}


def field_schema(field: Field, limits: Limits, model: Any = None) -> dict[str, Any]:
    """The field's JSON Schema: what ``_check`` accepts, less what it refuses."""
    if model is not None and field.model_schema is not None:
        return field.model_schema(model, limits)
    kind = field.kind
    text, texts = text_schemas(limits)
    schema: dict[str, Any]
    if kind is Kind.CUSTOM:
        assert field.custom_schema is not None  # nosec B101 (a CUSTOM field has its schema)
        schema = field.custom_schema(limits)
    elif kind in (Kind.TEXT, Kind.TEXT_LIST, Kind.TEXTS):
        schema = {Kind.TEXT: text, Kind.TEXT_LIST: texts, Kind.TEXTS: {"anyOf": [text, texts]}}[kind]
    elif kind is Kind.NULL:
        schema = {"type": "null"}
    elif kind is Kind.BOOL and field.refused:
        schema = {"const": not field.refused[0]}
    elif kind is Kind.CHOICE:
        schema = {"enum": [*(c for c in field.choices if c not in field.refused), None]}
    else:
        types: dict[Kind, dict[str, Any]] = {Kind.BOOL: {"type": "boolean"}, Kind.STRING: {"type": "string"},
                                             Kind.POSITIVE_INT: {"type": "integer", "minimum": 1}}
        schema = types.get(kind, {})
        if kind is Kind.OBJECT:
            assert field.body is not None  # nosec B101 (an OBJECT field has its body)
            schema = {k: v for k, v in field.body.schema(limits).items() if k != "examples"}
        schema = nullable(schema) if field.nullable else schema
    if field.schema_default is not None:
        schema = {**schema, "default": field.schema_default}
    return {**schema, "description": field.description} if field.description else schema
