"""Run the template's functions under the real AWS Lambda Runtime Interface Emulator.

This is what ``sam local invoke`` does inside Docker, without Docker: the emulator
binary that ships in the aws-sam-cli package (``samcli/local/rapid``, in .venv-sam) runs the
function's Python through ``awslambdaric``, the same runtime interface client the
Lambda base image uses, and serves the Lambda Invoke API on loopback. Init runs on
the first invocation, exactly as an on-demand cold start does in the cloud.

    with start_function("StandardFunction") as fn:
        print(fn.invoke(load_event("predict.json")))
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import socket

# Local tools start their own servers and runtimes with fixed argument lists, never a shell.
import subprocess  # nosec B404
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .processes import children_of, kill_process_group, stop_process_group

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGE_DIR = REPO_ROOT / "layers" / "runtime"
#: The shared core (lambda_shared): in the inference image beside the runtime, keep-warm's layer.
SHARED_PACKAGE_DIR = REPO_ROOT / "layers" / "shared"
#: What each kind of function finds on its path, as in the cloud: the inference image holds the
#: runtime and the core; keep-warm gets only the core (its layer), so an import of the runtime
#: from keep-warm fails here as it would in Lambda.
INFERENCE_PATH = (RUNTIME_PACKAGE_DIR, SHARED_PACKAGE_DIR)
KEEP_WARM_PATH = (SHARED_PACKAGE_DIR,)
DEFAULT_ARTIFACT_DIR = REPO_ROOT / "build" / "artifacts" / "all-MiniLM-L6-v2"
RUNTIME_VENV_PYTHON = REPO_ROOT / ".venv-runtime" / "bin" / "python"
SAM_VENV = REPO_ROOT / ".venv-sam"
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@dataclass(frozen=True)
class FunctionSpec:
    """How one function of template.yaml runs locally: code directory, handler, environment.

    ``python_path`` is what goes on PYTHONPATH: the layers, as Lambda mounts them at
    /opt/python (by default the runtime package's and the shared core's sources). ``isolated`` runs the function
    with only the environment Lambda gives it, none of this machine's (no venv, no
    PYTHONPATH of the caller), under ``python`` (by default the runtime venv's).
    """

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    memory_mb: int = 3008
    timeout_s: int = 30
    python_path: tuple[Path, ...] = INFERENCE_PATH
    python: str | None = None
    isolated: bool = False


# The template's functions, as the emulator runs them. The environment mirrors the
# template's (kept in step by tests/unit/test_template.py).
FUNCTIONS: dict[str, FunctionSpec] = {
    "StandardFunction": FunctionSpec(
        "StandardFunction", REPO_ROOT / "functions" / "inference", "app.handler",
        {"LATENCY_TIER": "standard", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"},
    ),
    "PremiumFunction": FunctionSpec(
        "PremiumFunction", REPO_ROOT / "functions" / "inference", "app.handler",
        {"LATENCY_TIER": "premium", "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"},
    ),
    "KeepWarmFunction": FunctionSpec("KeepWarmFunction", REPO_ROOT / "keepwarm", "app.handler", {}, 256, 60,
                                     python_path=KEEP_WARM_PATH),
}


def rie_binary() -> Path:
    """The emulator binary inside the SAM CLI package (.venv-sam, or LAMBDA_RIE to override)."""
    explicit = os.environ.get("LAMBDA_RIE")
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    if explicit:
        path = Path(explicit)
    else:
        # The SAM CLI has a venv of its own (it pins boto3 and others exactly); see the Makefile.
        found = sorted(SAM_VENV.glob(f"lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-{arch}"))
        path = found[-1] if found else SAM_VENV / "samcli-not-installed"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; install the SAM CLI (make setup) or set LAMBDA_RIE")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def runtime_python() -> str:
    """The interpreter that runs functions: the runtime-only venv (Python 3.12, like Lambda)."""
    explicit = os.environ.get("RUNTIME_PYTHON")
    if explicit:
        return explicit
    return str(RUNTIME_VENV_PYTHON) if RUNTIME_VENV_PYTHON.exists() else sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class InvokeError(RuntimeError):
    """Raised when the emulator cannot be reached or the function itself failed."""


class EmulatedFunction:
    """One function running under the emulator on loopback; a context manager."""

    def __init__(self, spec: FunctionSpec, *, env: dict[str, str] | None = None,
                 port: int | None = None, log_path: Path | None = None,
                 python: str | None = None, runtime_command: list[str] | None = None) -> None:
        self.spec = spec
        self.port = port or free_port()
        self.runtime_api_port = free_port()
        self.log_path = log_path or Path(tempfile.mkstemp(prefix=f"{spec.logical_id}-", suffix=".log")[1])
        self._extra_env = env or {}
        self._python = python or spec.python or runtime_python()
        # What the emulator starts as the runtime; by default awslambdaric with the handler.
        self._runtime_command = runtime_command or [self._python, "-m", "awslambdaric", spec.handler]
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: http.client.HTTPConnection | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        if self.spec.isolated:
            # What Lambda sets, not what this machine has: a venv's site-packages or a
            # PYTHONPATH would hide a dependency the function does not ship.
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
                   "LAMBDA_TASK_ROOT": str(self.spec.code_dir)}
        else:
            env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
            env["MODEL_ARTIFACT_DIR"] = str(DEFAULT_ARTIFACT_DIR)
        env.update({
            "PYTHONPATH": os.pathsep.join(str(path) for path in self.spec.python_path),
            "AWS_LAMBDA_FUNCTION_NAME": self.spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            # The emulator ends an invocation that runs longer, as Lambda does ("Task timed out").
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.spec.timeout_s),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            # Throwaway credentials: the function only ever talks to loopback servers here.
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",  # nosec B105
            "POWERTOOLS_SERVICE_NAME": self.spec.logical_id,
            "CUDA_MODULE_LOADING": "LAZY",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        env.update(self.spec.environment)
        env.update(self._extra_env)
        return env

    def start(self) -> EmulatedFunction:
        command = [
            str(rie_binary()),
            "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
            "--runtime-api-address", f"127.0.0.1:{self.runtime_api_port}",
            *self._runtime_command,
        ]
        log = open(self.log_path, "ab")
        self._process = subprocess.Popen(command, cwd=self.spec.code_dir, env=self.environment(),  # nosec B603
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_listening()
        return self

    def _wait_listening(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise InvokeError(f"the emulator exited at start; see {self.log_path}:\n{self.logs()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise InvokeError(f"the emulator did not listen on {self.endpoint_url} in {timeout_s} s")

    def post_invocation(self, payload: bytes, timeout_s: float = 120.0) -> tuple[int, bytes]:
        """POST one invocation through the Lambda Invoke API; returns the emulator's status and body.

        A kept-alive connection the emulator has since closed is retried once on a new one;
        a timeout is not (the invocation may be running: sending it again would run it twice).
        """
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
            try:
                self._connection.request("POST", INVOKE_PATH, body=payload,
                                         headers={"Content-Type": "application/json"})
                response = self._connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self._connection.close()
                self._connection = None
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise InvokeError(f"cannot invoke {self.spec.logical_id} at {self.endpoint_url}: {exc}") from exc
        raise AssertionError("unreachable")

    def invoke_raw(self, payload: bytes, timeout_s: float = 120.0) -> bytes:
        """POST one invocation through the Lambda Invoke API; returns the response payload."""
        status, body = self.post_invocation(payload, timeout_s)
        if status >= 300:
            raise InvokeError(f"emulator answered HTTP {status}: {body[:500]!r}")
        return body

    def invoke(self, event: dict[str, Any], timeout_s: float = 120.0) -> dict[str, Any]:
        """Invoke with ``event``; return the function's result, or raise if the function failed."""
        return decode_result(self.spec.logical_id, self.invoke_raw(json.dumps(event).encode(), timeout_s))

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def init_report_ms(self) -> list[float]:
        """Init durations the emulator itself reported (its 'INIT REPORT' lines)."""
        found = []
        for line in self.logs().splitlines():
            if "INIT REPORT(durationMs:" in line:
                found.append(float(line.split("durationMs:")[1].split(")")[0]))
        return found

    def runtime_pids(self) -> list[int]:
        """The processes the emulator started (the runtime); each runs in a process group of its own."""
        if self._process is None:
            return []
        return children_of(self._process.pid)

    def alive(self) -> bool:
        """Whether the emulator still runs (it starts its runtime again on the next invocation if that died)."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        runtimes = self.runtime_pids()
        # The emulator stops its runtime when it is asked to stop; if it cannot (it was
        # killed), the runtime, in a process group of its own, is ended here.
        stop_process_group(self._process, grace_s=5)
        for pid in runtimes:
            kill_process_group(pid)
        self._process = None

    def __enter__(self) -> EmulatedFunction:
        return self.start() if self._process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def function_error(payload: bytes) -> dict[str, Any] | None:
    """The error document when a payload is an unhandled function error, else None.

    The emulator answers HTTP 200 either way; Lambda marks errors with the
    X-Amz-Function-Error header, which we derive from the payload's shape.
    """
    try:
        result = json.loads(payload or b"null")
    except ValueError:
        return None
    if isinstance(result, dict) and {"errorType", "errorMessage"} <= result.keys() and "statusCode" not in result:
        return result
    return None


def decode_result(name: str, payload: bytes) -> Any:
    """Parse an invocation's payload; raise InvokeError if the function failed."""
    error = function_error(payload)
    if error is not None:
        raise InvokeError(f"{name} failed: {error['errorType']}: {error['errorMessage']}")
    return json.loads(payload or b"null")


def start_function(logical_id: str, **kwargs: Any) -> EmulatedFunction:
    """Start one of the template's functions (by logical id) under the emulator."""
    try:
        spec = FUNCTIONS[logical_id]
    except KeyError:
        raise SystemExit(f"unknown function {logical_id!r}; use one of {', '.join(FUNCTIONS)}") from None
    return EmulatedFunction(spec, **kwargs).start()


def check_runtime_ready() -> None:
    """Fail early, with the fix, when the pieces the emulator needs are missing."""
    if not DEFAULT_ARTIFACT_DIR.joinpath("manifest.json").is_file() and "MODEL_ARTIFACT_DIR" not in os.environ:
        raise SystemExit(f"no model artifact at {DEFAULT_ARTIFACT_DIR}; run `make artifact` first")
    if shutil.which(runtime_python()) is None and not Path(runtime_python()).exists():
        raise SystemExit(f"{runtime_python()} not found; run `make setup` first")
