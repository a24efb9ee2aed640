"""The simplest history-reading policy: hold the pool traffic needed, in rounds traffic did not cover.

It is ``KeepAlivePolicy`` with nothing added: while any user request is in the history
window it always wants the pool warm. What it saves over the fixed count comes from the
two rules every history-reading policy has (a pool no bigger than traffic needed, no ping
for a pool that just ran); it is here to show how much of the other policies' saving
those two rules explain on their own.
"""

from __future__ import annotations

from typing import Any

from .base import KeepAlivePolicy, TierHistory


class RefreshPolicy(KeepAlivePolicy):
    """Pings the pool whenever it has not run for ``refresh_after_s``; never predicts."""

    name = "refresh"

    def _wanted(self, history: TierHistory, now_s: float, idle_s: float) -> tuple[bool, str, dict[str, Any]]:
        return True, f"idle {idle_s / 60:.0f} min, a request was seen in the window: hold the pool", {}
