"""The backend of a worker that holds no session: the graph runs in the environment's model server.

With MODEL_SERVER=shared (Lambda Managed Instances: many worker processes per environment),
a worker keeps what is cheap and per-request (the tokenizer, the task's pre- and
post-processing) and sends token ids to the one model server of its environment
(``inference_runtime.modelserver``), which batches them with the other workers' requests.
Everything else is the ONNX backend's: this class only changes where the session is.

What the worker verifies: the manifest and the tokenizer, through the cache (sha256 as
always). The weights are the server's to fetch and verify, with the same loader; a worker
never opens them, so it neither reads nor hashes nor maps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import DeviceChoice
from .errors import BackendError
from .onnx import OnnxBackend, _tokenizer_entry

if TYPE_CHECKING:
    from ..artifact import FileEntry, Manifest
    from ..config import RuntimeConfig
    from .base import VerifiedPaths


class RemoteBackend(OnnxBackend):
    """The ONNX backend over a ``ServerSession``; ``bind(config)`` gives the class for one configuration."""

    name = "modelserver"
    #: the configuration the session connects with (set by ``bind``: the loader's calls are classmethods)
    config: RuntimeConfig | None = None

    @classmethod
    def bind(cls, config: RuntimeConfig) -> type[RemoteBackend]:
        return type(cls.__name__, (cls,), {"config": config})

    @classmethod
    def files(cls, manifest: Manifest) -> list[FileEntry]:
        super().files(manifest)  # refuses what the server could not run, before anything is started
        return [_tokenizer_entry(manifest)]

    @classmethod
    def import_libraries(cls) -> None:
        # No onnxruntime in a worker: that is the point (memory, and on a GPU no CUDA context).
        import numpy  # noqa: F401
        import tokenizers  # noqa: F401

    @classmethod
    def select_device(cls, execution_provider: str,
                      provider_options: Mapping[str, str] | None = None) -> DeviceChoice:
        return DeviceChoice("cpu", "MODEL_SERVER=shared: the environment's model server runs the graph "
                                   "on its device; this worker only tokenizes")

    @classmethod
    def open_session(cls, manifest: Manifest, paths: VerifiedPaths, *, intra_op_threads: int = 0,
                     device: DeviceChoice | None = None, prepacking: bool = True) -> Any:
        from ..modelserver.client import ServerSession
        from ..modelserver.errors import ModelServerError

        if cls.config is None:
            raise TypeError("RemoteBackend.bind(config) gives the class to open; RemoteBackend itself has none")
        try:
            return ServerSession(cls.config)
        except ModelServerError as exc:
            # A load that failed, as the service knows them: it keeps the reason, answers 503 with
            # it, and retries after MODEL_RETRY_SECONDS (not at every request: each would start a server).
            raise BackendError(f"no model server for this environment: {exc}") from exc

    @classmethod
    def describe_session(cls, session: Any, device: DeviceChoice) -> dict[str, Any]:
        return {"providers": session.get_providers(), "model_server_pid": session.server_pid,
                "model_server": str(session.endpoint.socket),
                "model_server_events": [e["event"] for e in session.events]}
