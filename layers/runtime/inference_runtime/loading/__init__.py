"""Loading the model: the one loader that owns the sequence, the warm-up, and the not-ready error.

``ModelLoader.load()``: registry -> verified manifest -> verified files (beside the
backend's imports) -> backend -> task -> warm-up, each step an init phase.
"""

from .errors import ModelNotReadyError
from .loader import LoadedModel, ModelLoader

__all__ = ["LoadedModel", "ModelLoader", "ModelNotReadyError"]
