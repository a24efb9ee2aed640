"""The baseline: no pings; environments live only as long as traffic keeps them."""

from __future__ import annotations

from typing import Any

from .base import PrewarmPolicy, TierHistory


class NoPingPolicy(PrewarmPolicy):
    """Never pings (what a deployment without keep-warm gets)."""

    name = "none"
    reads_history = False

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        return 0, "none: keep-warm sends no pings", {}
