"""Errors raised by inference backends."""


class BackendError(Exception):
    """Raised when a backend cannot load a model or run it."""
