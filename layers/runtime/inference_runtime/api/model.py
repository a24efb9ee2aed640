"""What the handlers may know: a narrow model interface and the request limits, nothing more.

The handlers see neither the service nor the configuration: ``Model`` is what they call
(the service is one; tests pass fakes), ``Limits`` what they check against, built once
from RuntimeConfig by ``routes.build_handler``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import RuntimeConfig
    from ..lifecycle.timing import RequestTimings
    from ..service import ModelDescription


class Model(Protocol):
    """The loaded model as the routes use it. ``describe`` and the task methods load it first,
    or raise ModelNotReadyError (answered 503) with the reason."""

    @property
    def ready(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    def load(self) -> object: ...
    def describe(self) -> ModelDescription: ...
    def model_identity(self) -> dict[str, Any]: ...
    def init_summary(self) -> dict[str, Any]: ...
    def embed(self, texts: list[str], *, prompt_name: str | None = None, dimensions: int | None = None,
              timings: RequestTimings | None = None) -> list[list[float]]: ...
    def classify(self, texts: list[str], top_k: int | None = None, *, raw_scores: bool = False,
                 timings: RequestTimings | None = None) -> list[list[dict[str, Any]]]: ...
    def rerank(self, query: str, documents: list[str], *, raw_scores: bool = False,
               timings: RequestTimings | None = None) -> list[float]: ...
    def tokenize(self, texts: list[str], *, add_special_tokens: bool = True,
                 prompt_name: str | None = None) -> list[list[dict[str, Any]]]: ...
    def decode(self, ids: list[list[int]], *, skip_special_tokens: bool = True) -> list[str]: ...
    def token_counts(self, texts: list[str], *, truncate: bool = True) -> list[int]: ...
    def count_tokens(self, texts: list[str]) -> int: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """The request limits (MAX_INPUTS, MAX_INPUT_CHARS, MAX_BODY_BYTES, MAX_WARM_HOLD_MS) and the tier.

    The defaults are RuntimeConfig's, for tests; the function builds its own with ``from_config``.
    """

    max_inputs: int = 64
    max_input_chars: int = 10_000
    max_body_bytes: int = 256 * 1024
    max_warm_hold_ms: int = 2_000
    tier: str = "standard"
    #: MODEL_NAME: the name under which a load balancer may route here (``/models/<name>/...``)
    model_name: str = "all-MiniLM-L6-v2"

    @classmethod
    def from_config(cls, config: RuntimeConfig) -> Limits:
        return cls(max_inputs=config.max_inputs, max_input_chars=config.max_input_chars,
                   max_body_bytes=config.max_body_bytes, max_warm_hold_ms=config.max_warm_hold_ms, tier=config.tier,
                   model_name=config.model_name)


def dimensions(description: ModelDescription) -> int | None:
    """The embedding size, when the model's contract states it."""
    value = description.spec.dimensions
    return value if isinstance(value, int) and value > 0 else None
