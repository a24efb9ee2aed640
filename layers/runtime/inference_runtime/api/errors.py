"""HTTP-facing errors. Each carries its status code and a machine-readable code.

Every error response has the same body, ``{"error": {"code": ..., "message": ...}}``,
where the message says what was wrong and what to send instead. The OpenAI-shaped routes
(``/v1/...``) answer the same error in OpenAI's shape, ``{"error": {"message", "type",
"param", "code"}}`` (``openai_body``), which the openai SDK and the clients built on it
read; it holds ``code`` and ``message`` too, so one parser reads both.
"""

from __future__ import annotations

from typing import Any

# How much of a client's value an error message quotes back.
QUOTE_LIMIT = 80


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A client's value as an error message shows it: ``repr`` (which escapes lone surrogates, that
    the Lambda runtime cannot encode and strict JSON decoders refuse, control characters and NUL),
    cut to ``limit`` characters (a 5,000-character path does not echo back whole)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 4]}...{text[-1]}"


class ApiError(Exception):
    """Raised to answer a request with a JSON error; the base of the HTTP errors."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}
        # The request field the error is about (OpenAI's ``param``), when there is one.
        self.param = param

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def openai_body(self) -> dict[str, Any]:
        """The error as OpenAI's API answers one: ``type`` is its class of error, ``param`` the field."""
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


class BadRequestError(ApiError):
    """The request cannot be parsed (not JSON, not an object, a bad header)."""


class RouteNotFoundError(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowedError(ApiError):
    status, code = 405, "method_not_allowed"


class ModelNotFoundError(ApiError):
    """The request names a model this deployment does not serve (OpenAI's ``model``)."""
    status, code = 404, "model_not_found"


class PayloadTooLargeError(ApiError):
    """The body, the number of inputs or one input exceeds its limit."""
    status, code = 413, "payload_too_large"


class UnprocessableError(ApiError):
    """The JSON is well formed but does not follow the request's schema."""
    status, code = 422, "invalid_request"


class TaskNotServedError(UnprocessableError):
    """A route needs a task (embeddings, classification, reranking) the loaded model does not do."""
    code = "task_not_supported"


class ModelUnavailableError(ApiError):
    """The model is not loaded: the model layer's ModelNotReadyError, or /health before the load."""
    status, code = 503, "model_not_ready"


class InternalError(ApiError):
    """A bug of ours, answered as a response; the traceback goes to the logs, never the client."""
    status, code = 500, "internal_error"
