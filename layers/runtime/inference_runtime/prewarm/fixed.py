"""Today's policy: the tier's warm count, every round, whatever the traffic did."""

from __future__ import annotations

from typing import Any

from .base import PrewarmPolicy, TierHistory


class FixedPolicy(PrewarmPolicy):
    """``max_pings`` overlapping pings every round: N environments held warm at all times."""

    name = "fixed"
    reads_history = False

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        return self.max_pings, f"fixed: {self.max_pings} every round", {}
