"""The policies keep-warm runs, by name: none, fixed and refresh.

    none       never ping (the baseline)
    fixed      the warm count every round (reads no metrics: the cheapest)
    refresh    the pool traffic needed, in rounds traffic did not already cover (the default:
               ``python -m tools.prewarm.report`` chose it by measurement)

Research policies keep-warm does not run (histogram, learned) live with the simulator in
``tools/prewarm/policies.py``, built on the same ``PrewarmPolicy`` and ``KeepAlivePolicy``.
"""

from __future__ import annotations

from typing import Any

from .base import KeepAlivePolicy, PrewarmPolicy, TierHistory
from .errors import PolicyConfigError


class NoPingPolicy(PrewarmPolicy):
    """Never pings (what a deployment without keep-warm gets)."""

    name = "none"
    reads_history = False

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        return 0, "none: keep-warm sends no pings", {}


class FixedPolicy(PrewarmPolicy):
    """``max_pings`` overlapping pings every round: N environments held warm at all times."""

    name = "fixed"
    reads_history = False

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        return self.max_pings, f"fixed: {self.max_pings} every round", {}


class RefreshPolicy(KeepAlivePolicy):
    """Pings the pool whenever it has not run for ``refresh_after_s``; never predicts.

    It is ``KeepAlivePolicy`` with nothing added: while any user request is in the history
    window it always wants the pool warm. What it saves over the fixed count comes from the
    two rules every history-reading policy has (a pool no bigger than traffic needed, no ping
    for a pool that just ran).
    """

    name = "refresh"

    def _wanted(self, history: TierHistory, now_s: float, idle_s: float) -> tuple[bool, str, dict[str, Any]]:
        return True, f"idle {idle_s / 60:.0f} min, a request was seen in the window: hold the pool", {}


#: The policies keep-warm runs, by name (KEEP_WARM_POLICY; the template's KeepWarmPolicy).
POLICIES: dict[str, type[PrewarmPolicy]] = {policy.name: policy for policy in (NoPingPolicy, FixedPolicy,
                                                                                RefreshPolicy)}
POLICY_NAMES = tuple(POLICIES)
#: What keep-warm runs unless KEEP_WARM_POLICY says otherwise: the one ``python -m
#: tools.prewarm.report`` chose by measurement; the report warns when the two differ.
DEFAULT_POLICY = "refresh"


def make_policy(name: str, *, max_pings: int, interval_s: float = 300.0,
                policies: dict[str, type[PrewarmPolicy]] | None = None, **parameters: Any) -> PrewarmPolicy:
    """The policy called ``name`` (among ``policies``, by default keep-warm's), at most ``max_pings`` a round."""
    table = POLICIES if policies is None else policies
    try:
        policy_class = table[name]
    except KeyError:
        raise PolicyConfigError(f"no pre-warming policy is called {name!r}; use one of {', '.join(table)}") from None
    try:
        return policy_class(max_pings=max_pings, interval_s=interval_s, **parameters)
    except TypeError as exc:
        raise PolicyConfigError(f"the {name} policy does not take these parameters: {exc}") from exc
