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
from ..tasks.prompts import resolve_prompt
from .embedding import embed, refuse_long
from .errors import PayloadTooLargeError
from .model import Limits, Model
from .router import Response
from .table import OPENAI_EMBEDDINGS, TEI_DECODE, TEI_EMBED, TEI_PREDICT, TEI_RERANK, TEI_TOKENIZE

if TYPE_CHECKING:
    from ..lifecycle.timing import RequestTimings
    from ..service import ModelDescription


def openai_embeddings(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
                      timings: RequestTimings | None = None) -> dict[str, Any]:
    body = OPENAI_EMBEDDINGS.parse(raw, limits, description)
    vectors, prompt = embed(model, description, body["input"], timings=timings, input_type=body["input_type"],
                            wanted=body["dimensions"])
    if not description.spec.normalize:
        vectors = l2_normalized(vectors)  # OpenAI's embeddings are unit vectors; clients rely on it
    # usage counts what the model read: the prompted texts when a prompt was applied
    prefix = description.spec.prompts.get(prompt, "") if prompt else ""
    tokens = model.count_tokens([prefix + text for text in body["input"]] if prefix else body["input"])
    encode = to_base64 if body["encoding_format"] == "base64" else (lambda vector: vector)
    return {
        "object": "list",
        "data": [{"object": "embedding", "embedding": encode(vector), "index": index}
                 for index, vector in enumerate(vectors)],
        "model": description.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        # An extension, present only when a prompt was applied: which one.
        **({"prompt_name": prompt} if prompt else {}),
    }


def tei_embed(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
              timings: RequestTimings | None = None) -> Any:
    body = TEI_EMBED.parse(raw, limits, description)
    vectors, prompt = embed(model, description, body["inputs"], timings=timings, prompt_name=body["prompt_name"],
                            wanted=body["dimensions"], truncate=body["truncate"])
    vectors = l2_normalized(vectors) if body["normalize"] and not description.spec.normalize else vectors
    # TEI answers a bare array: the prompt applied travels in a header.
    return Response(200, vectors, headers={"X-Prompt-Name": prompt}) if prompt else vectors


def tei_rerank(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
               timings: RequestTimings | None = None) -> list[dict[str, Any]]:
    body = TEI_RERANK.parse(raw, limits)
    query, texts = body["query"], body["texts"]
    if not body["truncate"]:
        # A pair is read as one sequence: [CLS] query [SEP] text [SEP], one [CLS] fewer than the two alone.
        query_tokens = model.token_counts([query], truncate=False)[0]
        limit = description.spec.tokenizer.max_sequence_length
        for index, count in enumerate(model.token_counts(texts, truncate=False)):
            if query_tokens + count - 1 > limit:
                raise PayloadTooLargeError(
                    f"the query with texts[{index}] is {query_tokens + count - 1} tokens long and the model reads at "
                    f"most {limit}; with truncate=false it is refused rather than cut: shorten it, or send "
                    "truncate=true", code="input_too_long", param="texts")
    scores = [float(score) for score in model.rerank(query, texts, raw_scores=body["raw_scores"], timings=timings)]
    return [{"index": i, "score": scores[i], **({"text": texts[i]} if body["return_text"] else {})}
            for i in sorted(range(len(texts)), key=lambda j: -scores[j])]


def tei_predict(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
                timings: RequestTimings | None = None) -> Any:
    """TEI's /predict, served at ``POST /`` only."""
    body = TEI_PREDICT.parse(raw, limits)
    (texts, batch), parameters = body["inputs"], body["parameters"]
    if not body["truncate"]:
        refuse_long(model, description, texts, "inputs")
    top_k = parameters.get("top_k") if parameters else None
    predictions = [[{"label": str(p["label"]), "score": float(p["score"])}
                    for p in sorted(per_text, key=lambda p: float(p["score"]), reverse=True)]
                   for per_text in model.classify(texts, top_k=top_k, raw_scores=body["raw_scores"], timings=timings)]
    # huggingface_hub parses a list per text into labels (a flat list, into one label); TEI's own: one flat list.
    return predictions if batch or parameters is not None else predictions[0]


def tei_tokenize(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
                 timings: RequestTimings | None = None) -> list[list[dict[str, Any]]]:
    body = TEI_TOKENIZE.parse(raw, limits, description)
    prompt = resolve_prompt(description.spec, prompt_name=body["prompt_name"], input_type=None)
    return model.tokenize(body["inputs"], add_special_tokens=body["add_special_tokens"], prompt_name=prompt)


def tei_decode(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
               timings: RequestTimings | None = None) -> list[str]:
    body = TEI_DECODE.parse(raw, limits)
    return model.decode(body["ids"], skip_special_tokens=body["skip_special_tokens"])


def tei_root(raw: bytes, model: Model, description: ModelDescription, limits: Limits,
             timings: RequestTimings | None = None) -> Any:
    """``POST /``: /embed, /rerank or TEI's /predict, by the model's task, as TEI's root."""
    route = {Task.EMBEDDINGS: tei_embed, Task.CLASSIFICATION: tei_predict, Task.RERANKING: tei_rerank}
    return route[description.spec.task](raw, model, description, limits, timings)


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
