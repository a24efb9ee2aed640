"""Every pre-warming policy the simulator compares: keep-warm's own, and the research ones it does not run.

Keep-warm runs none, fixed and refresh (``warming.policy``, in the keep-warm function's
code); histogram and learned are studied here only. Both kinds are the same
``PrewarmPolicy`` classes, so what is simulated for keep-warm's policies is what runs.
"""

from __future__ import annotations

from typing import Any

from warming.base import PrewarmPolicy
from warming.policy import DEFAULT_POLICY
from warming.policy import POLICIES as KEEP_WARM_POLICIES
from warming.policy import make_policy as _make_policy

from .histogram import HybridHistogramPolicy
from .learned import LearnedPolicy

#: keep-warm's policies first, then the research ones, in the report's order.
POLICIES: dict[str, type[PrewarmPolicy]] = {**KEEP_WARM_POLICIES,
                                            **{p.name: p for p in (HybridHistogramPolicy, LearnedPolicy)}}
POLICY_NAMES = tuple(POLICIES)
RESEARCH_POLICY_NAMES = tuple(name for name in POLICIES if name not in KEEP_WARM_POLICIES)

__all__ = ["DEFAULT_POLICY", "KEEP_WARM_POLICIES", "POLICIES", "POLICY_NAMES", "RESEARCH_POLICY_NAMES",
           "make_policy"]


def make_policy(name: str, *, max_pings: int, interval_s: float = 300.0, **parameters: Any) -> PrewarmPolicy:
    """Any policy of ``POLICIES`` by name, keep-warm's or a research one."""
    return _make_policy(name, max_pings=max_pings, interval_s=interval_s, policies=POLICIES, **parameters)
