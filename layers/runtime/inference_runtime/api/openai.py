"""OpenAI's embeddings API, ``POST /v1/embeddings``: what the openai SDK, LangChain's
OpenAIEmbeddings and LlamaIndex's OpenAI-like embeddings send, with ``base_url`` set to
``<ServiceUrl>/v1``.

The request and answer follow OpenAI's API reference; where this service differs it says
so with a 4xx rather than guessing: token-id arrays (the service tokenizes itself),
another model's name (404 ``model_not_found``, as OpenAI answers), and ``dimensions``
other than the model's own (no Matryoshka truncation) are refused. Errors come in
OpenAI's shape (``ApiError.openai_body``), so the SDK raises its typed errors with our
message. ``usage`` counts the model's tokens (special tokens included, after truncation).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .bodies import check_fields, choice_field, parse_json_object, string_field, texts_field
from .errors import ModelNotFoundError, quote
from .served import served_model
from .spec import EMBEDDINGS, model_name_pattern
from .vectors import check_dimensions, l2_normalized, requested_dimensions, to_base64

if TYPE_CHECKING:
    from ..config import RuntimeConfig
    from ..service import InferenceService

FIELDS = ("input", "model", "encoding_format", "dimensions", "user")
EXAMPLE = '{"input": ["some text"]}'


def create_embeddings(raw: bytes, service: InferenceService, config: RuntimeConfig) -> dict[str, Any]:
    """The answer to ``POST /v1/embeddings`` with body ``raw``, or an ApiError."""
    model = served_model(service)
    model.require((EMBEDDINGS,), "POST /v1/embeddings")
    payload = parse_json_object(raw, config, example=EXAMPLE)
    check_fields(payload, FIELDS)
    texts = texts_field(payload, "input", config)
    requested = string_field(payload, "model")
    if requested is not None and not re.fullmatch(model_name_pattern(model.name), requested):
        raise ModelNotFoundError(f"the model {quote(requested, 60)} is not served here; this deployment serves "
                                 f"{model.name!r}: send that as model, or leave model out", param="model")
    encoding = choice_field(payload, "encoding_format", ("float", "base64")) or "float"
    dimensions = requested_dimensions(payload, model)
    string_field(payload, "user")  # accepted, as OpenAI does, and not used

    vectors = service.embed(texts)
    check_dimensions(dimensions, vectors, model)
    if not model.normalized:
        vectors = l2_normalized(vectors)  # OpenAI's embeddings are unit vectors; clients rely on it
    tokens = model.count_tokens(texts)
    encode = to_base64 if encoding == "base64" else (lambda vector: vector)
    return {
        "object": "list",
        "data": [{"object": "embedding", "embedding": encode(vector), "index": index}
                 for index, vector in enumerate(vectors)],
        "model": model.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
