"""Embedding a request's texts with its prompt and dimensions: shared by /predict and the ecosystem's routes.

Imported with the API at init (not by the first request): /predict, the route a cold
request most often takes, must not pay a module import on its first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..tasks.prompts import resolve_prompt
from .errors import PayloadTooLargeError
from .model import Model, dimensions
from .table import other_dimensions

if TYPE_CHECKING:
    from ..lifecycle.timing import RequestTimings
    from ..service import ModelDescription


def embed(model: Model, description: ModelDescription, texts: list[str], *, timings: RequestTimings | None,
          prompt_name: str | None = None, input_type: str | None = None, wanted: int | None = None,
          truncate: bool = True) -> tuple[list[list[float]], str | None]:
    """The vectors for ``texts`` with the request's prompt and dimensions, and the prompt applied (None: none)."""
    spec = description.spec
    prompt = resolve_prompt(spec, prompt_name=prompt_name, input_type=input_type)
    if not truncate:
        refuse_long(model, description, [spec.prompts.get(prompt, "") + text if prompt else text for text in texts],
                    "inputs")
    own = dimensions(description)
    # The model's own size is asked of no one: only a smaller one is a truncation, which the service checks.
    shorter = wanted if wanted is not None and own is not None and wanted < own else None
    vectors = model.embed(texts, prompt_name=prompt, dimensions=shorter, timings=timings)
    other_dimensions(wanted, len(vectors[0]) if vectors and shorter is None else None, description.name,
                     tuple(spec.matryoshka_dimensions))
    return vectors, prompt


def refuse_long(model: Model, description: ModelDescription, texts: list[str], param: str) -> None:
    """413 input_too_long for the first text over the model's maximum length (a client sent truncate=false)."""
    limit = description.spec.tokenizer.max_sequence_length
    for index, count in enumerate(model.token_counts(texts, truncate=False)):
        if count > limit:
            raise PayloadTooLargeError(f"{param}[{index}] is {count} tokens long and the model reads at most {limit}; "
                                       "with truncate=false it is refused rather than cut: shorten or chunk it, or "
                                       "send truncate=true", code="input_too_long", param=param)
