"""Keep-warm's fallback: when its policy cannot decide, the tier gets its fixed warm count, and the reason says why.

In-memory fakes passed in (a policy that raises, a CloudWatch client that fails); the same
fallback against a real CloudWatch API on loopback is in tests/integration/test_keepwarm_policy.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from warming import Decision, PrewarmPolicy, TierHistory, WarmTarget, make_policy
from warming.rounds import decide

NOW = 1_700_000_030.0
TARGET = WarmTarget(tier="standard", function="arn:aws:lambda:us-east-1:123456789012:function:Std:live", count=3,
                    service="inference-standard")


class BrokenPolicy(PrewarmPolicy):
    """Reads no history and fails to decide, as a bug in a policy would."""

    name = "broken"
    reads_history = False

    def _decide(self, history: TierHistory | None, now_s: float) -> tuple[int, str, dict[str, Any]]:
        raise ZeroDivisionError("division by zero")


class FailingCloudWatch:
    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        raise ConnectionError("no route to monitoring.us-east-1.amazonaws.com")


class EmptyCloudWatch:
    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        return {"MetricDataResults": []}


def run(policy: PrewarmPolicy, client: Any) -> Decision:
    return decide(policy, TARGET, NOW, cloudwatch=lambda: client, namespace="FastInference", history_minutes=60)


def test_a_policy_that_raises_falls_back_to_the_fixed_count() -> None:
    # GIVEN a policy that raises while deciding
    # WHEN keep-warm decides the round
    decision = run(BrokenPolicy(max_pings=3), EmptyCloudWatch())
    # THEN the tier gets its warm count, marked as a fallback, with the error in the reason
    assert (decision.policy, decision.pings, decision.fallback) == ("broken", 3, True)
    assert decision.reason == "policy failed (ZeroDivisionError: division by zero); sent the fixed count 3"


def test_unreadable_history_falls_back_to_the_fixed_count() -> None:
    # GIVEN the default policy, and CloudWatch out of reach
    decision = run(make_policy("refresh", max_pings=3), FailingCloudWatch())
    # THEN the tier gets its warm count, and the reason names the read that failed
    assert (decision.policy, decision.pings, decision.fallback) == ("refresh", 3, True)
    assert decision.reason.startswith("metrics unavailable (HistoryError: GetMetricData for Std:live (standard) "
                                      "failed: ConnectionError: no route")
    assert decision.reason.endswith("sent the fixed count 3")


def test_a_readable_history_is_decided_by_the_policy_not_the_fallback() -> None:
    # GIVEN CloudWatch answering, with no traffic at all
    decision = run(make_policy("refresh", max_pings=3), EmptyCloudWatch())
    # THEN the policy decided (nothing to keep warm), no fallback
    assert (decision.pings, decision.fallback) == (0, False)
    assert decision.reason.startswith("no user request in the last 60 min")


@pytest.mark.parametrize("name", ["fixed", "none"])
def test_policies_that_read_no_history_never_create_the_client(name: str) -> None:
    def no_client() -> Any:
        raise AssertionError("the CloudWatch client was created")

    decision = decide(make_policy(name, max_pings=3), TARGET, NOW, cloudwatch=no_client, namespace="N",
                      history_minutes=60)
    assert decision.fallback is False and decision.pings == (3 if name == "fixed" else 0)
