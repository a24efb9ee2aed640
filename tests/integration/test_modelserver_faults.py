"""The environment's model server under faults (issue 17): killed mid-load, killed with a request
in flight, and unable to restart. Every request is answered (served after a retry, or a clean 503),
and the next one is served by a restarted server. What happened is read from the events the
server and the worker record, never from timing; the joins' timeouts only guard against a hang.

The worker here is this test process (an InferenceService with MODEL_SERVER=shared); the server
is the real one, started by it as a child process, loading the real all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference_runtime.config import RuntimeConfig
from inference_runtime.modelserver.endpoint import Endpoint, process_alive
from inference_runtime.modelserver.errors import ModelServerUnavailableError
from inference_runtime.service import InferenceService
from tests.helpers import load_event

HANG_GUARD_S = 120
TEXT = "The model server answers every worker of the environment."


def config_for(artifact: Path, cache: Path, **overrides: Any) -> RuntimeConfig:
    return RuntimeConfig.from_env({}, artifact_dir=artifact, cache_dir=cache, model_server="shared",
                                  model_server_timeout_s=60, **overrides)


def wait_for(condition: Any, what: str) -> None:
    """Poll a condition on events (not a timing assertion: the deadline only stops a hang)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


def events(endpoint: Endpoint, kind: str) -> list[dict[str, Any]]:
    return [e for e in endpoint.read_events() if e["event"] == kind]


@pytest.fixture
def servers() -> Iterator[list[int]]:
    """The pids of the servers a test started; each is stopped after it."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def in_process(artifact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[float]:
    """The embedding of TEXT by today's in-process path, to compare the server's answers with."""
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_dir,
                                                      cache_dir=tmp_path_factory.mktemp("local")))
    service.start()
    return service.embed([TEXT])[0]


def test_a_server_killed_mid_load_is_restarted_and_the_worker_served(
        artifact_dir: Path, tmp_path: Path, servers: list[int], in_process: list[float]) -> None:
    # GIVEN a worker starting, whose server begins to load
    config = config_for(artifact_dir, tmp_path / "cache")
    endpoint = Endpoint.for_config(config)
    service = InferenceService(config)
    loader = threading.Thread(target=service.start, daemon=True)
    loader.start()
    wait_for(lambda: events(endpoint, "loading"), "the first server's loading event")
    first = events(endpoint, "loading")[0]["pid"]
    servers.append(first)
    # WHEN it is killed while it loads
    os.kill(first, signal.SIGKILL)
    loader.join(HANG_GUARD_S)
    # THEN it was killed mid-load: it never said ready
    assert not [e for e in events(endpoint, "ready") if e["pid"] == first]
    # AND the worker started another, which loaded, and the worker is ready on it
    assert not loader.is_alive()
    assert service.ready, service.error
    session = service._backend._session  # type: ignore[union-attr]
    servers.append(session.server_pid)
    assert [e["event"] for e in session.events] == ["model_server_started", "model_server_restarted"]
    assert session.server_pid != first
    assert [e["pid"] for e in events(endpoint, "ready")] == [session.server_pid]
    # AND the next request is served by the restarted server, with the in-process answer
    np.testing.assert_allclose(service.embed([TEXT])[0], in_process, atol=1e-5)


def test_a_request_in_flight_when_the_server_dies_is_retried_on_a_restarted_server(
        artifact_dir: Path, tmp_path: Path, servers: list[int], in_process: list[float]) -> None:
    # GIVEN a ready worker and server whose batches wait 5 s for company: a lone request is
    # certain to be still queued in the server when it is killed (no race with its answer)
    config = config_for(artifact_dir, tmp_path / "cache", max_batch_wait_ms=5000, warmup_iterations=0)
    service = InferenceService(config)
    service.start()
    assert service.ready, service.error
    session = service._backend._session  # type: ignore[union-attr]
    first = session.server_pid
    servers.append(first)
    answers: list[Any] = []
    request = threading.Thread(target=lambda: answers.append(service.embed([TEXT])), daemon=True)
    # WHEN a request is sent and the server is killed before it answers
    request.start()
    wait_for(lambda: session._next_id >= 1, "the request to be sent")
    os.kill(first, signal.SIGKILL)
    request.join(HANG_GUARD_S)
    # THEN the request was answered, by a restarted server, after one retry, with the right rows
    assert not request.is_alive() and len(answers) == 1
    servers.append(session.server_pid)
    assert session.server_pid != first
    assert [e["event"] for e in session.events] == [
        "model_server_started", "model_server_retried", "model_server_restarted"]
    np.testing.assert_allclose(answers[0][0], in_process, atol=1e-5)


def test_a_server_that_cannot_restart_gives_a_clean_503(artifact_copy: Path, tmp_path: Path,
                                                        servers: list[int]) -> None:
    # GIVEN a ready worker and server, then weights that no longer match their sha256
    from inference_runtime.api.routes import build_handler

    config = config_for(artifact_copy, tmp_path / "cache")
    service = InferenceService(config)
    service.start()
    assert service.ready, service.error
    session = service._backend._session  # type: ignore[union-attr]
    servers.append(session.server_pid)
    handler = build_handler(service)
    assert handler(load_event("predict.json"), None)["statusCode"] == 200
    manifest = json.loads((artifact_copy / "manifest.json").read_text())
    weights = max(manifest["files"], key=lambda f: f["size"])["path"]
    with (artifact_copy / weights).open("r+b") as handle:
        handle.seek(1024)
        handle.write(b"\x00corrupt\x00")
    # The server's cache keeps a verified copy of the files in /tmp; a new environment's would not.
    for cached in (tmp_path / "cache").glob("**/*"):
        if cached.is_file() and cached.stat().st_size == (artifact_copy / weights).stat().st_size:
            cached.unlink()
    # WHEN the server dies
    os.kill(session.server_pid, signal.SIGKILL)
    result = handler(load_event("predict.json"), None)
    # THEN the request is answered 503 with the reason, no traceback; the restarts' loads failed verified
    assert result["statusCode"] == 503
    error = json.loads(result["body"])["error"]
    assert "model server" in error["message"] and "load failed" in error["message"]
    assert "Traceback" not in result["body"]
    endpoint = Endpoint.for_config(config)
    assert events(endpoint, "load_failed")
    with pytest.raises(ModelServerUnavailableError):
        service.embed([TEXT])
