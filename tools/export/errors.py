"""Errors of the artifact export. Each message says what was wrong and what to do."""

from __future__ import annotations


class ExportError(Exception):
    """Raised when a model directory cannot be exported: a missing file, an unsupported module or task."""


class ParityError(ExportError):
    """Raised when the exported graph, run as the runtime runs it, does not match the torch reference."""
