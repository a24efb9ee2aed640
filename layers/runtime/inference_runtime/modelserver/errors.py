"""Errors of the environment's model server: model-level, with no HTTP in them (the API maps them)."""

from __future__ import annotations

from ..loading.errors import ModelNotReadyError


class ModelServerError(Exception):
    """Raised when the model server or its wire protocol fails; the base of the errors below."""


class ProtocolError(ModelServerError):
    """Raised when a frame on the model server's socket is malformed (a bug, or a stranger on the socket)."""


class ModelServerUnavailableError(ModelServerError, ModelNotReadyError):
    """Raised when a request found no model server to answer it, even after restarting it once.

    A ModelNotReadyError, so the API answers it 503 like any model not ready; ``code`` says
    which way it failed, for clients and logs: ``model_server_unavailable`` (it would not
    start, or died again), ``model_server_timeout`` (no answer in MODEL_SERVER_TIMEOUT_S).
    """

    def __init__(self, message: str, *, code: str = "model_server_unavailable") -> None:
        super().__init__(message)
        self.code = code


class RemoteRunError(ModelServerError):
    """Raised when the model server ran a batch and the graph failed (the server stays up)."""
