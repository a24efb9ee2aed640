"""The OpenAI- and TEI-shaped routes in process: answers, validation codes and messages, error shapes.

The embedding routes run on a tiny exported BERT (tests/tiny_models.py: 32 dimensions,
normalised in its graph; the real all-MiniLM-L6-v2 is the integration tests'); classification
and reranking on the in-memory fakes of tests/unit/fake_services.py. Which bodies are
valid at all is held to the OpenAPI document by tests/unit/test_api_spec.py; here, what each answer holds and says.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference_runtime.api.routes import build_handler
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.service import InferenceService
from lambda_shared.events import alb_request_event
from tests.helpers import load_event
from tests.unit.fake_services import LABELS, FakeService
from tests.unit.test_fuzz_request_path import JSON_VALUES, TEXT

MODEL = "tiny-bert-embeddings"
DIMENSIONS = 32
TEXTS = ["A man is eating food.", "Serverless inference, fast from the first request."]


@pytest.fixture(scope="module")
def service(tiny_artifact_dir: Path) -> InferenceService:
    loaded = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir))
    loaded.start()
    assert loaded.ready, loaded.error
    return loaded


@pytest.fixture
def handler(service: InferenceService) -> Any:
    new_instance()
    return build_handler(service)


def send(handler: Any, path: str, body: Any, *, method: str = "POST",
         headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
    raw = body if isinstance(body, (str, type(None))) else json.dumps(body)
    result = handler(alb_request_event(method, path, body=raw, headers=headers), None)
    assert result["headers"]["Content-Type"] == "application/json"
    return result["statusCode"], json.loads(result["body"]), result["headers"]


def native(handler: Any, texts: list[str]) -> list[list[float]]:
    status, answer, _ = send(handler, "/predict", {"inputs": texts})
    assert status == 200
    return answer["outputs"]


def close(a: list[float], b: list[float], tol: float = 1e-6) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# --- POST /v1/embeddings (OpenAI) -----------------------------------------------------------

def test_openai_embeddings_answer_in_openais_shape(handler: Any, service: InferenceService) -> None:
    # GIVEN two texts WHEN posted in OpenAI's shape
    status, answer, _ = send(handler, "/v1/embeddings", {"input": TEXTS, "model": MODEL})
    # THEN OpenAI's answer: a list of embedding objects in input order, the model, the token usage
    assert status == 200
    assert (answer["object"], answer["model"], [d["index"] for d in answer["data"]]) == ("list", MODEL, [0, 1])
    assert all(d["object"] == "embedding" and len(d["embedding"]) == DIMENSIONS for d in answer["data"])
    assert all(close(d["embedding"], e) for d, e in zip(answer["data"], native(handler, TEXTS), strict=True))
    tokens = service.count_tokens(TEXTS)
    assert answer["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens} and tokens > len(TEXTS) * 2


def test_openai_base64_is_little_endian_float32(handler: Any) -> None:
    _, floats, _ = send(handler, "/v1/embeddings", {"input": TEXTS, "encoding_format": "float"})
    _, packed, _ = send(handler, "/v1/embeddings", {"input": TEXTS, "encoding_format": "base64"})
    for as_float, as_base64 in zip(floats["data"], packed["data"], strict=True):
        raw = base64.b64decode(as_base64["embedding"], validate=True)
        decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
        # float32 of the same vector: equal once the float answer is rounded to float32 too
        as_float32 = struct.unpack(f"<{DIMENSIONS}f", struct.pack(f"<{DIMENSIONS}f", *as_float["embedding"]))
        assert list(decoded) == list(as_float32)


def test_openai_single_string_and_hub_style_model_name(handler: Any) -> None:
    status, answer, _ = send(handler, "/v1/embeddings", {"input": "hello", "model": f"sentence-transformers/{MODEL}"})
    assert status == 200 and len(answer["data"]) == 1 and answer["model"] == MODEL


@pytest.mark.parametrize("body, status, code, param, words", [
    ({"input": "x", "model": "text-embedding-3-small"}, 404, "model_not_found", "model", [MODEL]),
    ({"input": [[101, 2023, 102]]}, 422, "token_ids_not_supported", "input", ["check_embedding_ctx_length=False"]),
    ({"input": [101, 2023]}, 422, "token_ids_not_supported", "input", ["text only"]),
    ({"input": "x", "dimensions": 256}, 422, "unsupported_dimensions", "dimensions", [str(DIMENSIONS), "256"]),
    ({"input": "x", "encoding_format": "int8"}, 422, "invalid_field", "encoding_format", ['"float"', '"base64"']),
    ({"input": "x", "temperature": 1}, 422, "unknown_field", "temperature", ["'temperature'", "input, model"]),
    ({"model": MODEL}, 422, "missing_inputs", "input", ['"input"']),
    ({"input": []}, 422, "empty_inputs", "input", ["at least one"]),
    ({"input": ["x"] * 65}, 413, "too_many_inputs", "input", ["MAX_INPUTS"]),
    ({"input": ["ok", "\ud800"]}, 422, "invalid_text", "input", ["input[1]", "surrogate"]),
    ("[1, 2]", 400, "invalid_json", None, ["JSON object"]),
    ("{", 400, "invalid_json", None, ["not valid JSON"]),
])
def test_openai_refusals_in_openais_error_shape(handler: Any, body: Any, status: int, code: str, param: str | None,
                                                words: list[str]) -> None:
    answered, answer, _ = send(handler, "/v1/embeddings", body)
    # OpenAI's shape, which the openai SDK reads (message, type, param, code), and never a 5xx
    assert (answered, set(answer["error"])) == (status, {"message", "type", "param", "code"})
    error = answer["error"]
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")
    assert all(word in error["message"] for word in words), error["message"]


def test_openai_paths_answer_404_and_405_in_openais_shape(handler: Any) -> None:
    status, answer, _ = send(handler, "/v1/models", None, method="GET")
    assert (status, answer["error"]["code"], answer["error"]["type"]) == (404, "not_found", "invalid_request_error")
    status, answer, headers = send(handler, "/v1/embeddings", None, method="GET")
    assert (status, answer["error"]["code"], headers["Allow"]) == (405, "method_not_allowed", "POST")


def test_bad_tier_header_is_refused_on_every_inference_route(handler: Any) -> None:
    for path, body in (("/v1/embeddings", {"input": "x"}), ("/embed", {"inputs": "x"}), ("/", {"inputs": "x"})):
        status, answer, _ = send(handler, path, body, headers={"X-Latency-Tier": "gold"})
        assert (status, answer["error"]["code"]) == (400, "invalid_latency_tier"), path


def test_openai_route_normalises_a_model_that_does_not() -> None:
    # GIVEN an embedding model whose graph does not normalise (the fake's vectors are not unit length)
    fake = FakeService("embeddings", normalized=False)
    status, answer, _ = send(build_handler(fake), "/v1/embeddings", {"input": ["ab"]})  # type: ignore[arg-type]
    # THEN OpenAI's unit vectors, as its clients assume
    assert status == 200
    assert math.isclose(math.fsum(x * x for x in answer["data"][0]["embedding"]), 1.0, rel_tol=1e-9)


# --- POST /embed and POST / (TEI, embeddings) --------------------------------------------------

@pytest.mark.parametrize("path", ["/embed", "/"])
def test_tei_embed_answers_a_list_of_vectors(handler: Any, path: str) -> None:
    status, answer, _ = send(handler, path, {"inputs": TEXTS, "normalize": True, "truncate": True})
    assert status == 200 and isinstance(answer, list)
    assert all(close(a, b) for a, b in zip(answer, native(handler, TEXTS), strict=True))
    # one text: still a list of one vector, as TEI answers
    status, one, _ = send(handler, path, {"inputs": TEXTS[0]})
    assert status == 200 and len(one) == 1 and close(one[0], answer[0])


def test_tei_truncates_long_inputs_unless_truncate_is_false(handler: Any) -> None:
    long = "word " * 1_000  # ~1,000 tokens; the model reads 40
    status, answer, _ = send(handler, "/embed", {"inputs": [long]})
    assert status == 200 and close(answer[0], native(handler, [long])[0])
    status, answer, _ = send(handler, "/embed", {"inputs": ["short", long], "truncate": False})
    assert (status, answer["error"]["code"]) == (413, "input_too_long") and "inputs[1]" in answer["error"]["message"]


@pytest.mark.parametrize("body, code, param", [
    ({"inputs": "x", "normalize": False}, "unsupported_parameter", "normalize"),
    ({"inputs": "x", "truncation_direction": "left"}, "unsupported_parameter", "truncation_direction"),
    ({"inputs": "x", "prompt_name": "query"}, "unsupported_parameter", "prompt_name"),
    ({"inputs": "x", "encoding_format": "base64"}, "unsupported_parameter", "encoding_format"),
    ({"inputs": "x", "dimensions": 128}, "unsupported_dimensions", "dimensions"),
    ({"inputs": [101, 102]}, "token_ids_not_supported", "inputs"),
    ({"inputs": "x", "normalize": "yes"}, "invalid_field", "normalize"),
    ({"inputs": "x", "parameters": {"normalize": True}}, "unknown_field", "parameters"),
])
def test_tei_embed_refuses_what_it_does_not_do(handler: Any, body: dict[str, Any], code: str, param: str) -> None:
    status, answer, _ = send(handler, "/embed", body)
    assert (status, answer["error"]["code"]) == (422, code)
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}  # the project's shape
    assert param in answer["error"]["message"]


@pytest.mark.parametrize("path, body", [("/rerank", {"query": "q", "texts": ["a"]}), ("/rerank", "not even json")])
def test_a_route_of_another_task_names_the_models_task(handler: Any, path: str, body: Any) -> None:
    status, answer, _ = send(handler, path, body)
    assert (status, answer["error"]["code"]) == (422, "task_not_supported")
    message = answer["error"]["message"]
    assert "needs a model for reranking" in message and f"{MODEL}, a model for embeddings" in message
    assert "POST /v1/embeddings" in message


# --- POST /rerank and POST / (TEI, reranking; on a fake) -------------------------------------------

@pytest.mark.parametrize("path", ["/rerank", "/"])
def test_tei_rerank_sorts_by_score_and_returns_text_on_request(path: str) -> None:
    fake = FakeService("reranking")
    handler = build_handler(fake)  # type: ignore[arg-type]
    documents = ["bb", "a", "dddd", "ccc"]
    status, answer, _ = send(handler, path, {"query": "q", "texts": documents})
    assert status == 200
    scores = fake.rerank("q", documents)
    assert [r["index"] for r in answer] == [2, 3, 0, 1]
    assert all(r["score"] == scores[r["index"]] and "text" not in r for r in answer)
    _, with_text, _ = send(handler, path, {"query": "q", "texts": documents, "return_text": True})
    assert [r["text"] for r in with_text] == ["dddd", "ccc", "bb", "a"]
    assert ("rerank", ("q", documents)) in fake.calls


@pytest.mark.parametrize("body, status, code", [
    ({"texts": ["a"]}, 422, "missing_inputs"),
    ({"query": "q", "texts": []}, 422, "empty_inputs"),
    ({"query": "q", "texts": ["a"] * 65}, 413, "too_many_inputs"),
    ({"query": "q", "texts": ["a"], "top_n": 2}, 422, "unknown_field"),
])
def test_tei_rerank_refusals(body: dict[str, Any], status: int, code: str) -> None:
    answered, answer, _ = send(build_handler(FakeService("reranking")), "/rerank", body)  # type: ignore[arg-type]
    assert (answered, answer["error"]["code"]) == (status, code)


def test_reranker_refuses_the_embedding_routes_naming_its_task() -> None:
    handler = build_handler(FakeService("reranking"))  # type: ignore[arg-type]
    for path, body in (("/v1/embeddings", {"input": "x"}), ("/embed", {"inputs": "x"})):
        status, answer, _ = send(handler, path, body)
        assert (status, answer["error"]["code"]) == (422, "task_not_supported")
        assert "a model for reranking" in answer["error"]["message"] and "POST /rerank" in answer["error"]["message"]
    # under /v1/ in OpenAI's shape
    assert set(send(handler, "/v1/embeddings", {"input": "x"})[1]["error"]) == {"message", "type", "param", "code"}


# --- POST / (TEI's /predict shape, classification; on a fake) ---------------------------------------

def test_tei_classification_single_and_batch_shapes() -> None:
    fake = FakeService("classification")
    handler = build_handler(fake)  # type: ignore[arg-type]
    # one text (a string, or TEI's one-string array): a flat list of every label, by score
    for inputs in ("I like you", ["I like you"]):
        status, answer, _ = send(handler, "/", {"inputs": inputs})
        assert status == 200 and {p["label"] for p in answer} == set(LABELS)
        assert [p["score"] for p in answer] == sorted((p["score"] for p in answer), reverse=True)
    # a batch [[text], [text]]: one list per text
    status, batch, _ = send(handler, "/", {"inputs": [["a"], ["bb"]]})
    assert status == 200 and len(batch) == 2 and all(len(per_text) == len(LABELS) for per_text in batch)
    # huggingface_hub's text_classification sends "parameters" (top_k inside): the HF Inference
    # API's answer, a list per text, even for one text
    status, top, _ = send(handler, "/", {"inputs": "I like you", "parameters": {"top_k": 1}})
    assert status == 200 and len(top) == 1 and len(top[0]) == 1 and top[0][0]["label"] in LABELS
    assert ("classify", (["I like you"], 1)) in fake.calls
    status, every, _ = send(handler, "/", {"inputs": "I like you", "parameters": {}})
    assert status == 200 and len(every) == 1 and len(every[0]) == len(LABELS)


@pytest.mark.parametrize("body, code", [
    ({"inputs": ["a", "b"]}, "pairs_not_supported"),
    ({"inputs": [["a", "b"]]}, "pairs_not_supported"),
    ({"inputs": "x", "parameters": {"function_to_apply": "sigmoid"}}, "unsupported_parameter"),
    ({"inputs": "x", "parameters": {"top_k": 0}}, "invalid_field"),
    ({"inputs": []}, "empty_inputs"),
])
def test_tei_classification_refusals(body: dict[str, Any], code: str) -> None:
    status, answer, _ = send(build_handler(FakeService("classification")), "/", body)  # type: ignore[arg-type]
    assert (status, answer["error"]["code"]) == (422, code)


# --- no input gets a 5xx, and the model survives ------------------------------------------------------

ROUTE_BODIES = st.sampled_from(["/v1/embeddings", "/embed", "/", "/rerank", "/tokenize", "/decode", "/predict"])
FIELD_NAMES = st.sampled_from(["input", "inputs", "model", "encoding_format", "dimensions", "user", "normalize",
                               "truncate", "truncation_direction", "prompt_name", "query", "texts", "raw_scores",
                               "return_text", "parameters", "input_type", "add_special_tokens", "ids",
                               "skip_special_tokens", "return_documents", "top_n", "top_k"])
BODIES = st.dictionaries(FIELD_NAMES, JSON_VALUES | TEXT | st.lists(TEXT, max_size=4), max_size=5)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(path=ROUTE_BODIES, body=BODIES | JSON_VALUES)
def test_any_body_on_the_new_routes_gets_a_2xx_or_4xx(service: InferenceService, path: str, body: Any) -> None:
    handler = build_handler(service)
    result = handler(alb_request_event("POST", path, body=json.dumps(body)), None)
    assert 200 <= result["statusCode"] < 500, result["body"][:300]
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # the runtime can send it
    if result["statusCode"] >= 400:
        error = json.loads(result["body"])["error"]
        assert error["code"] and len(error["message"]) > 20
    assert service.ready
    assert handler(load_event("predict.json"), None)["statusCode"] == 200


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(task=st.sampled_from(["classification", "reranking"]),
       path=st.sampled_from(["/", "/rerank", "/predict", "/v1/embeddings"]),
       body=BODIES | st.dictionaries(st.sampled_from(["inputs", "parameters", "query", "texts", "documents",
                                                      "top_k", "top_n"]),
                                     JSON_VALUES | st.lists(st.lists(TEXT, max_size=3), max_size=3), max_size=4))
def test_any_body_for_the_other_tasks_gets_a_2xx_or_4xx(task: str, path: str, body: Any) -> None:
    result = build_handler(FakeService(task))(alb_request_event("POST", path, body=json.dumps(body)), None)  # type: ignore[arg-type]
    assert 200 <= result["statusCode"] < 500, result["body"][:300]
    json.dumps(result, ensure_ascii=False).encode("utf-8")
