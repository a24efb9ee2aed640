"""Inference backends. Each is imported only when chosen, so unused ones cost nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import BackendError

if TYPE_CHECKING:
    from ..config import RuntimeConfig
    from .base import InferenceBackend


def backend_for(format_name: str, config: RuntimeConfig | None = None) -> type[InferenceBackend]:
    """The backend class that runs artifacts of ``format_name``.

    With ``config.model_server == "shared"``: the backend whose graph runs in the environment's
    model server (``remote``), the worker keeping only the tokenizer.
    """
    if format_name == "onnx":
        if config is not None and config.model_server == "shared":
            from .remote import RemoteBackend

            return RemoteBackend.bind(config)
        from .onnx import OnnxBackend

        return OnnxBackend
    raise BackendError(f"no backend runs artifacts of format {format_name!r}; this runtime supports 'onnx'")


__all__ = ["BackendError", "backend_for"]
