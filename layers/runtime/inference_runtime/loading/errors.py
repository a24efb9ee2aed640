"""Errors raised while loading the model: model-level, with no HTTP in them (the API maps them)."""

from __future__ import annotations


class ModelNotReadyError(Exception):
    """Raised when the model is not loaded (still loading, or its last load failed); the API answers 503.

    The message says why and what to check; the environment retries the load later.
    """
