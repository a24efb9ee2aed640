"""The OpenAPI document against what the routes accept, on in-memory fakes of each task.

One definition (``inference_runtime/api/table.py``) feeds the resolver's routes, the
validation of every body and the document, so: every registered route is in the document and every documented one is
registered; the document is valid OpenAPI 3.1; and for example requests, good and bad,
a handler answers 2xx exactly when the body is valid against the schema the document
gives for the loaded model's task, and its 2xx answers are valid against the documented
response schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from inference_runtime.api.model import Limits
from inference_runtime.api.openapi import openapi_document
from inference_runtime.api.routes import ROUTES, build_app, handler_for
from inference_runtime.api.table import ROUTE_SPECS
from lambda_shared.events import alb_request_event
from tests.helpers import REPO_ROOT
from tests.unit.fake_services import FakeService

MODEL = "all-MiniLM-L6-v2"
LONG = "x" * 10_001
LONE_SURROGATE = "\ud800"


@pytest.fixture
def service() -> FakeService:
    """An embedding model as all-MiniLM-L6-v2 describes itself: 384 dimensions, normalised in its graph."""
    return FakeService("embeddings", name=MODEL, dimensions=384, normalized=True)


def registered(app: Any) -> set[tuple[str, str]]:
    return set(app.routes)


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}


def send(handler: Any, method: str, path: str, body: Any = None,
         query: dict[str, str] | None = None) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body)
    result = handler(alb_request_event(method, path, body=raw, query=query), None)
    return result["statusCode"], json.loads(result["body"])


# --- the table, the resolver and the document -------------------------------------------

def test_every_registered_route_is_documented_and_back(service: FakeService) -> None:
    # GIVEN the resolver build_app wires, and the document served for the same model
    app = build_app(service, Limits())
    document = openapi_document(Limits())
    # THEN the same (method, path) pairs, the spec's, and ROUTES (metrics, 404/405) agrees
    assert registered(app) == documented(document) == {(r.method, r.path) for r in ROUTE_SPECS}
    assert {(m, p) for p, methods in ROUTES.items() for m in methods} == registered(app)


@pytest.mark.parametrize("task", [None, "embeddings", "classification", "reranking"])
def test_the_document_is_valid_openapi_3_1(task: str | None) -> None:
    model = None if task is None else FakeService(task, name="m", dimensions=8, normalized=True).describe()
    document = openapi_document(Limits(), model)
    validate_openapi(document)
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_docs_openapi_json_is_current() -> None:
    from tools.openapi import main

    assert main(["--check", str(REPO_ROOT / "docs" / "openapi.json")]) == 0, \
        "regenerate it: python -m tools.openapi -o docs/openapi.json"


def test_served_document_names_the_model_and_what_it_cannot_serve(service: FakeService) -> None:
    status, document = send(handler_for(service, Limits()), "GET", "/openapi.json")
    assert status == 200
    validate_openapi(document)
    assert document["info"]["x-model"] == {"name": MODEL, "task": "embeddings", "dimensions": 384,
                                           "normalized": True}
    rerank = document["paths"]["/rerank"]["post"]
    assert rerank["requestBody"]["content"]["application/json"]["schema"] is False
    assert "its model is for embeddings" in rerank["description"]
    root = document["paths"]["/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert root == {"$ref": "#/components/schemas/TeiEmbedRequest"}


def test_before_the_model_loads_the_generic_document_is_served() -> None:
    idle = FakeService("embeddings")
    idle.ready = False
    status, document = send(handler_for(idle, Limits()), "GET", "/openapi.json")
    assert status == 200 and "x-model" not in document["info"]
    assert document == openapi_document(Limits())


# --- requests: the handler's answer against the document's schema ------------------------

GOOD_TEXTS = [{"inputs": "x"}, {"inputs": ["a", "b"]}, {"inputs": ""}]
BAD_TEXTS = [{}, {"inputs": []}, {"inputs": 5}, {"inputs": None}, {"inputs": [["a"]]}, {"inputs": ["x"] * 65},
             {"inputs": [LONG]}, {"inputs": LONE_SURROGATE}, {"inputs": ["ok", LONE_SURROGATE]}, [], "x",
             {"inputs": "x", "extra": 1}]

# (method, path) -> example bodies for the real embedding model, good and bad alike: the
# test does not say which is which, the document does, and the handler must agree.
EMBEDDING_EXAMPLES: dict[tuple[str, str], list[Any]] = {
    ("POST", "/predict"): GOOD_TEXTS + BAD_TEXTS,
    ("POST", "/v1/embeddings"): [
        {"input": "x"}, {"input": ["a", "b"], "model": MODEL},
        {"input": "x", "model": f"sentence-transformers/{MODEL}"},
        {"input": "x", "encoding_format": "base64"}, {"input": "x", "encoding_format": None, "dimensions": 384,
                                                      "user": "u"},
        {"input": "x", "dimensions": 384.0}, {"input": "x", "model": None},
        {}, {"input": []}, {"input": [1, 2]}, {"input": [[1, 2], [3]]},
        {"input": "x", "model": "text-embedding-3-small"},
        {"input": "x", "model": f"a/b/{MODEL}"}, {"input": "x", "model": 5}, {"input": "x", "encoding_format": "int8"},
        {"input": "x", "dimensions": 256}, {"input": "x", "dimensions": 0}, {"input": "x", "dimensions": True},
        {"input": "x", "dimensions": "384"}, {"input": "x", "user": 5}, {"input": "x", "foo": 1},
        {"input": ["x"] * 65}, {"input": LONE_SURROGATE}, {"input": LONG}, {"inputs": "x"}, ["x"],
    ],
    ("POST", "/embed"): [
        {"inputs": "x"}, {"inputs": ["a", "b"], "normalize": True, "truncate": False, "truncation_direction": "right"},
        {"inputs": "x", "truncate": None, "truncation_direction": "Right", "prompt_name": None, "dimensions": 384,
         "encoding_format": "float"},
        {"inputs": "x", "normalize": False}, {"inputs": "x", "normalize": None}, {"inputs": "x", "truncate": "yes"},
        {"inputs": "x", "truncation_direction": "left"}, {"inputs": "x", "truncation_direction": "up"},
        {"inputs": "x", "prompt_name": "query"}, {"inputs": "x", "prompt_name": 3},
        {"inputs": "x", "encoding_format": "base64"}, {"inputs": "x", "dimensions": 128}, {"inputs": [101, 102]},
        {"inputs": "x", "parameters": {}}, {"input": "x"}, *BAD_TEXTS,
    ],
    ("POST", "/"): [{"inputs": "x"}, {"inputs": ["a", "b"], "normalize": True}, {"inputs": "x", "raw_scores": False},
                    {"inputs": "x", "normalize": False}, {"query": "q", "texts": ["a"]}, *BAD_TEXTS],
    ("POST", "/rerank"): [{"query": "q", "texts": ["a"]}, {"inputs": "x"}, {}],
}

# The same for the two other tasks, on in-memory fakes of the service (tests/unit/fake_services.py).
RERANK_BODIES = [
    {"query": "q", "texts": ["a", "bb"]}, {"query": "q", "texts": ["a"], "return_text": True, "raw_scores": False,
                                           "truncate": True, "truncation_direction": "right"},
    {"query": "", "texts": [""]},
    {"query": "q"}, {"texts": ["a"]}, {"query": "q", "texts": []}, {"query": "q", "texts": "a"},
    {"query": 1, "texts": ["a"]}, {"query": "q", "texts": ["a"], "raw_scores": True},
    {"query": "q", "texts": ["a"], "raw_scores": None}, {"query": "q", "texts": ["a"], "return_text": "yes"},
    {"query": "q", "texts": ["a"] * 65}, {"query": LONG, "texts": ["a"]}, {"query": "q", "texts": [LONE_SURROGATE]},
    {"query": "q", "texts": [[1, 2]]}, {"query": "q", "texts": ["a"], "top_n": 1}, {"inputs": "x"},
]
PREDICT_BODIES = [
    {"inputs": "I like you"}, {"inputs": ["I like you"]}, {"inputs": [["a"], ["b"]]},
    {"inputs": "x", "parameters": {"top_k": 1}}, {"inputs": "x", "parameters": None},
    {"inputs": "x", "parameters": {"top_k": None, "function_to_apply": None}}, {"inputs": "x", "raw_scores": False},
    {"inputs": ["a", "b"]}, {"inputs": ["a", "b", "c"]}, {"inputs": [["a", "b"]]}, {"inputs": [["a"], "b"]},
    {"inputs": [[]]}, {"inputs": []}, {"inputs": [["a"]] * 65}, {"inputs": 3}, {}, {"inputs": "x", "raw_scores": True},
    {"inputs": "x", "parameters": {"top_k": 0}}, {"inputs": "x", "parameters": {"function_to_apply": "softmax"}},
    {"inputs": "x", "parameters": {"k": 1}}, {"inputs": "x", "parameters": 5}, {"inputs": LONE_SURROGATE},
    {"inputs": [[LONG]]}, {"inputs": "x", "normalize": True},
]
# /predict, the native route, in each task's own shape (its handler is the other half of issue 8).
PREDICT_CLASSIFY_BODIES = [
    {"inputs": "x"}, {"inputs": ["a", "b"], "top_k": 1}, {"inputs": "x", "top_k": None},
    {"inputs": "x", "top_k": 0}, {"inputs": []}, {"inputs": [["a"]]}, {"top_k": 1}, {"inputs": "x", "top_n": 1},
    {"query": "q", "documents": ["a"]}, {"inputs": [LONE_SURROGATE]},
]
PREDICT_RERANK_BODIES = [
    {"query": "q", "documents": ["a", "bb"]}, {"query": "q", "documents": "a"},
    {"query": "q", "documents": ["a", "b"], "top_n": 1}, {"query": "q", "documents": ["a"], "top_n": None},
    {"query": "q"}, {"documents": ["a"]}, {"query": "q", "documents": []},
    {"query": "q", "documents": ["a"], "top_n": 0},
    {"inputs": "x"}, {"query": 5, "documents": ["a"]}, {"query": "q", "documents": ["a"] * 65},
    {"query": "q", "texts": ["a"]},
]
FAKE_EXAMPLES: dict[str, dict[tuple[str, str], list[Any]]] = {
    "reranking": {("POST", "/rerank"): RERANK_BODIES, ("POST", "/"): RERANK_BODIES,
                  ("POST", "/predict"): PREDICT_RERANK_BODIES,
                  ("POST", "/v1/embeddings"): [{"input": "x"}, {}], ("POST", "/embed"): [{"inputs": "x"}]},
    "classification": {("POST", "/"): PREDICT_BODIES, ("POST", "/rerank"): [{"query": "q", "texts": ["a"]}],
                       ("POST", "/predict"): PREDICT_CLASSIFY_BODIES,
                       ("POST", "/v1/embeddings"): [{"input": "x"}], ("POST", "/embed"): [{"inputs": "x"}]},
}


def schemas_for(document: dict[str, Any], method: str, path: str) -> tuple[Any, Any]:
    """(request validator or None, 200-answer validator or None) from the document, $refs resolved in it."""
    operation = document["paths"][path][method.lower()]

    def validator(schema: Any) -> Draft202012Validator:
        root = schema if isinstance(schema, bool) else {**schema, "components": document["components"]}
        return Draft202012Validator(root)

    request = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    response = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema")
    return (None if request is None else validator(request)), (None if response is None else validator(response))


def check_agreement(handler: Any, document: dict[str, Any], method: str, path: str, bodies: list[Any]) -> set[bool]:
    request_schema, response_schema = schemas_for(document, method, path)
    assert request_schema is not None, (method, path)
    seen = set()
    for body in bodies:
        status, answer = send(handler, method, path, body)
        valid = request_schema.is_valid(body)
        assert 200 <= status < 500, (path, body, status, answer)
        assert (200 <= status < 300) == valid, (path, body, status, answer,
                                                [e.message for e in request_schema.iter_errors(body)][:3])
        if valid:
            response_schema.validate(answer)
        seen.add(valid)
    return seen


@pytest.mark.parametrize("method, path", sorted(EMBEDDING_EXAMPLES))
def test_embedding_model_answers_2xx_exactly_for_documented_requests(service: FakeService, method: str,
                                                                    path: str) -> None:
    # GIVEN the document the deployment serves for its model (all-MiniLM-L6-v2, embeddings)
    handler = handler_for(service, Limits())
    _, document = send(handler, "GET", "/openapi.json")
    # WHEN each example is sent THEN 2xx exactly when the document's schema accepts it
    seen = check_agreement(handler, document, method, path, EMBEDDING_EXAMPLES[(method, path)])
    if path != "/rerank":  # the embedding model serves no rerank body at all
        assert seen == {True, False}, "each route needs good and bad examples"


@pytest.mark.parametrize("task, method, path", [(task, *route) for task, routes in sorted(FAKE_EXAMPLES.items())
                                                for route in sorted(routes)])
def test_other_tasks_answer_2xx_exactly_for_documented_requests(task: str, method: str, path: str) -> None:
    fake = FakeService(task)
    handler = handler_for(fake, Limits())
    _, document = send(handler, "GET", "/openapi.json")
    assert document["info"]["x-model"]["task"] == task
    seen = check_agreement(handler, document, method, path, FAKE_EXAMPLES[task][(method, path)])
    served = task in next(r.tasks for r in ROUTE_SPECS if (r.method, r.path) == (method, path))
    assert seen == ({True, False} if served else {False})


@pytest.mark.parametrize("hold_ms", [None, "0", "1", "2001", "-1", "abc", "1.5", "99999"])
def test_warm_query_parameter_agrees_with_the_document(service: FakeService, hold_ms: str | None) -> None:
    handler = handler_for(service, Limits())
    _, document = send(handler, "GET", "/openapi.json")
    parameter = document["paths"]["/warm"]["get"]["parameters"][0]
    assert parameter["name"] == "hold_ms"
    schema = Draft202012Validator({**parameter["schema"], "components": document["components"]})
    status, answer = send(handler, "GET", "/warm", query={"hold_ms": hold_ms} if hold_ms is not None else None)
    try:
        value: Any = int(hold_ms) if hold_ms is not None else None
    except ValueError:
        value = hold_ms  # not an integer: the schema says so too
    assert (status == 200) == (value is None or schema.is_valid(value)), (hold_ms, status, answer)
    if status == 200:
        schemas_for(document, "GET", "/warm")[1].validate(answer)


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_get_routes_answer_what_the_document_says(service: FakeService, path: str) -> None:
    handler = handler_for(service, Limits())
    _, document = send(handler, "GET", "/openapi.json")
    status, answer = send(handler, "GET", path)
    assert status == 200
    schemas_for(document, "GET", path)[1].validate(answer)


def test_the_handler_import_leaves_the_ecosystem_modules_to_their_first_request() -> None:
    # GIVEN a fresh interpreter WHEN the routes module is imported (the handler's import path)
    import subprocess
    import sys

    probe = ("import sys; sys.path.insert(0, 'layers/runtime'); import inference_runtime.api.routes; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'jsonschema') or m in "
             "('inference_runtime.api.ecosystem', 'inference_runtime.api.openapi')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    # THEN no schema library and none of the shapes' modules: each is imported by its first request
    assert out.stdout.strip() == "[]"
