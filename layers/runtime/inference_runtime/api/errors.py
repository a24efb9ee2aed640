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
    """A client's value as an error message shows it: ``repr``, cut to ``limit`` characters.

    ``repr`` escapes what must not reach the response as is: lone surrogates (the Lambda
    runtime cannot encode them as UTF-8, and strict JSON decoders refuse them), control
    characters and NUL; the cut keeps a 5,000-character path from echoing back whole.
    """
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
    """Raised when the request cannot be parsed (not JSON, not an object, a bad header)."""

    status = 400
    code = "bad_request"


class RouteNotFoundError(ApiError):
    """Raised when no route has the requested path."""

    status = 404
    code = "not_found"


class MethodNotAllowedError(ApiError):
    """Raised when the path exists but not for this HTTP method."""

    status = 405
    code = "method_not_allowed"


class ModelNotFoundError(ApiError):
    """Raised when a request names a model this deployment does not serve (OpenAI's ``model``)."""

    status = 404
    code = "model_not_found"


class PayloadTooLargeError(ApiError):
    """Raised when the body, the number of inputs or one input exceeds its limit."""

    status = 413
    code = "payload_too_large"


class UnprocessableError(ApiError):
    """Raised when the JSON is well formed but does not follow the request schema."""

    status = 422
    code = "invalid_request"


class TaskNotServedError(UnprocessableError):
    """Raised when a route needs a task (embeddings, classification, reranking) the loaded model does not do."""

    code = "task_not_supported"


class ModelUnavailableError(ApiError):
    """Raised when the model is not loaded: the model layer's ModelNotReadyError, or /health before the load."""

    status = 503
    code = "model_not_ready"


class InternalError(ApiError):
    """Raised (as a response) for a bug of ours; the traceback goes to the logs, never the client."""

    status = 500
    code = "internal_error"
