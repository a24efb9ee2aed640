"""OpenAI's embeddings API, ``POST /v1/embeddings``: what the openai SDK, LangChain's
OpenAIEmbeddings and LlamaIndex's OpenAI-like embeddings send, with ``base_url`` set to
``<ServiceUrl>/v1``.

The request (``table.OPENAI_EMBEDDINGS``) and answer follow OpenAI's API reference; where
this service differs it says so with a 4xx rather than guessing: token-id arrays (the
service tokenizes itself), another model's name (404 ``model_not_found``, as OpenAI
answers), and ``dimensions`` other than the model's own (no Matryoshka truncation).
Errors come in OpenAI's shape (``ApiError.openai_body``), so the SDK raises its typed
errors with our message. ``usage`` counts the model's tokens (special tokens included,
after truncation).
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from .model import Limits, Model
from .table import EMBEDDINGS, OPENAI_EMBEDDINGS, other_dimensions
from .tei import require


def create_embeddings(raw: bytes, model: Model, limits: Limits) -> dict[str, Any]:
    """The answer to ``POST /v1/embeddings`` with body ``raw``, or an ApiError."""
    description = require(model, (EMBEDDINGS,), "POST /v1/embeddings")
    body = OPENAI_EMBEDDINGS.parse(raw, limits, description)
    vectors = model.embed(body["input"])
    check_dimensions(body["dimensions"], vectors, description.name)
    if not description.spec.normalize:
        vectors = l2_normalized(vectors)  # OpenAI's embeddings are unit vectors; clients rely on it
    tokens = model.count_tokens(body["input"])
    encode = to_base64 if body["encoding_format"] == "base64" else (lambda vector: vector)
    return {
        "object": "list",
        "data": [{"object": "embedding", "embedding": encode(vector), "index": index}
                 for index, vector in enumerate(vectors)],
        "model": description.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def check_dimensions(wanted: int | None, vectors: list[list[float]], name: str) -> None:
    """``dimensions`` against the vectors, for a model whose contract does not state its size."""
    if wanted is not None and vectors and len(vectors[0]) != wanted:
        raise other_dimensions(wanted, len(vectors[0]), name)


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
