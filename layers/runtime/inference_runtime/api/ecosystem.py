"""The ecosystem's shapes: OpenAI's embeddings API and Hugging Face Text Embeddings Inference's routes.

Imported by the first request to one of these routes, never at cold start; ``routes`` has
checked the tier header and that the model's task is one the route serves. Where
this service differs from the original it answers a 4xx rather than guess; the bodies in
``table.py`` list what is refused and why.

OpenAI, ``POST /v1/embeddings``, for the openai SDK, LangChain and LlamaIndex
(``base_url=<ServiceUrl>/v1``): another model's name is a 404 ``model_not_found``, as OpenAI
answers; errors come in OpenAI's shape, so the SDK raises its typed errors with our message;
``usage`` counts the model's tokens (special tokens included, after truncation).

TEI, ``POST /embed``, ``/rerank`` and ``/``, shaped as TEI's router (``router/src/http/types.rs``).
``POST /`` dispatches on the model's task as TEI's root does, and is where huggingface_hub's
``InferenceClient(base_url=url)`` posts every task: a body with ``parameters`` (its
text_classification always sends one) gets the HF Inference API's answer, a list per text.
Classification in TEI's shape is served at ``POST /`` only (``/predict`` is this project's own).
Inputs are always truncated at the model's maximum length (TEI's ``--auto-truncate``). Errors
keep this project's shape: TEI's own is a bare string, which huggingface_hub reads no better.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import TYPE_CHECKING, Any

from ..artifact.spec import Task
from .model import Limits, Model
from .table import OPENAI_EMBEDDINGS, TEI_EMBED, TEI_PREDICT, TEI_RERANK, other_dimensions

if TYPE_CHECKING:
    from ..service import ModelDescription


def openai_embeddings(raw: bytes, model: Model, description: ModelDescription, limits: Limits) -> dict[str, Any]:
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


def tei_embed(raw: bytes, model: Model, description: ModelDescription, limits: Limits) -> list[list[float]]:
    body = TEI_EMBED.parse(raw, limits, description)
    vectors = model.embed(body["inputs"])
    other_dimensions(body["dimensions"], len(vectors[0]) if vectors else None, description.name)
    return l2_normalized(vectors) if body["normalize"] and not description.spec.normalize else vectors


def tei_rerank(raw: bytes, model: Model, description: ModelDescription, limits: Limits) -> list[dict[str, Any]]:
    body = TEI_RERANK.parse(raw, limits)
    texts = body["texts"]
    scores = [float(score) for score in model.rerank(body["query"], texts)]
    return [{"index": i, "score": scores[i], **({"text": texts[i]} if body["return_text"] else {})}
            for i in sorted(range(len(texts)), key=lambda j: -scores[j])]


def tei_predict(raw: bytes, model: Model, description: ModelDescription, limits: Limits) -> Any:
    """TEI's /predict, served at ``POST /`` only."""
    body = TEI_PREDICT.parse(raw, limits)
    (texts, batch), parameters = body["inputs"], body["parameters"]
    top_k = parameters.get("top_k") if parameters else None
    predictions = [[{"label": str(p["label"]), "score": float(p["score"])}
                    for p in sorted(per_text, key=lambda p: float(p["score"]), reverse=True)]
                   for per_text in model.classify(texts, top_k=top_k)]
    # huggingface_hub parses a list per text into labels (a flat list, into one label); TEI's own: one flat list.
    return predictions if batch or parameters is not None else predictions[0]


def tei_root(raw: bytes, model: Model, description: ModelDescription, limits: Limits) -> Any:
    """``POST /``: /embed, /rerank or TEI's /predict, by the model's task, as TEI's root."""
    route = {Task.EMBEDDINGS: tei_embed, Task.CLASSIFICATION: tei_predict, Task.RERANKING: tei_rerank}
    return route[description.spec.task](raw, model, description, limits)


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
