"""The requests the golden responses were recorded for, and how an answer is normalised.

One list per model task, covering every route, each route's good request and each of its
4xx (and a 503 from a model that could not load), plus every file in events/. Recorded
by tests/golden/record.py from the code before issue 13's API redesign (commit c68512d);
replayed by tests/unit/test_golden_responses.py (tiny models) and
tests/integration/test_golden_responses.py (the real all-MiniLM-L6-v2), which compare.

Events are written out here as dicts (not built with api.events) so that the cases do
not change when the code under test does.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
ARN = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/standard/local"
# Normalised fields: they name this environment or this build, not the API's behaviour.
PLACEHOLDERS = {"instance": "<instance>", "version": "<version>"}
FLOAT_DIGITS = 6
# A real model's init trace (phases and timings) is the service's, not the API's: only its presence is compared.
OPAQUE = ("init",)


def event(method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
          query: dict[str, str] | None = None, raw: str | None = None, b64: bool = False) -> dict[str, Any]:
    """An ALB request event; ``body`` is JSON-encoded unless ``raw`` gives the text itself."""
    text = raw if raw is not None else ("" if body is None else json.dumps(body))
    return {"requestContext": {"elb": {"targetGroupArn": ARN}}, "httpMethod": method, "path": path,
            "queryStringParameters": dict(query or {}), "headers": dict(headers or {}),
            "body": text, "isBase64Encoded": b64}


def post(path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    return event("POST", path, body, **kwargs)


def get(path: str, **kwargs: Any) -> dict[str, Any]:
    return event("GET", path, **kwargs)


def _events_dir() -> list[tuple[str, Any]]:
    return [(f"events/{p.name}", json.loads(p.read_text())) for p in sorted(EVENTS_DIR.glob("*.json"))]


# RuntimeConfig's defaults, which the recordings ran under.
MAX_INPUTS, MAX_INPUT_CHARS = 64, 10_000


def _common() -> list[tuple[str, Any]]:
    """Routes that do not depend on the task: the lifecycle ones, routing errors, odd events."""
    return [
        ("health", get("/health")),
        ("warm", get("/warm")),
        ("warm hold 0", get("/warm", query={"hold_ms": "0"})),
        ("warm hold 5", get("/warm", query={"hold_ms": "5"})),
        ("warm hold empty", get("/warm", query={"hold_ms": ""})),
        ("warm hold abc", get("/warm", query={"hold_ms": "abc"})),
        ("warm hold negative", get("/warm", query={"hold_ms": "-1"})),
        ("warm hold over", get("/warm", query={"hold_ms": "999999999"})),
        ("warm multi-value", {**get("/warm"), "queryStringParameters": None, "headers": None,
                              "multiValueQueryStringParameters": {"hold_ms": ["x", "1"]},
                              "multiValueHeaders": {"user-agent": ["keepwarm"]}}),
        ("openapi", get("/openapi.json")),
        ("404", get("/nope")),
        ("404 long", get("/" + "x" * 500)),
        ("404 control", get("/a\u0000b\ud800")),
        ("404 under v1", post("/v1/chat/completions", {"x": 1})),
        ("405 predict", get("/predict")),
        ("405 health", post("/health", {})),
        ("405 v1", event("DELETE", "/v1/embeddings")),
        ("405 root", event("PUT", "/")),
        ("405 lower-case method", event("get", "/predict")),
        ("event not an object", []),
        ("event missing method", {"path": "/predict"}),
        ("event path not a string", {"httpMethod": "GET", "path": 5}),
        ("event headers wrong", {**get("/health"), "headers": {"a": 1}}),
        ("event headers list", {**get("/health"), "headers": ["a"]}),
        ("event multi headers wrong", {**get("/health"), "multiValueHeaders": {"a": [1]}}),
        ("event body not a string", {**post("/predict"), "body": {"inputs": ["a"]}}),
        ("event b64 flag not bool", {**post("/predict", {"inputs": ["a"]}), "isBase64Encoded": "yes"}),
    ]


def _body_errors(path: str, good: dict[str, Any], field: str) -> list[tuple[str, Any]]:
    """What every JSON route answers for a body that is not a usable JSON object, or over a limit."""
    label = f"{path} "
    return [
        (label + "empty body", post(path)),
        (label + "blank body", post(path, raw="  \n ")),
        (label + "invalid json", post(path, raw='{"' + field + '": [')),
        (label + "deep json", post(path, raw="[" * 100_000 + "]" * 100_000)),
        (label + "long number", post(path, raw='{"x": ' + "1" * 5000 + "}")),
        (label + "not an object", post(path, ["a"])),
        (label + "a string", post(path, "a")),
        (label + "over body limit", post(path, raw=json.dumps({field: ["a" * 1000] * 300}))),
        (label + "over ALB limit", post(path, raw=" " * 1_000_001 + json.dumps(good))),
        (label + "bad base64", post(path, raw="not base64!", b64=True)),
        (label + "base64 not utf-8", post(path, raw=base64.b64encode(b'{"' + field.encode() + b'": "\xff"}')
                                          .decode(), b64=True)),
        (label + "base64 good", post(path, raw=base64.b64encode(json.dumps(good).encode()).decode(), b64=True)),
        (label + "lone surrogate raw body", post(path, raw='{"' + field + '": "\ud800"}')),
        (label + "tier premium", post(path, good, headers={"x-latency-tier": "premium"})),
        (label + "tier gpu", post(path, good, headers={"x-latency-tier": " GPU "})),
        (label + "tier blank", post(path, good, headers={"x-latency-tier": " "})),
        (label + "tier bad", post(path, good, headers={"x-latency-tier": "platinum"})),
        (label + "tier odd", post(path, good, headers={"X-Latency-Tier": "\u0000" * 200})),
        (label + "unknown field", post(path, {**good, "extra": 1})),
        (label + "many unknown fields", post(path, {**good, **{f"f{i}": i for i in range(7)}, "y" * 50: 1})),
        (label + "multi-value good", {**post(path, good), "headers": None, "queryStringParameters": None,
                                      "multiValueHeaders": {"x-latency-tier": ["standard"]},
                                      "multiValueQueryStringParameters": {}}),
    ]


def _texts_errors(path: str, field: str, others: dict[str, Any]) -> list[tuple[str, Any]]:
    """A "text or texts" field's refusals (``others``: the rest of a good body)."""
    label = f"{path} {field} "
    return [
        (label + "missing", post(path, others)),
        (label + "number", post(path, {**others, field: 5})),
        (label + "null", post(path, {**others, field: None})),
        (label + "mixed list", post(path, {**others, field: ["a", 1]})),
        (label + "empty list", post(path, {**others, field: []})),
        (label + "empty string", post(path, {**others, field: ""})),
        (label + "token ids", post(path, {**others, field: [1, 2, 3]})),
        (label + "token id lists", post(path, {**others, field: [[1, 2], [3]]})),
        (label + "too many", post(path, {**others, field: ["a"] * (MAX_INPUTS + 1)})),
        (label + "too long", post(path, {**others, field: ["a", "b" * (MAX_INPUT_CHARS + 1)]})),
        (label + "lone surrogate", post(path, raw=json.dumps({**others, field: ["ok", "x\ud800y"]}))),
        (label + "unicode", post(path, {**others, field: ["Ünïcödé 東京 🚀", "a\u0000b"]})),
    ]


TEXTS = ["A man is eating food.", "A man is eating a piece of bread.", "Ünïcödé 東京 🚀"]
QUERY = "how do serverless functions start quickly?"
DOCUMENTS = ["cold model start", "the weather in paris", "serverless functions start quickly"]


def embeddings_cases(name: str, dimensions: int) -> list[tuple[str, Any]]:
    """An embedding model's routes; ``name`` is the served model's name."""
    good = {"inputs": TEXTS}
    cases = [
        ("predict", post("/predict", good)),
        ("predict one string", post("/predict", {"inputs": "just one"})),
        ("predict top_k (classification's)", post("/predict", {"inputs": ["a"], "top_k": 1})),
        ("predict query+documents (reranking's)", post("/predict", {"query": "q", "documents": ["a"]})),
        ("predict query+inputs", post("/predict", {"query": "q", "inputs": ["a"]})),
        *_body_errors("/predict", good, "inputs"),
        *_texts_errors("/predict", "inputs", {}),
        # OpenAI
        ("openai", post("/v1/embeddings", {"input": TEXTS[:2]})),
        ("openai one string", post("/v1/embeddings", {"input": "one"})),
        ("openai model", post("/v1/embeddings", {"input": ["a"], "model": name})),
        ("openai hub model", post("/v1/embeddings", {"input": ["a"], "model": f"sentence-transformers/{name}"})),
        ("openai model null", post("/v1/embeddings", {"input": ["a"], "model": None})),
        ("openai other model", post("/v1/embeddings", {"input": ["a"], "model": "text-embedding-3-small"})),
        ("openai model number", post("/v1/embeddings", {"input": ["a"], "model": 3})),
        ("openai base64", post("/v1/embeddings", {"input": ["a", "b"], "encoding_format": "base64"})),
        ("openai float", post("/v1/embeddings", {"input": ["a"], "encoding_format": "float"})),
        ("openai encoding null", post("/v1/embeddings", {"input": ["a"], "encoding_format": None})),
        ("openai encoding bad", post("/v1/embeddings", {"input": ["a"], "encoding_format": "int8"})),
        ("openai encoding number", post("/v1/embeddings", {"input": ["a"], "encoding_format": 1})),
        ("openai dimensions own", post("/v1/embeddings", {"input": ["a"], "dimensions": dimensions})),
        ("openai dimensions own float", post("/v1/embeddings", {"input": ["a"], "dimensions": float(dimensions)})),
        ("openai dimensions other", post("/v1/embeddings", {"input": ["a"], "dimensions": 16})),
        ("openai dimensions zero", post("/v1/embeddings", {"input": ["a"], "dimensions": 0})),
        ("openai dimensions bool", post("/v1/embeddings", {"input": ["a"], "dimensions": True})),
        ("openai dimensions string", post("/v1/embeddings", {"input": ["a"], "dimensions": "384"})),
        ("openai dimensions 1.5", post("/v1/embeddings", {"input": ["a"], "dimensions": 1.5})),
        ("openai user", post("/v1/embeddings", {"input": ["a"], "user": "me"})),
        ("openai user number", post("/v1/embeddings", {"input": ["a"], "user": 7})),
        *_body_errors("/v1/embeddings", {"input": ["a"]}, "input"),
        *_texts_errors("/v1/embeddings", "input", {}),
        # TEI
        ("tei embed", post("/embed", good)),
        ("tei embed one string", post("/embed", {"inputs": "one"})),
        ("tei embed normalize true", post("/embed", {"inputs": ["a"], "normalize": True})),
        ("tei embed normalize false", post("/embed", {"inputs": ["a"], "normalize": False})),
        ("tei embed normalize null", post("/embed", {"inputs": ["a"], "normalize": None})),
        ("tei embed normalize string", post("/embed", {"inputs": ["a"], "normalize": "yes"})),
        ("tei embed truncate", post("/embed", {"inputs": ["a"], "truncate": False, "truncation_direction": "Right"})),
        ("tei embed truncate null", post("/embed", {"inputs": ["a"], "truncate": None})),
        ("tei embed truncate string", post("/embed", {"inputs": ["a"], "truncate": "no"})),
        ("tei embed left", post("/embed", {"inputs": ["a"], "truncation_direction": "left"})),
        ("tei embed direction bad", post("/embed", {"inputs": ["a"], "truncation_direction": "up"})),
        ("tei embed direction number", post("/embed", {"inputs": ["a"], "truncation_direction": 1})),
        ("tei embed prompt", post("/embed", {"inputs": ["a"], "prompt_name": "query"})),
        ("tei embed prompt null", post("/embed", {"inputs": ["a"], "prompt_name": None})),
        ("tei embed float", post("/embed", {"inputs": ["a"], "encoding_format": "float"})),
        ("tei embed base64", post("/embed", {"inputs": ["a"], "encoding_format": "base64"})),
        ("tei embed encoding bad", post("/embed", {"inputs": ["a"], "encoding_format": "bf16"})),
        ("tei embed dimensions own", post("/embed", {"inputs": ["a"], "dimensions": dimensions})),
        ("tei embed dimensions other", post("/embed", {"inputs": ["a"], "dimensions": 3})),
        ("tei embed dimensions -1", post("/embed", {"inputs": ["a"], "dimensions": -1})),
        ("tei embed long input truncated", post("/embed", {"inputs": [" ".join(["word"] * 2000)]})),
        *_body_errors("/embed", good, "inputs"),
        *_texts_errors("/embed", "inputs", {}),
        ("tei root", post("/", good)),
        ("tei root normalize", post("/", {"inputs": "a", "normalize": True, "dimensions": None})),
        ("tei root rerank shape", post("/", {"query": "q", "texts": ["a"]})),
        *_body_errors("/", good, "inputs"),
        ("tei rerank (wrong task)", post("/rerank", {"query": "q", "texts": ["a"]})),
        ("tei rerank (wrong task, bad body)", post("/rerank", raw="nope")),
    ]
    return cases


def classification_cases() -> list[tuple[str, Any]]:
    good = {"inputs": TEXTS}
    return [
        ("predict", post("/predict", good)),
        ("predict top_k", post("/predict", {"inputs": TEXTS, "top_k": 1})),
        ("predict top_k null", post("/predict", {"inputs": "one", "top_k": None})),
        ("predict top_k 0", post("/predict", {"inputs": ["a"], "top_k": 0})),
        ("predict top_k 2.0", post("/predict", {"inputs": ["a"], "top_k": 2.0})),
        ("predict top_k bool", post("/predict", {"inputs": ["a"], "top_k": True})),
        ("predict top_k string", post("/predict", {"inputs": ["a"], "top_k": "2"})),
        ("predict top_k 99", post("/predict", {"inputs": ["a"], "top_k": 99})),
        ("predict query+documents (reranking's)", post("/predict", {"query": "q", "documents": ["a"]})),
        ("predict top_n (reranking's)", post("/predict", {"inputs": ["a"], "top_n": 1})),
        *_body_errors("/predict", good, "inputs"),
        *_texts_errors("/predict", "inputs", {"top_k": 2}),
        ("tei root one text", post("/", {"inputs": "I like you"})),
        ("tei root [text]", post("/", {"inputs": ["I like you"]})),
        ("tei root batch", post("/", {"inputs": [["I like you"], ["the quick brown fox"]]})),
        ("tei root pair", post("/", {"inputs": ["a", "b"]})),
        ("tei root three", post("/", {"inputs": ["a", "b", "c"]})),
        ("tei root batch of pairs", post("/", {"inputs": [["a", "b"]]})),
        ("tei root batch mixed", post("/", {"inputs": [["a"], "b"]})),
        ("tei root batch number", post("/", {"inputs": [[1]]})),
        ("tei root empty", post("/", {"inputs": []})),
        ("tei root number", post("/", {"inputs": 5})),
        ("tei root missing", post("/", {})),
        ("tei root too many", post("/", {"inputs": [["a"]] * (MAX_INPUTS + 1)})),
        ("tei root too long", post("/", {"inputs": "x" * (MAX_INPUT_CHARS + 1)})),
        ("tei root surrogate", post("/", raw='{"inputs": "\\ud800"}')),
        ("tei root parameters", post("/", {"inputs": "I like you", "parameters": {"top_k": 1}})),
        ("tei root parameters null", post("/", {"inputs": "I like you", "parameters": None})),
        ("tei root parameters empty", post("/", {"inputs": "I like you", "parameters": {}})),
        ("tei root parameters top_k null", post("/", {"inputs": "a", "parameters": {"top_k": None}})),
        ("tei root parameters function", post("/", {"inputs": "a", "parameters": {"function_to_apply": "none"}})),
        ("tei root parameters function null", post("/", {"inputs": "a", "parameters": {"function_to_apply": None}})),
        ("tei root parameters unknown", post("/", {"inputs": "a", "parameters": {"temperature": 1}})),
        ("tei root parameters string", post("/", {"inputs": "a", "parameters": "top_k=1"})),
        ("tei root parameters top_k 0", post("/", {"inputs": "a", "parameters": {"top_k": 0}})),
        ("tei root parameters top_k 1.0", post("/", {"inputs": "a", "parameters": {"top_k": 1.0}})),
        ("tei root raw_scores", post("/", {"inputs": "a", "raw_scores": True})),
        ("tei root raw_scores false", post("/", {"inputs": "a", "raw_scores": False, "truncate": True})),
        ("tei root raw_scores string", post("/", {"inputs": "a", "raw_scores": "no"})),
        ("tei root left", post("/", {"inputs": "a", "truncation_direction": "Left"})),
        ("tei root unknown", post("/", {"inputs": "a", "normalize": True})),
        *_body_errors("/", {"inputs": "a"}, "inputs"),
        ("openai (wrong task)", post("/v1/embeddings", {"input": ["a"]})),
        ("tei embed (wrong task)", post("/embed", {"inputs": ["a"]})),
        ("tei rerank (wrong task)", post("/rerank", {"query": "q", "texts": ["a"]})),
    ]


def reranking_cases() -> list[tuple[str, Any]]:
    good = {"query": QUERY, "documents": DOCUMENTS}
    tei = {"query": QUERY, "texts": DOCUMENTS}
    return [
        ("predict", post("/predict", good)),
        ("predict top_n", post("/predict", {**good, "top_n": 2})),
        ("predict top_n null", post("/predict", {**good, "top_n": None})),
        ("predict top_n 0", post("/predict", {**good, "top_n": 0})),
        ("predict top_n string", post("/predict", {**good, "top_n": "1"})),
        ("predict one document", post("/predict", {"query": QUERY, "documents": "one"})),
        ("predict query missing", post("/predict", {"documents": ["a"]})),
        ("predict query number", post("/predict", {"query": 1, "documents": ["a"]})),
        ("predict query list", post("/predict", {"query": ["a"], "documents": ["a"]})),
        ("predict query too long", post("/predict", {"query": "q" * (MAX_INPUT_CHARS + 1), "documents": ["a"]})),
        ("predict query surrogate", post("/predict", raw='{"query": "\\udc00", "documents": ["a"]}')),
        ("predict inputs (embeddings')", post("/predict", {"inputs": ["a"]})),
        ("predict top_k (classification's)", post("/predict", {"inputs": ["a"], "top_k": 1})),
        *_body_errors("/predict", good, "documents"),
        *_texts_errors("/predict", "documents", {"query": QUERY}),
        ("tei rerank", post("/rerank", tei)),
        ("tei rerank return_text", post("/rerank", {**tei, "return_text": True})),
        ("tei rerank return_text string", post("/rerank", {**tei, "return_text": "yes"})),
        ("tei rerank raw_scores", post("/rerank", {**tei, "raw_scores": True})),
        ("tei rerank raw_scores false", post("/rerank", {**tei, "raw_scores": False})),
        ("tei rerank truncate", post("/rerank", {**tei, "truncate": True, "truncation_direction": "right"})),
        ("tei rerank left", post("/rerank", {**tei, "truncation_direction": "left"})),
        ("tei rerank texts string", post("/rerank", {"query": QUERY, "texts": "one"})),
        ("tei rerank texts missing", post("/rerank", {"query": QUERY})),
        ("tei rerank texts empty", post("/rerank", {"query": QUERY, "texts": []})),
        ("tei rerank texts mixed", post("/rerank", {"query": QUERY, "texts": ["a", None]})),
        ("tei rerank texts ids", post("/rerank", {"query": QUERY, "texts": [[1, 2]]})),
        ("tei rerank texts too many", post("/rerank", {"query": QUERY, "texts": ["a"] * (MAX_INPUTS + 1)})),
        ("tei rerank texts too long", post("/rerank", {"query": QUERY, "texts": ["a" * (MAX_INPUT_CHARS + 1)]})),
        ("tei rerank query missing", post("/rerank", {"texts": ["a"]})),
        ("tei rerank query number", post("/rerank", {"query": 2, "texts": ["a"]})),
        ("tei rerank query too long", post("/rerank", {"query": "q" * (MAX_INPUT_CHARS + 1), "texts": ["a"]})),
        ("tei rerank query surrogate", post("/rerank", raw='{"query": "\\ud800", "texts": ["a"]}')),
        ("tei rerank unknown", post("/rerank", {**tei, "top_n": 1})),
        *_body_errors("/rerank", tei, "texts"),
        ("tei root", post("/", {**tei, "return_text": True})),
        ("tei root embed shape", post("/", {"inputs": ["a"]})),
        *_body_errors("/", tei, "texts"),
        ("openai (wrong task)", post("/v1/embeddings", {"input": ["a"]})),
        ("tei embed (wrong task)", post("/embed", {"inputs": ["a"]})),
        ("tei embed (wrong task, bad body)", post("/embed", raw="[")),
    ]


def broken_cases() -> list[tuple[str, Any]]:
    """A model that cannot load (no artifact): the 503s, and the routes that answer without the model."""
    return [
        ("health", get("/health")),
        ("warm", get("/warm")),
        ("warm bad hold", get("/warm", query={"hold_ms": "x"})),
        ("openapi", get("/openapi.json")),
        ("predict", post("/predict", {"inputs": ["a"]})),
        ("predict bad tier", post("/predict", {"inputs": ["a"]}, headers={"x-latency-tier": "gold"})),
        ("predict bad json", post("/predict", raw="{")),
        ("openai", post("/v1/embeddings", {"input": ["a"]})),
        ("tei embed", post("/embed", {"inputs": ["a"]})),
        ("tei rerank", post("/rerank", {"query": "q", "texts": ["a"]})),
        ("tei root", post("/", {"inputs": ["a"]})),
        ("404", get("/nope")),
        ("405", get("/v1/embeddings")),
    ]


def cases(kind: str, *, name: str = "", dimensions: int = 0) -> list[tuple[str, Any]]:
    """The requests for a model of ``kind`` (embeddings, classification, reranking, broken), in order."""
    by_kind: dict[str, Callable[[], list[tuple[str, Any]]]] = {
        "embeddings": lambda: embeddings_cases(name, dimensions),
        "classification": classification_cases, "reranking": reranking_cases, "broken": broken_cases,
    }
    specific = by_kind[kind]()
    every = ([] if kind == "broken" else _common()) + specific + _events_dir()
    names = [n for n, _ in every]
    assert len(names) == len(set(names)), "case names must be unique"
    return every


def normalise(result: dict[str, Any], *, loader_message: bool = False) -> dict[str, Any]:
    """An ALB result as the golden file stores it: the body parsed, volatile fields replaced, floats rounded.

    ``loader_message``: the 503's message is the model loader's reason (with a temporary
    path), not the API's; it is replaced by a placeholder.
    """
    headers = result.get("headers") if result.get("headers") is not None else result.get("multiValueHeaders")
    # Server-Timing (issue 15) came after the recordings and its values are timings: it is left out here
    # and tested in tests/unit/test_server_timing.py (names, order, the cold start's init entries).
    headers = {k: v for k, v in headers.items() if k != "Server-Timing"} if isinstance(headers, dict) else headers
    text = result["body"]
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = {"<text>": text}
    body = _normalise(body)
    if loader_message and result["statusCode"] == 503 and isinstance(body, dict):
        error = body.get("error", {})
        if isinstance(error, dict) and "message" in error:
            error["message"] = "<loader message>"
    return {"status": result["statusCode"], "statusDescription": result.get("statusDescription"),
            "isBase64Encoded": result.get("isBase64Encoded"),
            "multiValue": "multiValueHeaders" in result, "headers": headers, "body": body}


def _normalise(value: Any, key: str | None = None) -> Any:
    if key == "embedding" and isinstance(value, str):
        # OpenAI's base64 float32: compared as the floats it holds, so that rounding applies.
        raw = base64.b64decode(value)
        return {"<base64 float32>": [round(x, FLOAT_DIGITS) for x in struct.unpack(f"<{len(raw) // 4}f", raw)]}
    if key in PLACEHOLDERS and isinstance(value, str) and value:
        return PLACEHOLDERS[key]
    if key in OPAQUE and isinstance(value, dict):
        return "<object>"
    if isinstance(value, dict):
        return {k: _normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS) if math.isfinite(value) else repr(value)
    return value


# Floats are compared within this: a model re-exported by newer code may differ in the
# last bits (ONNX graph details), and rounding to 6 digits alone can flip a digit.
FLOAT_TOLERANCE = 2e-6


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected`` (both normalised): exact but for float tolerance."""
    if isinstance(expected, float) or isinstance(actual, float):
        both_numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (expected, actual))
        if both_numbers and abs(expected - actual) <= FLOAT_TOLERANCE:
            return []
        return [f"{where}: {expected!r} != {actual!r}"]
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}.{k}: missing" for k in expected if k not in actual]
        out += [f"{where}.{k}: unexpected" for k in actual if k not in expected]
        for k in expected.keys() & actual.keys():
            out += differences(expected[k], actual[k], f"{where}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items != {len(actual)}"]
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in differences(e, a, f"{where}[{i}]")]
    return [] if expected == actual and type(expected) is type(actual) else [f"{where}: {expected!r} != {actual!r}"]


# --- serving a model as Lambda would, and replaying the cases --------------------------------

TINY = {"embeddings": "tiny-bert-embeddings", "classification": "tiny-bert-classifier",
        "reranking": "tiny-bert-reranker"}
REAL = "all-MiniLM-L6-v2"


def build_tiny(task: str, root: Path) -> Path:
    """A tiny random BERT for ``task`` (tests/tiny_models.py, seed 0), exported by the code on the path."""
    from tests.tiny_models import make_model
    from tools.export import build

    directory = make_model(root / "models", "bert", task)
    artifact = root / "artifacts" / TINY[task]
    build(artifact, model_dir=directory, name=TINY[task])
    return artifact


def serve(artifact: Path, module_name: str) -> Callable[[Any, Any], dict[str, Any]]:
    """functions/inference/app.py's handler, its module imported with MODEL_ARTIFACT_DIR=artifact."""
    import importlib.util

    os.environ["MODEL_ARTIFACT_DIR"] = str(artifact)
    root = Path(os.environ.get("GOLDEN_APP_ROOT", Path(__file__).resolve().parents[2]))
    app_path = root / "functions" / "inference" / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, app_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    from inference_runtime.lifecycle import new_instance

    new_instance()  # the first case is this environment's cold start
    return module.handler


def replay(handler: Callable[[Any, Any], dict[str, Any]], kind: str, **kwargs: Any) -> dict[str, Any]:
    return {name: normalise(handler(event, None), loader_message=kind == "broken")
            for name, event in cases(kind, **kwargs)}
