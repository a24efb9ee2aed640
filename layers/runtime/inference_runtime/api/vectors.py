"""Embedding vectors as the OpenAI and TEI shapes give them: checked dimensions, L2 norm, base64."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from .bodies import positive_int_field
from .errors import UnprocessableError
from .served import ServedModel


def requested_dimensions(payload: dict[str, Any], model: ServedModel) -> int | None:
    """``dimensions`` if it is the model's own (known before inference), else a 422 that says what is."""
    wanted = positive_int_field(payload, "dimensions")
    if wanted is not None and model.dimensions is not None and wanted != model.dimensions:
        raise _other_dimensions(wanted, model.dimensions, model.name)
    return wanted


def check_dimensions(wanted: int | None, vectors: list[list[float]], model: ServedModel) -> None:
    """The same check after inference, for a manifest that does not state the size."""
    if wanted is not None and vectors and len(vectors[0]) != wanted:
        raise _other_dimensions(wanted, len(vectors[0]), model.name)


def _other_dimensions(wanted: int, own: int, name: str) -> UnprocessableError:
    return UnprocessableError(
        f"dimensions={wanted}, but {name} gives {own}-dimensional embeddings and this service does not "
        f"shorten them; leave dimensions out, or send {own}", code="unsupported_dimensions", param="dimensions")


def l2_normalized(vectors: list[list[float]]) -> list[list[float]]:
    """Each vector scaled to length 1 (a zero vector stays zero), as sentence-transformers' Normalize does."""
    out = []
    for vector in vectors:
        norm = math.sqrt(math.fsum(x * x for x in vector))
        out.append([x / norm for x in vector] if norm > 0 else list(vector))
    return out


def to_base64(vector: list[float]) -> str:
    """OpenAI's ``encoding_format: base64``: the vector's little-endian float32 bytes, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
