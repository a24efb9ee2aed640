"""The local front door behaves as the template's Application Load Balancer does.

Through the real front door and the real function under the Lambda runtime emulator:
every HTTP method reaches the function (the function, not the load balancer, says 405
or 404), HEAD answers carry no body, and a body over the ALB's 1 MB limit gets the
ALB's own 413 however it is sent, while one at the limit is the function's to judge.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tools.local.deployment import LocalDeployment
from tools.local.frontdoor import ALB_MAX_BODY_BYTES

pytestmark = pytest.mark.integration

PREDICT = json.dumps({"inputs": ["hello"]}).encode()


@pytest.fixture(scope="module")
def deployment(artifact_dir: Path) -> Iterator[LocalDeployment]:
    with LocalDeployment(max_environments=1, prewarm_premium=False) as running:
        yield running


@pytest.fixture
def conn(deployment: LocalDeployment) -> Iterator[http.client.HTTPConnection]:
    url = urlsplit(deployment.front_door.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
    yield connection
    connection.close()


def send(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def test_head_reaches_the_function_and_its_answer_has_no_body(conn: http.client.HTTPConnection) -> None:
    # GIVEN the function's answer to a GET, for comparison
    get, get_body = send(conn, "GET", "/nowhere")
    # WHEN the same request is sent as HEAD, on the same keep-alive connection
    head, head_body = send(conn, "HEAD", "/nowhere")
    # THEN the function answered it, with a GET's status and headers but no body ...
    assert get.status == head.status == 404 and json.loads(get_body)["error"]["code"] == "not_found"
    assert head.getheader("Content-Type") == "application/json"
    assert head_body == b"" and int(head.getheader("Content-Length") or -1) == len(get_body)
    # ... and no stray bytes on the connection: the next request on it is served
    after, after_body = send(conn, "POST", "/predict", PREDICT)
    assert after.status == 200 and len(json.loads(after_body)["outputs"]) == 1


def test_head_on_a_route_is_the_functions_405_not_the_front_doors_501(conn: http.client.HTTPConnection) -> None:
    response, body = send(conn, "HEAD", "/predict")
    assert (response.status, response.getheader("Allow"), body) == (405, "POST", b"")


@pytest.mark.parametrize("method, path, status, code", [
    ("OPTIONS", "/predict", 405, "method_not_allowed"),
    ("PATCH", "/warm", 405, "method_not_allowed"),
    ("PROPFIND", "/health", 405, "method_not_allowed"),
    ("BREW", "/teapot", 404, "not_found"),
])
def test_every_method_is_forwarded_to_the_function(conn: http.client.HTTPConnection, method: str, path: str,
                                                   status: int, code: str) -> None:
    # GIVEN a method the function does not serve WHEN it is sent THEN the function's JSON answer comes back
    response, body = send(conn, method, path)
    assert response.status == status and response.getheader("Content-Type") == "application/json"
    assert json.loads(body)["error"]["code"] == code


def test_a_body_at_the_limit_reaches_the_function(conn: http.client.HTTPConnection) -> None:
    # GIVEN a body of exactly the ALB's 1 MB WHEN it is posted
    response, body = send(conn, "POST", "/predict", b" " * (ALB_MAX_BODY_BYTES - len(PREDICT)) + PREDICT)
    # THEN the load balancer let it through, and the function refused it by its own (smaller) limit
    assert response.status == 413 and response.getheader("Content-Type") == "application/json"
    assert json.loads(body)["error"]["code"] == "body_too_large"


def test_a_body_over_the_limit_gets_the_albs_413(conn: http.client.HTTPConnection) -> None:
    # GIVEN a body one byte over 1 MB WHEN it is posted
    response, body = send(conn, "POST", "/predict", b"x" * (ALB_MAX_BODY_BYTES + 1))
    # THEN the load balancer's own answer, not the function's
    assert response.status == 413
    assert response.getheader("Server") == "awselb/2.0" and response.getheader("Content-Type") == "text/html"
    assert b"413 Request Entity Too Large" in body


def test_a_chunked_body_over_the_limit_gets_the_albs_413(conn: http.client.HTTPConnection) -> None:
    # GIVEN a body with no Content-Length, sent in chunks that add up to more than 1 MB
    chunks = (b"x" * 100_000 for _ in range(11))
    # WHEN it is posted
    conn.request("POST", "/predict", body=chunks, encode_chunked=True)
    response = conn.getresponse()
    # THEN the ALB's 413
    assert response.status == 413 and response.getheader("Server") == "awselb/2.0"
    response.read()


def test_a_chunked_body_under_the_limit_is_served(conn: http.client.HTTPConnection) -> None:
    conn.request("POST", "/predict", body=iter([PREDICT[:5], PREDICT[5:]]), encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200 and len(json.loads(response.read())["outputs"]) == 1


def test_an_oversized_upload_is_refused_before_it_is_sent(deployment: LocalDeployment) -> None:
    # GIVEN a client that announces 2 MB and waits for "100 Continue" before sending it, as curl does
    url = urlsplit(deployment.front_door.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n")
        # WHEN it reads the answer, having sent no body
        answer = sock.recv(65536)
    # THEN the ALB's 413 at once, not a 100 Continue
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"awselb/2.0" in answer


# --- who may use the premium and GPU tiers, as the template's listener rules say ----
@pytest.mark.parametrize("tier, rule", [("premium", "PremiumTierRefusedRule"), ("gpu", "GpuTierRefusedRule")])
def test_the_local_refusal_is_the_templates_fixed_response(tier: str, rule: str) -> None:
    from cfnlint.decode import cfn_yaml

    from tests.helpers import REPO_ROOT
    from tools.local.frontdoor import GATED_TIERS

    template = cfn_yaml.load(str(REPO_ROOT / "template.yaml"))
    (action,) = template["Resources"][rule]["Properties"]["Actions"]
    assert json.loads(action["FixedResponseConfig"]["MessageBody"]) == json.loads(GATED_TIERS[tier])


def test_premium_needs_the_token_or_an_allowed_address(artifact_dir: Path) -> None:
    from tools.local.frontdoor import PremiumAccess

    # GIVEN a front door that, like a stack with PremiumTokenSecret set and no PremiumAllowedCidr,
    # lets only token holders use premium
    access = PremiumAccess(token="s3cr3t-token-0123456789", cidrs=())
    with LocalDeployment(max_environments=1, prewarm_premium=False, premium_access=access) as deployment:
        url = deployment.front_door.url + "/predict"
        body = json.dumps({"inputs": ["hello"]}).encode()

        def post(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
            request = urllib.request.Request(url, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        # WHEN premium is asked for without the token, with a wrong one, and with the right one
        refused, refused_body = post({"X-Latency-Tier": "premium"})
        wrong, _ = post({"X-Latency-Tier": "premium", "X-Premium-Token": "guess"})
        allowed, allowed_body = post({"X-Latency-Tier": "premium", "X-Premium-Token": "S3CR3T-token-0123456789"})
        standard, standard_body = post({})
    # THEN only the token opens premium (compared case-insensitively, as the ALB does);
    # the others get the load balancer's own 403, and the function never sees them
    assert (refused, wrong) == (403, 403) and refused_body["error"]["code"] == "premium_not_allowed"
    assert allowed == 200 and allowed_body["tier"] == "premium"
    assert standard == 200 and standard_body["tier"] == "standard"


class RecordingFleet:
    """Stands in for a tier's fleet: answers 200 with the tier the event was routed to, and keeps the events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []

    def invoke_raw(self, payload: bytes) -> Any:
        from tools.local.fleet import Invocation

        event = json.loads(payload)
        self.events.append(event)
        body = json.dumps({"fleet": self.name, "target_group": event["requestContext"]["elb"]["targetGroupArn"]})
        answer = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}
        return Invocation(json.dumps(answer).encode(), None, f"{self.name}-1", 0, False, 1.0)


def ask(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url + "/predict", data=PREDICT, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("with_gpu", [True, False])
def test_the_gpu_header_reaches_the_gpu_tier_or_is_told_it_is_not_deployed(with_gpu: bool) -> None:
    from tools.local.frontdoor import FrontDoor

    # GIVEN a front door with the standard and premium tiers, and a GPU tier or none (GpuTier off)
    fleets = {name: RecordingFleet(name) for name in ("standard", "premium", "gpu")[:3 if with_gpu else 2]}
    door = FrontDoor(fleets, port=0).start()  # type: ignore[arg-type]
    try:
        # WHEN a request asks for each tier by the header (any case), and for none
        answers = {value: ask(door.url, {"X-Latency-Tier": value} if value else {})
                   for value in ("gpu", "GPU", "premium", "", "gold")}
    finally:
        door.stop()
    # THEN premium, no header and an unknown value go where the ALB sends them (the tier table's header values)
    assert answers["premium"] == (200, {"fleet": "premium", "target_group": answers["premium"][1]["target_group"]})
    assert answers[""][1]["fleet"] == "standard" and answers["gold"][1]["fleet"] == "standard"
    if with_gpu:
        # AND gpu reaches the GPU tier's fleet, as the GPU tier's target group event
        gpu_group = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/gpu/local"
        assert [answers[v] for v in ("gpu", "GPU")] == [(200, {"fleet": "gpu", "target_group": gpu_group})] * 2
        assert len(fleets["gpu"].events) == 2
    else:
        # AND without a GPU tier, gpu is a 503 that says so, never served by another tier
        status, body = answers["gpu"]
        assert status == 503 and body["error"]["code"] == "tier_not_deployed"
        assert body["error"]["message"].startswith(
            "X-Latency-Tier gpu asks for the gpu tier, which this deployment does not have")
        assert sum(len(f.events) for f in fleets.values()) == 3  # premium, no header, gold; not the two gpu asks


def test_gpu_needs_the_token_or_an_allowed_address_like_premium() -> None:
    from tools.local.frontdoor import FrontDoor, PremiumAccess

    # GIVEN a front door with a GPU tier that, like a stack with PremiumTokenSecret set and no
    # PremiumAllowedCidr, lets only token holders use premium and gpu
    fleets = {name: RecordingFleet(name) for name in ("standard", "premium", "gpu")}
    access = PremiumAccess(token="s3cr3t-token-0123456789", cidrs=())
    door = FrontDoor(fleets, port=0, premium_access=access).start()  # type: ignore[arg-type]
    try:
        # WHEN gpu is asked for without the token, with a wrong one, and with the right one (any case)
        refused = ask(door.url, {"X-Latency-Tier": "gpu"})
        wrong = ask(door.url, {"X-Latency-Tier": "GPU", "X-Premium-Token": "guess"})
        allowed = ask(door.url, {"X-Latency-Tier": "gpu", "X-Premium-Token": "S3CR3T-token-0123456789"})
        premium = ask(door.url, {"X-Latency-Tier": "premium"})
    finally:
        door.stop()
    # THEN without the token gpu is the load balancer's own 403, as premium is, each with its rule's body ...
    assert refused == wrong == (403, {"error": {"code": "gpu_not_allowed", "message": refused[1]["error"]["message"]}})
    assert premium[0] == 403 and premium[1]["error"]["code"] == "premium_not_allowed"
    # ... the token opens it, and only that request reached the GPU tier's function
    assert allowed[0] == 200 and allowed[1]["fleet"] == "gpu"
    assert len(fleets["gpu"].events) == 1 and fleets["premium"].events == []
