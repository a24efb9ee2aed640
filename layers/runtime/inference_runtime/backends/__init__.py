"""Inference backends. Each is imported only when chosen, so unused ones cost nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BackendError

if TYPE_CHECKING:
    from .base import InferenceBackend


def backend_for(format_name: str) -> type[InferenceBackend]:
    """The backend class that runs artifacts of ``format_name``."""
    if format_name == "onnx":
        from .onnx import OnnxBackend

        return OnnxBackend
    raise BackendError(f"no backend runs artifacts of format {format_name!r}; this runtime supports 'onnx'")


__all__ = ["BackendError", "backend_for"]
