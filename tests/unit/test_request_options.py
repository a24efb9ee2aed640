"""Issue 15's request options through the handler, in process: each option's effect and each bad value's
4xx with its machine-readable code.

Embeddings run on a tiny BERT exported by the real builder with prompts, a default prompt ("query") and
Matryoshka sizes (tests/tiny_models.py ``prompted_artifact``), so prompts and truncation are the
runtime's own; classification and reranking, and a model with no prompts and no Matryoshka sizes, on
the fakes of tests/unit/fake_services.py, whose answers make each option's effect visible.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from inference_runtime.api.model import Limits
from inference_runtime.api.routes import build_handler, handler_for
from inference_runtime.lifecycle import new_instance
from inference_runtime.service import InferenceService
from lambda_shared.events import alb_request_event
from tests.tiny_models import DEFAULT_PROMPT, MATRYOSHKA, MAX_POSITIONS, PROMPTS
from tests.unit.fake_services import FakeService

TEXTS = ["hello world", "the quick brown fox jumps over the lazy dog"]
LONG = " ".join(["word"] * (MAX_POSITIONS * 2))  # past the tiny model's maximum length in tokens


@pytest.fixture(scope="module")
def prompted(prompted_service: InferenceService) -> InferenceService:
    return prompted_service


@pytest.fixture
def handler(prompted: InferenceService) -> Any:
    new_instance()
    return build_handler(prompted)


def fake_handler(fake: FakeService, **limits: Any) -> Any:
    return handler_for(fake, Limits(**limits))


def send(handler: Any, path: str, body: Any, *, method: str = "POST") -> tuple[int, Any, dict[str, str]]:
    result = handler(alb_request_event(method, path, body=None if body is None else json.dumps(body)), None)
    return result["statusCode"], json.loads(result["body"]), result["headers"]


def refused(handler: Any, path: str, body: Any) -> tuple[int, str]:
    """(status, error code) of a refusal, in either error shape (ours or OpenAI's, which both hold ``code``)."""
    status, answer, _ = send(handler, path, body)
    assert 400 <= status < 500, (status, answer)
    return status, answer["error"]["code"]


def unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector]


def close(a: list[float], b: list[float], tol: float = 1e-5) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# --- prompts: the default, input_type, prompt_name -------------------------------------------------

def test_the_default_prompt_is_applied_and_named_on_every_embedding_route(handler: Any,
                                                                          prompted: InferenceService) -> None:
    # The model's default prompt, prepended by hand, is what each route answers when no prompt is asked for.
    by_hand = prompted.embed([PROMPTS[DEFAULT_PROMPT] + t for t in TEXTS])
    bare = prompted.embed(TEXTS)
    assert not close(by_hand[0], bare[0], 1e-3)   # the prompt changes the vector: the check below can fail
    status, answer, _ = send(handler, "/v1/embeddings", {"input": TEXTS})
    assert status == 200 and answer["prompt_name"] == DEFAULT_PROMPT
    assert all(close(d["embedding"], e) for d, e in zip(answer["data"], by_hand, strict=True))
    # AND usage counts what the model read, the prompt's tokens included
    prompted_tokens = prompted.count_tokens([PROMPTS[DEFAULT_PROMPT] + t for t in TEXTS])
    assert prompted_tokens > prompted.count_tokens(TEXTS)
    assert answer["usage"] == {"prompt_tokens": prompted_tokens, "total_tokens": prompted_tokens}
    status, answer, _ = send(handler, "/predict", {"inputs": TEXTS})
    assert status == 200 and answer["prompt_name"] == DEFAULT_PROMPT and close(answer["outputs"][1], by_hand[1])
    status, vectors, headers = send(handler, "/embed", {"inputs": TEXTS})
    assert status == 200 and headers["X-Prompt-Name"] == DEFAULT_PROMPT and close(vectors[0], by_hand[0])


@pytest.mark.parametrize("input_type, prompt", [("query", "query"), ("document", "passage")])
def test_input_type_maps_to_the_models_prompt(handler: Any, prompted: InferenceService, input_type: str,
                                              prompt: str) -> None:
    expected = prompted.embed([PROMPTS[prompt] + t for t in TEXTS])
    for path, body, field in (("/v1/embeddings", {"input": TEXTS, "input_type": input_type}, "data"),
                              ("/predict", {"inputs": TEXTS, "input_type": input_type}, "outputs")):
        status, answer, _ = send(handler, path, body)
        assert status == 200 and answer["prompt_name"] == prompt, (path, answer)
        vectors = [d["embedding"] for d in answer[field]] if field == "data" else answer[field]
        assert all(close(v, e) for v, e in zip(vectors, expected, strict=True))


def test_an_explicit_prompt_name_wins_on_tei_routes(handler: Any, prompted: InferenceService) -> None:
    status, vectors, headers = send(handler, "/embed", {"inputs": TEXTS, "prompt_name": "classification"})
    assert status == 200 and headers["X-Prompt-Name"] == "classification"
    assert close(vectors[0], prompted.embed([PROMPTS["classification"] + TEXTS[0]])[0])
    status, root, _ = send(handler, "/", {"inputs": TEXTS, "prompt_name": "classification"})
    assert status == 200 and root == vectors


@pytest.mark.parametrize("path, body, code", [
    ("/embed", {"inputs": TEXTS, "prompt_name": "nope"}, "unknown_prompt"),
    ("/", {"inputs": TEXTS, "prompt_name": "nope"}, "unknown_prompt"),
    ("/tokenize", {"inputs": TEXTS, "prompt_name": "nope"}, "unknown_prompt"),
    ("/embed", {"inputs": TEXTS, "prompt_name": 3}, "invalid_field"),
    ("/v1/embeddings", {"input": TEXTS, "input_type": "code"}, "invalid_field"),
    ("/v1/embeddings", {"input": TEXTS, "input_type": 1}, "invalid_field"),
    ("/predict", {"inputs": TEXTS, "input_type": "Query"}, "invalid_field"),
    ("/embed", {"inputs": TEXTS, "input_type": "query"}, "unknown_field"),       # TEI's routes say prompt_name
    ("/v1/embeddings", {"input": TEXTS, "prompt_name": "query"}, "unknown_field"),  # OpenAI's says input_type
])
def test_bad_prompt_options_are_refused_with_their_code(handler: Any, path: str, body: Any, code: str) -> None:
    assert refused(handler, path, body) == (422, code)


def test_a_model_without_prompts_applies_none_and_refuses_a_prompt_name() -> None:
    fake = FakeService("embeddings", dimensions=4)
    handler = fake_handler(fake)
    # A Cohere-style client always sends input_type: on a symmetric model it applies nothing, and says nothing.
    status, answer, _ = send(handler, "/v1/embeddings", {"input": ["a"], "input_type": "document"})
    assert status == 200 and "prompt_name" not in answer
    assert fake.calls[-1] == ("embed", ["a"])
    assert refused(handler, "/embed", {"inputs": ["a"], "prompt_name": "query"}) == (422, "unsupported_parameter")


def test_input_type_the_model_has_no_prompt_for_is_refused() -> None:
    handler = fake_handler(FakeService("embeddings", prompts={"query": "q: "}))
    assert refused(handler, "/v1/embeddings", {"input": ["a"], "input_type": "document"}) \
        == (422, "input_type_not_supported")


# --- dimensions (Matryoshka) --------------------------------------------------------------------------

@pytest.mark.parametrize("size", [*MATRYOSHKA, 5])
def test_dimensions_truncates_and_renormalises_float_and_base64(handler: Any, size: int) -> None:
    full = send(handler, "/v1/embeddings", {"input": TEXTS})[1]["data"]
    expected = [unit(d["embedding"][:size]) for d in full]
    status, answer, _ = send(handler, "/v1/embeddings", {"input": TEXTS, "dimensions": size})
    assert status == 200 and all(close(d["embedding"], e) for d, e in zip(answer["data"], expected, strict=True))
    status, answer, _ = send(handler, "/v1/embeddings", {"input": TEXTS, "dimensions": size,
                                                         "encoding_format": "base64"})
    raw = [base64.b64decode(d["embedding"]) for d in answer["data"]]
    assert status == 200 and [len(r) for r in raw] == [4 * size] * 2
    assert all(close(list(struct.unpack(f"<{size}f", r)), e) for r, e in zip(raw, expected, strict=True))
    for path, body in (("/embed", {"inputs": TEXTS, "dimensions": size}),
                       ("/predict", {"inputs": TEXTS, "dimensions": size})):
        status, answer, _ = send(handler, path, body)
        vectors = answer if path == "/embed" else answer["outputs"]
        assert status == 200 and all(close(v, e) for v, e in zip(vectors, expected, strict=True)), path


def test_the_models_own_size_is_always_accepted(handler: Any, prompted: InferenceService) -> None:
    own = prompted.describe().spec.dimensions
    status, answer, _ = send(handler, "/v1/embeddings", {"input": TEXTS, "dimensions": own})
    assert status == 200 and len(answer["data"][0]["embedding"]) == own


@pytest.mark.parametrize("body, code", [
    ({"dimensions": 33}, "dimensions_not_supported"),   # over the model's own 32
    ({"dimensions": 0}, "invalid_field"),
    ({"dimensions": -1}, "invalid_field"),
    ({"dimensions": 1.5}, "invalid_field"),
    ({"dimensions": "8"}, "invalid_field"),
    ({"dimensions": True}, "invalid_field"),
])
def test_bad_dimensions_are_refused_with_their_code(handler: Any, body: dict[str, Any], code: str) -> None:
    for path, texts in (("/v1/embeddings", "input"), ("/embed", "inputs"), ("/predict", "inputs")):
        assert refused(handler, path, {texts: TEXTS, **body}) == (422, code), path


def test_a_model_not_trained_for_matryoshka_refuses_a_smaller_size() -> None:
    handler = fake_handler(FakeService("embeddings", dimensions=8))
    for path, texts in (("/v1/embeddings", "input"), ("/embed", "inputs"), ("/predict", "inputs")):
        status, answer, _ = send(handler, path, {texts: ["a"], "dimensions": 4})
        assert (status, answer["error"]["code"]) == (422, "unsupported_dimensions"), path
        assert "leave dimensions out, or send 8" in answer["error"]["message"]


# --- classification and reranking: raw_scores, top_n, return_documents / return_text ------------------

def test_classification_raw_scores_reach_the_model_and_change_the_scores() -> None:
    fake = FakeService("classification")
    handler = fake_handler(fake)
    status, calibrated, _ = send(handler, "/predict", {"inputs": ["abc"]})
    assert status == 200 and math.isclose(sum(p["score"] for p in calibrated["outputs"][0]), 1.0)
    status, raw, _ = send(handler, "/predict", {"inputs": ["abc"], "raw_scores": True})
    assert status == 200 and fake.calls[-1] == ("classify", (["abc"], None, True))
    assert sum(p["score"] for p in raw["outputs"][0]) > 1.5   # the fake's raw scores are its integers
    status, tei, _ = send(handler, "/", {"inputs": "abc", "raw_scores": True})
    assert status == 200 and tei == raw["outputs"][0]
    for path, body in (("/predict", {"inputs": ["a"], "raw_scores": "yes"}),
                       ("/predict", {"inputs": ["a"], "raw_scores": None}),
                       ("/", {"inputs": "a", "raw_scores": 1})):
        assert refused(handler, path, body) == (422, "invalid_field"), body


def test_rerank_raw_scores_top_n_and_documents() -> None:
    fake = FakeService("reranking")
    handler = fake_handler(fake)
    documents = ["a", "abcd", "ab"]
    status, answer, _ = send(handler, "/predict", {"query": "q", "documents": documents, "top_n": 2,
                                                   "return_documents": True, "raw_scores": True})
    assert status == 200
    assert answer["outputs"] == [{"index": 1, "score": 4.0, "document": "abcd"}, {"index": 2, "score": 2.0,
                                                                                  "document": "ab"}]
    status, answer, _ = send(handler, "/predict", {"query": "q", "documents": documents})
    assert [o["index"] for o in answer["outputs"]] == [1, 2, 0] and all("document" not in o for o in answer["outputs"])
    assert all(0 < o["score"] < 1 for o in answer["outputs"])
    status, tei, _ = send(handler, "/rerank", {"query": "q", "texts": documents, "return_text": True,
                                               "raw_scores": True})
    assert status == 200 and tei[0] == {"index": 1, "score": 4.0, "text": "abcd"}
    for body in ({"top_n": 0}, {"top_n": "1"}, {"return_documents": "yes"}, {"return_documents": None},
                 {"raw_scores": "no"}):
        assert refused(handler, "/predict", {"query": "q", "documents": documents, **body}) == (422, "invalid_field")
    assert refused(handler, "/rerank", {"query": "q", "texts": documents, "return_text": 1}) == (422, "invalid_field")
    assert refused(handler, "/rerank", {"query": "q", "texts": documents, "top_n": 1}) == (422, "unknown_field")


# --- truncate=false: refused over the model's maximum length -----------------------------------------

def test_truncate_false_refuses_an_input_over_the_maximum_length(handler: Any) -> None:
    status, answer, _ = send(handler, "/embed", {"inputs": ["short", LONG], "truncate": False})
    assert (status, answer["error"]["code"]) == (413, "input_too_long")
    assert "inputs[1]" in answer["error"]["message"]
    assert send(handler, "/embed", {"inputs": ["short", LONG]})[0] == 200          # truncated by default
    assert send(handler, "/embed", {"inputs": ["short"], "truncate": False})[0] == 200
    assert refused(handler, "/embed", {"inputs": ["a"], "truncate": "no"}) == (422, "invalid_field")


def test_truncate_false_on_rerank_and_classification() -> None:
    reranker = fake_handler(FakeService("reranking", max_tokens=8))
    long = " ".join(["w"] * 10)
    assert refused(reranker, "/rerank", {"query": "q", "texts": ["a", long], "truncate": False}) \
        == (413, "input_too_long")
    assert send(reranker, "/rerank", {"query": "q", "texts": ["a", long]})[0] == 200
    classifier = fake_handler(FakeService("classification", max_tokens=8))
    assert refused(classifier, "/", {"inputs": long, "truncate": False}) == (413, "input_too_long")
    assert send(classifier, "/", {"inputs": long})[0] == 200


# --- /tokenize and /decode -----------------------------------------------------------------------------

def squeezed(text: str) -> str:
    return text.replace(" ", "")  # a WordPiece decode puts spaces around punctuation ("query : hello")


def test_tokenize_and_decode_round_trip(handler: Any) -> None:
    # As TEI's /tokenize, the model's default prompt is part of what is tokenised unless another is named.
    status, tokens, _ = send(handler, "/tokenize", {"inputs": TEXTS[0]})
    assert status == 200 and len(tokens) == 1
    assert {"id", "text", "special", "start", "stop"} <= set(tokens[0][0])
    assert tokens[0][0]["special"] and tokens[0][-1]["special"]         # [CLS] ... [SEP]
    status, bare, _ = send(handler, "/tokenize", {"inputs": TEXTS[0], "add_special_tokens": False})
    assert status == 200 and [t["id"] for t in bare[0]] == [t["id"] for t in tokens[0][1:-1]]
    ids = [t["id"] for t in tokens[0]]
    status, texts, _ = send(handler, "/decode", {"ids": ids})
    assert status == 200 and squeezed(texts[0]) == squeezed(PROMPTS[DEFAULT_PROMPT] + TEXTS[0])
    status, kept, _ = send(handler, "/decode", {"ids": [ids], "skip_special_tokens": False})
    assert status == 200 and kept[0] != texts[0] and squeezed(texts[0]) in squeezed(kept[0])
    status, passage, _ = send(handler, "/tokenize", {"inputs": [TEXTS[0]], "prompt_name": "passage"})
    status, texts, _ = send(handler, "/decode", {"ids": [[t["id"] for t in passage[0]]]})
    assert status == 200 and squeezed(texts[0]) == squeezed(PROMPTS["passage"] + TEXTS[0])


@pytest.mark.parametrize("path, body, code", [
    ("/tokenize", {}, "missing_inputs"),
    ("/tokenize", {"inputs": [1, 2]}, "token_ids_not_supported"),
    ("/tokenize", {"inputs": ["a"], "add_special_tokens": "yes"}, "invalid_field"),
    ("/decode", {}, "missing_inputs"),
    ("/decode", {"ids": "101"}, "invalid_inputs"),
    ("/decode", {"ids": [1.5]}, "invalid_inputs"),
    ("/decode", {"ids": [-1]}, "invalid_inputs"),
    ("/decode", {"ids": [[1], "a"]}, "invalid_inputs"),
    ("/decode", {"ids": [1], "skip_special_tokens": None}, "invalid_field"),
    ("/decode", {"ids": [1], "extra": 1}, "unknown_field"),
    ("/decode", {"ids": [10**6]}, "invalid_token_id"),   # outside the vocabulary: the model's refusal
])
def test_bad_tokenize_and_decode_bodies_are_refused(handler: Any, path: str, body: Any, code: str) -> None:
    assert refused(handler, path, body) == (422, code)


# --- the /models/<name>/ prefix ------------------------------------------------------------------------

@pytest.mark.parametrize("path, body", [
    ("/v1/embeddings", {"input": TEXTS, "dimensions": 8}),
    ("/embed", {"inputs": TEXTS, "prompt_name": "passage"}),
    ("/predict", {"inputs": TEXTS}),
    ("/tokenize", {"inputs": TEXTS}),
    ("/embed", {"inputs": TEXTS, "prompt_name": "nope"}),     # an error too: the same answer
])
def test_the_model_prefix_answers_as_without_it(handler: Any, prompted: InferenceService, path: str,
                                                body: Any) -> None:
    name = prompted.describe().name
    plain, prefixed = send(handler, path, body), send(handler, f"/models/{name}{path}", body)
    if isinstance(plain[1], dict):
        for answer in (plain[1], prefixed[1]):
            answer.pop("instance", None), answer.pop("cold_start", None)
    assert prefixed[:2] == plain[:2]


def test_the_prefix_accepts_the_configured_model_name_and_refuses_another(prompted: InferenceService) -> None:
    handler = handler_for(prompted, Limits(model_name="my-embedder"))
    assert send(handler, "/models/my-embedder/v1/embeddings", {"input": ["a"]})[0] == 200
    for path in ("/models/other/v1/embeddings", "/models/other/embed", "/models/other/health"):
        status, answer, _ = send(handler, path, {"input": ["a"]})
        assert (status, answer["error"]["code"]) == (404, "model_not_found"), path
        assert "my-embedder" in answer["error"]["message"]
    status, answer, _ = send(handler, "/models/other/v1/embeddings", {"input": ["a"]})
    assert answer["error"]["type"] == "invalid_request_error"          # under /v1/: OpenAI's error shape
    status, answer, _ = send(handler, "/models/my-embedder/nope", None, method="GET")
    assert (status, answer["error"]["code"]) == (404, "not_found")


def test_the_prefixed_warm_route_is_the_load_balancers_to_refuse(handler: Any, prompted: InferenceService) -> None:
    # The template's OperatorRoutesRule answers /models/*/warm (and /warm) 404 at the load balancer
    # (tests/unit/test_template_models.py follows it through the rules), so the function need not refuse it:
    # keep-warm invokes the function directly, and a prefixed ping that reaches it answers as /warm.
    template = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    rule = template[template.index("OperatorRoutesRule:"):]
    rule = rule[:rule.index("\n  ", rule.index("Conditions"))]
    assert "/models/*/warm" in rule and "/warm," in rule
    name = prompted.describe().name
    status, answer, _ = send(handler, f"/models/{name}/warm", None, method="GET")
    assert status == 200 and answer["status"] == "warm"
