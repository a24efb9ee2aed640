"""Pre-warming policies: how many environments keep-warm pings each round, from the tier's history.

    none       never ping (the baseline)
    fixed      the warm count every round (what keep-warm did before the policies)
    refresh    the pool traffic needed, in rounds traffic did not already cover
    histogram  the hybrid histogram policy of "Serverless in the Wild" (ATC '20)
    learned    a logistic regression of "a request before the next round?"

``make_policy(name, max_pings=N, interval_s=...)`` builds one; ``policy.decide(history,
now_s)`` returns a ``Decision`` (pings, reason, inputs). ``read_history`` fills a
``TierHistory`` from CloudWatch. Standard library only (boto3 comes in as a client
passed to ``read_history``): keep-warm imports this in its init. ``tools/prewarm``
replays traces against these same classes and picks the default by measurement
(README "Pre-warming: the policy, measured").
"""

from __future__ import annotations

from typing import Any

from .base import MINUTE_S, Decision, KeepAlivePolicy, PrewarmPolicy, TierHistory
from .cloudwatch import MetricsSource, read_history
from .errors import HistoryError, PolicyConfigError, PrewarmError
from .fixed import FixedPolicy
from .histogram import HybridHistogramPolicy
from .learned import LearnedPolicy
from .none import NoPingPolicy
from .refresh import RefreshPolicy

POLICIES: dict[str, type[PrewarmPolicy]] = {
    policy.name: policy
    for policy in (NoPingPolicy, FixedPolicy, RefreshPolicy, HybridHistogramPolicy, LearnedPolicy)
}
POLICY_NAMES = tuple(POLICIES)


def make_policy(name: str, *, max_pings: int, interval_s: float = 300.0, **parameters: Any) -> PrewarmPolicy:
    """The policy called ``name``, with the tier's warm count as its most pings per round."""
    try:
        policy_class = POLICIES[name]
    except KeyError:
        raise PolicyConfigError(f"no pre-warming policy is called {name!r}; use one of "
                                f"{', '.join(POLICY_NAMES)}") from None
    try:
        return policy_class(max_pings=max_pings, interval_s=interval_s, **parameters)
    except TypeError as exc:
        raise PolicyConfigError(f"the {name} policy does not take these parameters: {exc}") from exc


__all__ = [
    "MINUTE_S", "POLICIES", "POLICY_NAMES", "Decision", "FixedPolicy", "HistoryError", "HybridHistogramPolicy",
    "KeepAlivePolicy", "LearnedPolicy", "MetricsSource", "NoPingPolicy", "PolicyConfigError", "PrewarmError",
    "PrewarmPolicy", "RefreshPolicy", "TierHistory", "make_policy", "read_history",
]
