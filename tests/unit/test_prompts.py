"""Which prompt a request gets (tasks.prompts.resolve_prompt): prompt_name, input_type, the default."""

from __future__ import annotations

from typing import Any

import pytest

from inference_runtime.artifact import ModelSpec
from inference_runtime.tasks.errors import InputTypeNotSupportedError, TaskInputError, UnknownPromptError
from inference_runtime.tasks.prompts import resolve_prompt


def spec(prompts: dict[str, str], default: str | None = None) -> ModelSpec:
    data: dict[str, Any] = {"task": "embeddings", "graph": {}, "tokenizer": {}, "dimensions": 8,
                            "prompts": prompts, "default_prompt_name": default}
    return ModelSpec.from_dict(data)


E5 = spec({"query": "query: ", "passage": "passage: "})
BGE = spec({"query": "Represent this sentence for searching relevant passages: ", "document": ""}, default="query")


def test_explicit_prompt_name_wins_over_input_type_and_default() -> None:
    assert resolve_prompt(BGE, prompt_name="document", input_type="query") == "document"
    assert resolve_prompt(E5, prompt_name="passage", input_type=None) == "passage"


def test_input_type_maps_to_the_models_own_names() -> None:
    assert resolve_prompt(E5, prompt_name=None, input_type="query") == "query"
    assert resolve_prompt(E5, prompt_name=None, input_type="document") == "passage"     # E5 says passage
    assert resolve_prompt(BGE, prompt_name=None, input_type="document") == "document"
    assert resolve_prompt(spec({"doc": "d: "}), prompt_name=None, input_type="document") == "doc"


def test_default_then_none() -> None:
    assert resolve_prompt(BGE, prompt_name=None, input_type=None) == "query"
    assert resolve_prompt(E5, prompt_name=None, input_type=None) is None
    # A symmetric model (no prompts): an input_type applies nothing rather than failing.
    assert resolve_prompt(spec({}), prompt_name=None, input_type="document") is None


def test_errors_name_what_the_model_offers() -> None:
    with pytest.raises(UnknownPromptError, match=r"'nope'.*\(passage, query\)") as unknown:
        resolve_prompt(E5, prompt_name="nope", input_type=None)
    assert unknown.value.code == "unknown_prompt" and isinstance(unknown.value, TaskInputError)
    with pytest.raises(InputTypeNotSupportedError, match="its prompts: query") as missing:
        resolve_prompt(spec({"query": "q: "}), prompt_name=None, input_type="document")
    assert missing.value.code == "input_type_not_supported"
    with pytest.raises(InputTypeNotSupportedError, match="'search_query' is not one of query, document"):
        resolve_prompt(E5, prompt_name=None, input_type="search_query")
    with pytest.raises(UnknownPromptError, match=r"\(none\)"):
        resolve_prompt(spec({}), prompt_name="query", input_type=None)
