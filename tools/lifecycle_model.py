"""How long Lambda keeps an execution environment: the one model the local fleet and the simulator share.

Lambda does not document when it reclaims an idle environment, and it is not a constant.
The published measurement this model follows (Yan Cui, "Finding coldstarts: how long
does AWS Lambda keep your idle functions around?", 2017, repeated by others since):
most idle environments are reclaimed after 45 to 60 minutes without an invocation, some
much earlier when the host needs the room, and no environment lives much more than a
few hours (about 4) from its start, busy or not. So:

- idle reclaim: with probability ``early_probability`` uniform in ``early_s``, else uniform
  in ``usual_s`` (seconds since the environment's last invocation ended), drawn afresh
  each time the environment falls idle (the fleet and the simulator both do so);
- maximum age: ``max_age_s`` since its init, after which it is recycled when next idle;
- provisioned environments are never reclaimed for idleness (Lambda keeps them
  initialised; it may still replace them, which this model leaves out).

Every time is in seconds of the traffic's own clock. ``scaled(factor)`` divides them all,
for a local fleet replaying traffic ``factor`` times faster than it happened.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class IdleReclaim:
    """Seconds an idle environment survives before Lambda reclaims it: a two-part mixture."""

    early_probability: float = 0.2
    early_s: tuple[float, float] = (300.0, 2700.0)
    usual_s: tuple[float, float] = (2700.0, 3600.0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.early_probability <= 1.0:
            raise ValueError(f"early_probability {self.early_probability} is not in [0, 1]")
        for low, high in (self.early_s, self.usual_s):
            if not 0.0 < low <= high:
                raise ValueError(f"an idle-reclaim range must satisfy 0 < low <= high, got ({low}, {high})")

    def draw(self, rng: random.Random) -> float:
        low, high = self.early_s if rng.random() < self.early_probability else self.usual_s
        return rng.uniform(low, high)

    @property
    def shortest_s(self) -> float:
        return min(self.early_s[0], self.usual_s[0]) if self.early_probability else self.usual_s[0]

    def scaled(self, factor: float) -> IdleReclaim:
        return replace(self, early_s=(self.early_s[0] / factor, self.early_s[1] / factor),
                       usual_s=(self.usual_s[0] / factor, self.usual_s[1] / factor))


@dataclass(frozen=True)
class LifecycleModel:
    """When an environment is reclaimed (idle) or recycled (old); see the module's docstring."""

    idle_reclaim: IdleReclaim = field(default_factory=IdleReclaim)
    max_age_s: float = 4 * 3600.0

    def __post_init__(self) -> None:
        if self.max_age_s <= 0:
            raise ValueError(f"max_age_s must be positive, got {self.max_age_s}")

    def scaled(self, factor: float) -> LifecycleModel:
        """The same model on a clock ``factor`` times faster (factor > 1 shortens every time)."""
        if factor <= 0:
            raise ValueError(f"a time-compression factor must be positive, got {factor}")
        return LifecycleModel(self.idle_reclaim.scaled(factor), self.max_age_s / factor)


#: The model both the local fleet and the simulator use unless told otherwise.
DEFAULT_LIFECYCLE = LifecycleModel()
