"""The request values that are not one field kind: TEI's /predict inputs (a text, or a batch of
one-text arrays) and /decode's token ids (a sequence, or a batch). ``table`` names them as
``Kind.CUSTOM`` fields; each has its checker and its schema here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import PayloadTooLargeError, UnprocessableError
from .fields import check_texts, text_schemas, unsupported

if TYPE_CHECKING:
    from .model import Limits


def tei_predict_inputs(value: Any, limits: Limits) -> tuple[list[str], bool]:
    """TEI's PredictInput: a text, ``[text]``, or a batch ``[[text], ...]`` (pairs are refused); and if a batch.

    The items are read in order and the first wrong one answers, so that a pair anywhere
    in a batch is named as one."""
    batch = isinstance(value, list) and bool(value) and all(isinstance(item, list) for item in value)
    texts = []
    for item in value if batch else [[value] if isinstance(value, str) else value]:
        if not (isinstance(item, list) and item and all(isinstance(text, str) for text in item)):
            if value == []:
                raise UnprocessableError('"inputs" is empty; send at least one string', code="empty_inputs",
                                         param="inputs")
            raise UnprocessableError('"inputs" must be a string, or a batch of one-string arrays [["text"], '
                                     '["text"]]', code="invalid_inputs", param="inputs")
        if len(item) == 2:
            raise unsupported("inputs", "an array of two strings is a sentence pair in TEI's /predict, and this "
                                        "service classifies single texts; for a batch send [[\"a\"], [\"b\"]]",
                              code="pairs_not_supported")
        if len(item) > 2:
            raise UnprocessableError(f"an array of {len(item)} strings is neither a text nor a pair; for a batch "
                                     'send [["a"], ["b"], ...]', code="invalid_inputs", param="inputs")
        texts.append(item[0])
    return check_texts(texts, "inputs", limits), batch


def tei_predict_inputs_schema(limits: Limits) -> dict[str, Any]:
    text, _ = text_schemas(limits)
    one = {"type": "array", "items": text, "minItems": 1, "maxItems": 1}
    return {"anyOf": [text, one, {"type": "array", "minItems": 1, "maxItems": limits.max_inputs, "items": one}],
            "description": "a text, or a batch [[text], [text], ...]; sentence pairs are refused"}


def token_ids(value: Any, limits: Limits) -> list[list[int]]:
    """TEI's /decode ``ids``: one sequence of token ids, or a batch of them."""
    batch = value if isinstance(value, list) and value and all(isinstance(item, list) for item in value) else [value]
    for item in batch:
        if not (isinstance(item, list) and item and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                                                          for i in item)):
            raise UnprocessableError('"ids" must be token ids (non-negative integers), or a batch of them',
                                     code="invalid_inputs", param="ids")
    if len(batch) > limits.max_inputs:
        raise PayloadTooLargeError(f"{len(batch)} sequences in \"ids\"; the limit is {limits.max_inputs} "
                                   "(MAX_INPUTS). Split them over several requests.", code="too_many_inputs",
                                   param="ids")
    return batch


def token_ids_schema(limits: Limits) -> dict[str, Any]:
    ids = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
    return {"anyOf": [ids, {"type": "array", "items": ids, "minItems": 1, "maxItems": limits.max_inputs}]}
