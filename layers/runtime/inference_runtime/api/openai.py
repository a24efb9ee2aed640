"""OpenAI's embeddings API, ``POST /v1/embeddings``, for the openai SDK, LangChain and LlamaIndex
(``base_url=<ServiceUrl>/v1``). Where this service differs it answers a 4xx rather than guess:
token ids, another model's name (404 ``model_not_found``, as OpenAI answers), other
``dimensions``. Errors in OpenAI's shape, so the SDK raises its typed errors with our message.
``usage`` counts the model's tokens (special tokens included, after truncation).
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
    other_dimensions(body["dimensions"], len(vectors[0]) if vectors else None, description.name)
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
