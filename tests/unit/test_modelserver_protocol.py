"""The model server's wire format: frames round-trip exactly; malformed frames are ProtocolErrors."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator

import numpy as np
import pytest

from inference_runtime.loading.errors import ModelNotReadyError
from inference_runtime.modelserver.errors import ModelServerUnavailableError, ProtocolError
from inference_runtime.modelserver.protocol import encode_frame, recv_frame, send_frame


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    left.settimeout(5)
    right.settimeout(5)
    yield left, right
    left.close()
    right.close()


def test_a_frame_round_trips_header_and_arrays_exactly(pair: tuple[socket.socket, socket.socket]) -> None:
    # GIVEN token ids and a float output
    ids = np.array([[101, 2023, 102], [101, 7, 102]], dtype=np.int64)
    out = np.array([[0.25, -1.5]], dtype=np.float32)
    # WHEN sent as one frame
    send_frame(pair[0], {"op": "run", "id": 7}, {"input_ids": ids, "output": out})
    header, arrays = recv_frame(pair[1])
    # THEN the same header, the same bytes, dtypes and shapes
    assert header == {"op": "run", "id": 7}
    assert arrays["input_ids"].dtype == np.int64 and arrays["input_ids"].tolist() == ids.tolist()
    assert arrays["output"].tobytes() == out.tobytes() and arrays["output"].shape == (1, 2)


def test_an_empty_batch_round_trips(pair: tuple[socket.socket, socket.socket]) -> None:
    send_frame(pair[0], {"ok": True}, {"output": np.zeros((0, 384), dtype=np.float32)})
    _, arrays = recv_frame(pair[1])
    assert arrays["output"].shape == (0, 384)


def test_a_clean_close_between_frames_is_eof(pair: tuple[socket.socket, socket.socket]) -> None:
    pair[0].close()
    with pytest.raises(EOFError):
        recv_frame(pair[1])


def test_a_close_mid_frame_is_a_protocol_error(pair: tuple[socket.socket, socket.socket]) -> None:
    frame = encode_frame({"op": "run"}, {"input_ids": np.ones((2, 4), dtype=np.int64)})
    pair[0].sendall(frame[:-5])
    pair[0].close()
    with pytest.raises(ProtocolError, match="closed mid-frame"):
        recv_frame(pair[1])


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (json.dumps({"arrays": [{"name": "x", "dtype": "object", "shape": [1]}]}).encode(), "dtype object"),
    (json.dumps({"arrays": [{"name": "x", "dtype": "int64", "shape": [-1]}]}).encode(), "non-negative"),
    (json.dumps({"arrays": [{"name": "x"}]}).encode(), "lacks name, dtype or shape"),
    (json.dumps([1, 2]).encode(), "JSON object"),
])
def test_malformed_headers_are_refused_with_the_reason(pair: tuple[socket.socket, socket.socket], body: bytes,
                                                       message: str) -> None:
    pair[0].sendall(struct.pack(">I", len(body)) + body)
    with pytest.raises(ProtocolError, match=message):
        recv_frame(pair[1])


def test_an_oversized_header_is_refused_before_it_is_read(pair: tuple[socket.socket, socket.socket]) -> None:
    pair[0].sendall(struct.pack(">I", 1 << 30))
    with pytest.raises(ProtocolError, match="frame header of"):
        recv_frame(pair[1])


def test_only_numeric_arrays_are_sent() -> None:
    with pytest.raises(ProtocolError, match="dtype"):
        encode_frame({}, {"x": np.array(["a"], dtype=object)})


def test_an_unavailable_server_is_a_model_not_ready_error_with_a_code() -> None:
    # The API answers every ModelNotReadyError 503: a dead server must be one.
    error = ModelServerUnavailableError("gone", code="model_server_timeout")
    assert isinstance(error, ModelNotReadyError) and error.code == "model_server_timeout"


def test_the_api_answers_the_model_servers_code_in_its_503() -> None:
    # GIVEN a request whose model layer raised the model server's error
    from inference_runtime.api.router import Request
    from inference_runtime.api.routes import _on_error

    request = Request({"httpMethod": "POST", "path": "/predict", "headers": {}, "body": "{}"})
    error = ModelServerUnavailableError("the model server gave no answer in 30 s", code="model_server_timeout")
    # WHEN the API turns it into a response THEN a 503 with the finer code, not model_not_ready
    response = _on_error(request, error)
    assert response.status == 503 and response.body["error"]["code"] == "model_server_timeout"
