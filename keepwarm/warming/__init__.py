"""Keep-warm's own package: the policies it runs, its CloudWatch history reader, its settings.

Shipped in the keep-warm function's code (``keepwarm/``, its CodeUri) beside ``app.py``;
the shared core (``lambda_shared``) comes from its layer. Standard library only (boto3
comes in as clients ``app.py`` passes). It never imports the inference runtime, and the
runtime never imports it (tests/unit/test_import_graph.py).

- ``policy``: ``none``, ``fixed``, ``refresh`` (``make_policy``, ``POLICIES``);
- ``base``: ``TierHistory``, ``Decision``, ``PrewarmPolicy``, ``KeepAlivePolicy`` (what the
  simulator's research policies in ``tools/prewarm`` build on too);
- ``cloudwatch``: ``read_history``, one GetMetricData call per tier and round;
- ``settings``: ``KeepWarmConfig.from_env``; ``rounds``: decide (with its fallback), ping, sum up.
"""

from __future__ import annotations

from .base import MINUTE_S, Decision, KeepAlivePolicy, PrewarmPolicy, TierHistory
from .cloudwatch import MetricsSource, read_history
from .errors import HistoryError, PolicyConfigError, PrewarmError
from .policy import DEFAULT_POLICY, POLICIES, POLICY_NAMES, FixedPolicy, NoPingPolicy, RefreshPolicy, make_policy
from .settings import KeepWarmConfig, WarmTarget

__all__ = [
    "DEFAULT_POLICY", "MINUTE_S", "POLICIES", "POLICY_NAMES", "Decision", "FixedPolicy", "HistoryError",
    "KeepAlivePolicy", "KeepWarmConfig", "MetricsSource", "NoPingPolicy", "PolicyConfigError", "PrewarmError",
    "PrewarmPolicy", "RefreshPolicy", "TierHistory", "WarmTarget", "make_policy", "read_history",
]
