"""The model server's wire protocol: length-prefixed frames over a Unix stream socket.

A frame is a 4-byte big-endian length, a JSON header of that length, then the raw bytes
of the arrays the header lists (``{"name", "dtype", "shape"}`` each, C order, in that
order). Token ids travel as int64 bytes, outputs as float32 bytes: no pickle (nothing
executable crosses the socket) and no JSON-encoded numbers (a 256-token batch of 64 is
1 MB of text otherwise).

Messages: the worker sends ``{"op": "hello"}`` and gets the graph's inputs, output, the
server's pid and the model's name; then ``{"op": "run", "id": n}`` with its input arrays
and gets ``{"id": n, "ok": true}`` with the output array, or ``{"id": n, "ok": false,
"code", "message"}``.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Mapping
from typing import Any

from .errors import ProtocolError

_LENGTH = struct.Struct(">I")
#: A header is a few hundred bytes; anything far larger is not ours.
MAX_HEADER_BYTES = 1 << 20
#: The largest array a frame may carry (a batch of 4096 inputs of 512 tokens as int64 is 16 MiB).
MAX_ARRAY_BYTES = 1 << 30
ALLOWED_DTYPES = ("int64", "float32", "float16", "int32")


def encode_frame(header: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of one frame: ``header`` plus ``arrays`` (numpy arrays by name)."""
    descriptors, payloads = [], []
    for name, array in (arrays or {}).items():
        dtype = str(array.dtype)
        if dtype not in ALLOWED_DTYPES:
            raise ProtocolError(f"array {name!r} has dtype {dtype}; the protocol carries {', '.join(ALLOWED_DTYPES)}")
        data = array.tobytes(order="C")
        descriptors.append({"name": name, "dtype": dtype, "shape": list(array.shape)})
        payloads.append(data)
    body = json.dumps({**header, "arrays": descriptors}, separators=(",", ":")).encode()
    return _LENGTH.pack(len(body)) + body + b"".join(payloads)


def send_frame(sock: socket.socket, header: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> None:
    sock.sendall(encode_frame(header, arrays))


def recv_frame(sock: socket.socket) -> tuple[dict[str, Any], dict[str, Any]]:
    """One frame from ``sock``: its header and its arrays. EOFError when the peer closed cleanly
    between frames; ProtocolError for a malformed frame; OSError (a timeout too) from the socket."""
    raw = _recv_exact(sock, _LENGTH.size, at_boundary=True)
    (length,) = _LENGTH.unpack(raw)
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"frame header of {length} bytes is over {MAX_HEADER_BYTES}")
    try:
        header = json.loads(_recv_exact(sock, length))
    except ValueError as exc:
        raise ProtocolError(f"frame header is not JSON: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(header.get("arrays", []), list):
        raise ProtocolError("frame header must be a JSON object with an 'arrays' list")
    return header, _read_arrays(sock, header.pop("arrays", []))


def _read_arrays(sock: socket.socket, descriptors: list[Any]) -> dict[str, Any]:
    import numpy as np  # only on the path that moves arrays: the worker has it loaded by then

    arrays: dict[str, Any] = {}
    for descriptor in descriptors:
        try:
            name, dtype, shape = str(descriptor["name"]), str(descriptor["dtype"]), tuple(descriptor["shape"])
        except (KeyError, TypeError) as exc:
            raise ProtocolError(f"array descriptor {descriptor!r} lacks name, dtype or shape") from exc
        if dtype not in ALLOWED_DTYPES:
            raise ProtocolError(f"array {name!r} has dtype {dtype}; the protocol carries {', '.join(ALLOWED_DTYPES)}")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise ProtocolError(f"array {name!r} has shape {list(shape)}; dimensions are non-negative integers")
        itemsize = np.dtype(dtype).itemsize
        count = 1
        for n in shape:
            count *= n
        if count * itemsize > MAX_ARRAY_BYTES:
            raise ProtocolError(f"array {name!r} of {count * itemsize} bytes is over {MAX_ARRAY_BYTES}")
        data = _recv_exact(sock, count * itemsize)
        arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape)
    return arrays


def _recv_exact(sock: socket.socket, size: int, *, at_boundary: bool = False) -> bytes:
    chunks, received = [], 0
    while received < size:
        chunk = sock.recv(min(size - received, 1 << 20))
        if not chunk:
            if at_boundary and received == 0:
                raise EOFError("the peer closed the connection")
            raise ProtocolError(f"the connection closed mid-frame ({received} of {size} bytes)")
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)
