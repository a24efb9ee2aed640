"""The loopback S3 server the weight-cache work builds on: real HTTP, real ranged GETs."""

from __future__ import annotations

import hashlib
import os

import pytest

from tools.local.s3server import SeaweedS3

pytestmark = pytest.mark.integration


def test_seaweedfs_serves_s3_with_byte_ranges() -> None:
    data = os.urandom(3 * 2**20 + 17)
    with SeaweedS3() as server:
        client = server.client()
        client.create_bucket(Bucket="models")
        client.put_object(Bucket="models", Key="all-MiniLM-L6-v2/model.onnx.data", Body=data)
        head = client.head_object(Bucket="models", Key="all-MiniLM-L6-v2/model.onnx.data")
        assert head["ContentLength"] == len(data)
        # the parallel-range fetch the cache will use: the ranges must rebuild the exact bytes
        parts = []
        step = 1 << 20
        for start in range(0, len(data), step):
            end = min(start + step, len(data)) - 1
            response = client.get_object(Bucket="models", Key="all-MiniLM-L6-v2/model.onnx.data",
                                         Range=f"bytes={start}-{end}")
            parts.append(response["Body"].read())
        assert hashlib.sha256(b"".join(parts)).digest() == hashlib.sha256(data).digest()
        with pytest.raises(client.exceptions.NoSuchKey):
            client.get_object(Bucket="models", Key="missing")
    # stopped: nothing listens any more
    import socket

    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
