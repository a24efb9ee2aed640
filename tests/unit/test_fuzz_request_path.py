"""Property-based fuzzing of the request path, in process, on a tiny exported embedding model.

Whatever reaches the handler (any body, any text inside a good body, any header,
query string, path or method, any malformed event) the answer is a 2xx or a 4xx
with the JSON error shape, never an exception and never a 5xx, and the environment
keeps its loaded model: the next good /predict is served warm by the same instance.

The model is loaded once for the session. Every property is derandomized (the same
examples on every run, so CI repeats) and runs 2,000 examples.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference_runtime.api.routes import build_handler
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import new_instance
from inference_runtime.lifecycle.metrics import ColdStartMetrics
from inference_runtime.service import InferenceService
from lambda_shared.events import alb_request_event
from tests.helpers import load_event

FUZZ = settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,  # seeded from the test itself: every run tries the same inputs
    database=None,  # and nothing saved by an earlier run changes them
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

# A hold of at most 2 ms: a fuzzed /warm?hold_ms=N must not make the run sleep.
MAX_HOLD_MS = 2

# --- strategies ----------------------------------------------------------------------

# Any code point, lone surrogates included (st.text() alone leaves them out).
ANY_TEXT = st.text(alphabet=st.characters(), max_size=40)
NASTY_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d", "\ude80y", "\ud83d\ude80", "🚀", "\U0010ffff",
    "\ufeff", "\u2028\u2029", "\x1b[31m", "\r\n", "\t", "\x7f", "\ufffd", "Ünïcödé", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u0301" * 50,
    "<script>", "'; DROP TABLE", "%00", "\\u0000", "null", "[CLS] [SEP] [PAD] [MASK] [UNK]",
])
# Around MAX_INPUT_CHARS (10,000): both sides of the limit, with multi-code-point pieces.
LONG_TEXT = st.builds(lambda piece, times: piece * times,
                      st.sampled_from(["a", "word ", "\x00", "🚀", "\ud800", "é", "東京"]),
                      st.sampled_from([2_500, 4_999, 5_000, 9_999, 10_000, 10_001, 12_000]))
TEXT = st.one_of(ANY_TEXT, NASTY_TEXT, st.text(max_size=40), LONG_TEXT)

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT | NASTY_TEXT
JSON_VALUES = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(ANY_TEXT | st.sampled_from(["inputs", "text"]), children, max_size=4),
                           max_leaves=12)
# JSON nested past any parser's recursion limit.
DEEP_JSON = st.builds(lambda opener, closer, depth, inside: opener * depth + inside + closer * depth,
                      st.sampled_from(["[", '{"a":', '{"inputs":[']), st.sampled_from(["]", "}", "]}"]),
                      st.sampled_from([10, 999, 1_000, 5_000, 100_000]), st.sampled_from(["", "1", '"x"']))
# Numbers past Python's 4,300-digit int limit and float range, written as JSON text (a
# huge int drawn by Hypothesis itself breaks its own reporting).
HUGE_NUMBERS = st.builds(lambda digits, template: template.replace("N", digits),
                         st.sampled_from(["9" * 4_300, "9" * 4_301, "1" * 100_000, "1e999999", "-0.0e-99999"]),
                         st.sampled_from(["N", "[N]", '{"inputs": N}', '{"inputs": [N]}', '{"N": 1}']))

# The tiny model's name (tests/tiny_models.py), which a /models/<name>/ prefix may name.
MODEL = "tiny-bert-embeddings"
# Issue 15's options, each with good and bad values: on a route that takes it, or one that does not.
OPTION_VALUES: dict[str, Any] = {
    "input_type": st.sampled_from(["query", "document", "Query", "", "passage", "search_query"]),
    "prompt_name": st.sampled_from(["query", "document", "", "\ud800"]),
    "dimensions": st.sampled_from([1, 8, 16, 31, 32, 33, 384, 0, -1, 2**63, 1.0, 1.5, "8"]),
    "truncate": st.booleans(),
    "raw_scores": st.booleans(),
    "return_documents": st.booleans(),
    "return_text": st.booleans(),
    "top_n": st.sampled_from([1, 2, 0, -1, 10**30]),
    "top_k": st.sampled_from([1, 3, 0]),
    "normalize": st.booleans(),
    "encoding_format": st.sampled_from(["float", "base64", "int8"]),
    "add_special_tokens": st.booleans(),
    "skip_special_tokens": st.booleans(),
    "ids": st.sampled_from([[101, 102], [[101], [7592, 102]], [], [[]], [-1], [2**40], [1.5], ["a"], [[1], 2]])
    | st.lists(st.integers(0, 40_000), max_size=8),
}
#: the options each route takes on an embedding model (drawn mostly from these, so that most bodies get past
#: the unknown-field check); /rerank is refused for the task, its options past that
OPTION_ROUTES: dict[str, tuple[str, ...]] = {
    "/predict": ("input_type", "dimensions"),
    "/v1/embeddings": ("input_type", "dimensions", "encoding_format"),
    "/embed": ("normalize", "truncate", "prompt_name", "dimensions", "encoding_format"),
    "/": ("normalize", "truncate", "prompt_name", "dimensions", "encoding_format"),
    "/tokenize": ("add_special_tokens", "prompt_name"),
    "/decode": ("skip_special_tokens",),
    "/rerank": ("truncate", "raw_scores", "return_text"),
}
TEXT_FIELD = {"/v1/embeddings": "input", "/decode": "ids"}

HEADER_NAMES = st.sampled_from(["x-latency-tier", "X-Latency-Tier", "X-LATENCY-TIER", "content-type",
                                "content-length", "host", "transfer-encoding", "user-agent", ""]) | ANY_TEXT
TIER_VALUES = st.sampled_from(["premium", "PREMIUM", "standard", " Standard ", "", " ", "gold", "premium,standard",
                               "\x00", "\ud800", "prémium", "premium\r\nx: y"]) | ANY_TEXT
HEADERS = st.dictionaries(HEADER_NAMES, TIER_VALUES | ANY_TEXT, max_size=5)
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
                           "get", "Post", "M-SEARCH", "PROPFIND", "BREW", ""]) | ANY_TEXT
PATHS = st.sampled_from(["/predict", "/warm", "/health", "/", "", "*", "/predict/", "//predict", "/PREDICT",
                         "/predict?x=1", "/warm/../predict", "/health%00", "/\ud800", "/" + "a" * 5_000,
                         "/tokenize", "/decode", "/embed", "/v1/embeddings", "/rerank",
                         # issue 15's per-model prefix: this model's name, another, none, odd ones
                         f"/models/{MODEL}/predict", f"/models/{MODEL}/warm", f"/models/{MODEL}", f"/models/{MODEL}/",
                         "/models/all-MiniLM-L6-v2/health", "/models/other/predict", "/models/", "/models//predict",
                         "/models/\ud800/predict", "/models/" + "m" * 5_000 + "/health"])
PATHS = PATHS | st.builds(lambda name, rest: f"/models/{name}{rest}", ANY_TEXT, PATHS) | ANY_TEXT
QUERY_VALUES = st.sampled_from(["0", "1", "2", "3", "-1", "1e3", "999999", "٢", " 1 ", "", "0x1", "1" * 5_000,
                                "NaN", "\ud800"]) | ANY_TEXT
QUERIES = st.dictionaries(st.sampled_from(["hold_ms", "HOLD_MS", "x"]) | ANY_TEXT, QUERY_VALUES, max_size=3)


@st.composite
def text_bodies(draw: st.DrawFn) -> tuple[str, bool]:
    """A /predict body with arbitrary texts inside, on the wire three ways."""
    texts = draw(st.lists(TEXT, min_size=1, max_size=6))
    payload = {"inputs": texts if draw(st.booleans()) else texts[0]}
    form = draw(st.sampled_from(["escaped", "raw", "base64"]))
    if form == "escaped":  # what a JSON encoder sends: "\ud800" as an escape, the body pure ASCII
        return json.dumps(payload), False
    text = json.dumps(payload, ensure_ascii=False)
    if form == "raw":  # the event's body field itself holds the characters
        return text, False
    # the bytes a client would send for them (surrogates as CESU-8 bytes), base64 as ALB does
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii"), True


@st.composite
def raw_bodies(draw: st.DrawFn) -> tuple[Any, bool]:
    """Anything as the body: JSON values, bytes, text, deep nesting; base64 or not, valid or not."""
    kind = draw(st.sampled_from(["json", "json-base64", "bytes-base64", "text", "bad-base64", "deep", "number",
                                 "huge"]))
    if kind in ("json", "json-base64"):
        text = json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans()))
        if kind == "json":
            return text, False
        return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii"), True
    if kind == "bytes-base64":
        return base64.b64encode(draw(st.binary(max_size=300))).decode("ascii"), True
    if kind == "text":
        return draw(ANY_TEXT | st.text(max_size=300)), draw(st.booleans())
    if kind == "bad-base64":  # not base64 at all, or base64 gone wrong in a small way
        good = base64.b64encode(draw(st.binary(min_size=1, max_size=60))).decode("ascii")
        broken = draw(st.sampled_from([good[:-1], good + "=", good.replace("=", ""), " " + good, good + "\n",
                                       good.replace("+", "-").replace("/", "_"), "!!!", "====", "\ud800" + good,
                                       "é" + good]))
        return draw(st.sampled_from([broken, draw(ANY_TEXT)])), True
    if kind == "deep":
        deep = draw(DEEP_JSON)
        if draw(st.booleans()):
            return base64.b64encode(deep.encode()).decode("ascii"), True
        return deep, False
    if kind == "number":
        return draw(HUGE_NUMBERS), False
    # around MAX_BODY_BYTES (256 KiB)
    size = draw(st.sampled_from([256 * 1024 - 20, 256 * 1024, 256 * 1024 + 1, 300_000]))
    return json.dumps({"inputs": ["x" * max(0, size - 16)]}), False


@st.composite
def option_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A good body for one of the routes, with issue 15's options added (anything, of any type, besides the
    values above), under the route's own path or a ``/models/<name>/`` prefix."""
    route = draw(st.sampled_from(sorted(OPTION_ROUTES)))
    field = TEXT_FIELD.get(route, "inputs")
    body: dict[str, Any] = {field: draw(OPTION_VALUES["ids"] if field == "ids" else st.lists(TEXT, min_size=1,
                                                                                            max_size=3))}
    if route == "/rerank":
        body = {"query": draw(TEXT), "texts": body["inputs"]}
    names = st.sampled_from(OPTION_ROUTES[route]) if draw(st.integers(0, 3)) else st.sampled_from(sorted(OPTION_VALUES))
    for name in draw(st.lists(names, max_size=4, unique=True)):
        body[name] = draw(OPTION_VALUES[name] | JSON_SCALARS)
    prefix = draw(st.sampled_from(["", "", f"/models/{MODEL}", "/models/all-MiniLM-L6-v2", "/models/other"]))
    return alb_request_event("POST", prefix + route, body=json.dumps(body, ensure_ascii=draw(st.booleans())))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """An event as the front door builds it, from any method, path, headers, query and body."""
    # Half the time a real route with its method, so that headers, queries and bodies get past routing.
    method, path = draw(st.sampled_from([("POST", "/predict"), ("GET", "/warm"), ("GET", "/health"),
                                         ("POST", "/tokenize"), ("POST", "/decode"),
                                         ("POST", f"/models/{MODEL}/predict"), ("GET", f"/models/{MODEL}/warm")])
                        | st.tuples(METHODS, PATHS))
    body = draw(st.none() | st.binary(max_size=200) | ANY_TEXT | st.just(json.dumps({"inputs": ["hello"]}))
                | st.just(json.dumps({"inputs": ["\ud800"]})))
    return alb_request_event(method, path, headers=draw(HEADERS), query=draw(QUERIES), body=body,
                             tier=draw(st.sampled_from(["standard", "premium"])))


EVENT_FIELDS = ["httpMethod", "path", "headers", "queryStringParameters", "body", "isBase64Encoded",
                "requestContext", "multiValueHeaders", "multiValueQueryStringParameters"]
ODD_VALUES = JSON_VALUES | st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3) | st.lists(ANY_TEXT, max_size=3)


@st.composite
def malformed_events(draw: st.DrawFn) -> Any:
    """A good event with fields missing or of odd types, or something that is no ALB event at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES | st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=4))
    event = load_event(draw(st.sampled_from(["predict.json", "warm.json", "health.json"])))
    for field in draw(st.lists(st.sampled_from(EVENT_FIELDS), min_size=1, max_size=4, unique=True)):
        if draw(st.booleans()):
            event.pop(field, None)
        else:
            event[field] = draw(ODD_VALUES)
    return event


# --- the property: checked after every example ---------------------------------------

@pytest.fixture(scope="session")
def fuzz_service(tiny_artifact_dir: Path) -> InferenceService:
    # A tiny exported embedding model: the request path is the same, each example far cheaper.
    # With metrics on, as in Lambda: every request also goes through the EMF emission.
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir,
                                                      max_warm_hold_ms=MAX_HOLD_MS),
                               metrics=ColdStartMetrics("FastInferenceFuzz", "standard"))
    service.start()
    assert service.ready, service.error
    return service


@pytest.fixture(scope="module")
def warm(fuzz_service: InferenceService) -> tuple[Any, str]:
    """A handler on a fresh environment that has served its first (cold) request, and its instance id."""
    new_instance()
    handler = build_handler(fuzz_service)
    first = handler(load_event("predict.json"), None)
    assert first["statusCode"] == 200 and json.loads(first["body"])["cold_start"] is True
    return handler, json.loads(first["body"])["instance"]


def check_request(warm: tuple[Any, str], service: InferenceService, event: Any) -> tuple[int, dict[str, Any]]:
    """Send ``event``; assert the answer is well formed and the environment is unharmed."""
    handler, instance = warm
    # WHEN the event reaches the handler
    result = handler(event, None)
    # THEN an ALB answer, never a 5xx ...
    assert isinstance(result, dict)
    status = result["statusCode"]
    assert isinstance(status, int) and 200 <= status < 500, (status, result.get("body", "")[:500])
    assert result["statusDescription"].startswith(f"{status} ")
    # (an event with multiValueHeaders is answered in that form, as an ALB expects)
    headers = result.get("multiValueHeaders") or {k: [v] for k, v in result["headers"].items()}
    assert headers["Content-Type"] == ["application/json"]
    # ... with a Server-Timing header (issue 15), whatever the answer
    assert headers["Server-Timing"][0].startswith("tokenize;dur=")
    # ... that the Lambda runtime can send: it encodes the whole answer as UTF-8 JSON
    json.dumps(result, ensure_ascii=False).encode("utf-8")
    answer = json.loads(result["body"])
    if not 200 <= status < 300:
        # ... and every refusal has the error shape, in text a client can decode strictly
        assert set(answer) == {"error"}
        error = answer["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and len(error["message"]) > 20
        error["message"].encode("utf-8")
    # AND the model is still loaded, and the next good request is served warm by the same instance
    assert service.ready
    after = handler(load_event("predict.json"), None)
    assert after["statusCode"] == 200, after["body"][:500]
    again = json.loads(after["body"])
    assert (again["cold_start"], again["instance"]) == (False, instance)
    return status, answer


def fuzz_request(warm: tuple[Any, str], service: InferenceService, event: Any) -> dict[str, Any]:
    """check_request, counting the answers (pytest --hypothesis-show-statistics lists them)."""
    status, answer = check_request(warm, service, event)
    hypothesis.event(f"{status} {answer['error']['code'] if 'error' in answer else 'ok'}")
    return answer


@FUZZ
@given(body=raw_bodies(), base64_flag=st.sampled_from([None, True, False]))
def test_any_body_gets_a_4xx_or_a_200(warm, fuzz_service, body: tuple[Any, bool], base64_flag: bool | None) -> None:
    # GIVEN a warm environment and POST /predict with any body, flagged base64 or not
    text, is_base64 = body
    event = load_event("predict.json") | {"body": text, "isBase64Encoded": is_base64}
    if base64_flag is not None and base64_flag != is_base64:
        event["isBase64Encoded"] = base64_flag  # the flag lies about the body
    # WHEN / THEN
    fuzz_request(warm, fuzz_service, event)


@FUZZ
@given(body=text_bodies())
def test_any_text_in_a_good_body_is_embedded_or_refused_with_422(warm, fuzz_service, body: tuple[str, bool]) -> None:
    # GIVEN a well-formed /predict body whose texts are anything: surrogates, NUL, controls, very long
    text, is_base64 = body
    event = load_event("predict.json") | {"body": text, "isBase64Encoded": is_base64}
    # WHEN / THEN: embedded (200), or refused with a 4xx that says which input and why
    answer = fuzz_request(warm, fuzz_service, event)
    if "error" in answer and answer["error"]["code"] == "invalid_text":
        assert "inputs[" in answer["error"]["message"]


@FUZZ
@given(event=requests())
def test_any_method_path_header_and_query(warm, fuzz_service, event: dict[str, Any]) -> None:
    # GIVEN any method, path, headers (X-Latency-Tier included), query string and body, as the front door sends them
    # WHEN / THEN
    fuzz_request(warm, fuzz_service, event)


@FUZZ
@given(event=option_requests())
def test_any_request_option_on_any_route_and_prefix(warm, fuzz_service, event: dict[str, Any]) -> None:
    # GIVEN a good body for one of the routes with issue 15's options set to good, bad or odd values,
    # with or without a /models/<name>/ prefix
    # WHEN / THEN
    fuzz_request(warm, fuzz_service, event)


@FUZZ
@given(event=malformed_events())
def test_malformed_events(warm, fuzz_service, event: Any) -> None:
    # GIVEN an event with fields missing or of the wrong type, or no ALB event at all
    # WHEN / THEN
    fuzz_request(warm, fuzz_service, event)


# --- what the properties found, pinned ------------------------------------------------
# Each minimal input Hypothesis found that broke the property before the fix named beside
# it (a 500, an exception out of the handler, or an answer a strict client cannot decode);
# each must keep its 4xx and code.
FOUND: dict[str, tuple[dict[str, Any], int, str]] = {
    # a JSON escape for half a surrogate pair reached the tokenizer: invalid_text
    "escaped lone surrogate in inputs": ({"body": '{"inputs": "\\ud800"}'}, 422, "invalid_text"),
    # the event's body itself held a lone surrogate; encoding it to UTF-8 raised: invalid_body
    "lone surrogate in the body field": ({"body": '"\ud800"'}, 400, "invalid_body"),
    "lone surrogate, base64 flag false": ({"body": "\ud800AA==", "isBase64Encoded": False}, 400, "invalid_body"),
    # JSON nested past the parser's recursion limit raised RecursionError: invalid_json
    "JSON nested 5,000 deep": ({"body": "[" * 5_000 + "]" * 5_000}, 400, "invalid_json"),
    # odd-typed event fields raised inside Powertools (out of the handler) or the route: unsupported_event
    "headers a string": ({"headers": "0"}, 400, "unsupported_event"),
    "headers false": ({"headers": False}, 400, "unsupported_event"),
    "multiValueHeaders false": ({"multiValueHeaders": False}, 400, "unsupported_event"),
    "multiValueHeaders an array": ({"multiValueHeaders": [""]}, 400, "unsupported_event"),
    "body an array": ({"body": [""], "isBase64Encoded": {}}, 400, "unsupported_event"),
    # the path was echoed into the 404's message as is, lone surrogate included (strict
    # JSON decoders refuse the answer); now quoted
    "lone surrogate in the path": ({"httpMethod": "GET", "path": "/\ud800"}, 404, "not_found"),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_the_fuzzing_found(warm, fuzz_service, name: str) -> None:
    # GIVEN a good /predict event with the fields that made it fail
    changes, status, code = FOUND[name]
    event = load_event("predict.json") | changes
    # WHEN it is sent THEN its 4xx and code, and the environment is unharmed
    answered, answer = check_request(warm, fuzz_service, event)
    assert (answered, answer["error"]["code"]) == (status, code)


def test_invalid_text_names_the_input_and_the_fix(warm) -> None:
    # GIVEN three inputs, the third ending in half of a surrogate pair (🚀 is \ud83d\ude80)
    event = load_event("predict.json") | {"body": json.dumps({"inputs": ["ok", "fine", "x\ud83d"]})}
    # WHEN it is sent
    result = warm[0](event, None)
    # THEN a 422 that says which input, where, and what to send instead
    assert result["statusCode"] == 422
    assert json.loads(result["body"])["error"] == {
        "code": "invalid_text",
        "message": "inputs[2] is not valid Unicode text: a lone surrogate '\\ud83d' at character 1; send UTF-8 "
                   "text, and write a character outside the Basic Multilingual Plane as itself or as a whole "
                   "surrogate pair (\\ud83d\\ude80 for 🚀)",
    }


def test_odd_event_fields_are_named(warm) -> None:
    event = load_event("predict.json") | {"multiValueHeaders": {"x-latency-tier": [1]}}
    assert json.loads(warm[0](event, None)["body"])["error"]["message"] == (
        "this function expects an Application Load Balancer request event (see events/ for examples): "
        "\"multiValueHeaders\" must be an object of arrays of strings (or null), got an array holding a number "
        "under 'x-latency-tier'")
