"""Which sentence-transformers prompt a request gets: ``prompt_name`` (TEI's), ``input_type``
(Cohere's and Voyage's ``query``/``document``), or the model's default.

Models such as E5, BGE, GTE and Nomic were trained with a prefix on queries and another
(or none) on documents; served without it, retrieval quality drops with no error. So the
API resolves a NAME here, once, and the service prepends that prompt's text before
tokenising, as ``SentenceTransformer.encode(..., prompt_name=...)`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InputTypeNotSupportedError, UnknownPromptError

if TYPE_CHECKING:
    from ..artifact.spec import ModelSpec

#: the names models use for each ``input_type``, in the order they are tried: those of
#: sentence-transformers' ``encode_query``/``encode_document`` (E5 says "passage"), then "doc"
INPUT_TYPE_PROMPTS: dict[str, tuple[str, ...]] = {
    "query": ("query",),
    "document": ("document", "passage", "corpus", "doc"),
}


def resolve_prompt(spec: ModelSpec, *, prompt_name: str | None, input_type: str | None) -> str | None:
    """The name of the prompt to apply (a key of ``spec.prompts``), or None for none.

    An explicit ``prompt_name`` wins; else ``input_type`` maps to the model's prompt for it;
    else the model's ``default_prompt_name``. A model with no prompts at all is symmetric
    (queries and documents are encoded alike), so an ``input_type`` on it applies nothing
    rather than failing: a Cohere-style client always sends one.
    """
    offered = ", ".join(sorted(spec.prompts)) or "none"
    if prompt_name is not None:
        if prompt_name not in spec.prompts:
            raise UnknownPromptError(f"prompt_name {prompt_name!r} is not one of this model's prompts ({offered})")
        return prompt_name
    if input_type is not None:
        names = INPUT_TYPE_PROMPTS.get(input_type)
        if names is None:
            raise InputTypeNotSupportedError(f"input_type {input_type!r} is not one of "
                                             f"{', '.join(INPUT_TYPE_PROMPTS)}")
        if not spec.prompts:
            return None
        for name in names:
            if name in spec.prompts:
                return name
        raise InputTypeNotSupportedError(f"this model has no prompt for input_type {input_type!r} "
                                         f"(looked for {', '.join(names)}); its prompts: {offered}; "
                                         "name one with prompt_name")
    return spec.default_prompt_name
