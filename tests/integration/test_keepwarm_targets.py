"""Keep-warm's WARM_TARGETS: a served model's function is a target beside the tiers, the old variables still work."""

from __future__ import annotations

import json

import pytest

from lambda_shared.settings import ConfigError
from warming import KeepWarmConfig
from warming.settings import WARM_TARGETS

TIERS = {"STANDARD_ALIAS_ARN": "arn:std:live", "STANDARD_WARM_COUNT": "2",
         "PREMIUM_ALIAS_ARN": "arn:prm:live", "PREMIUM_WARM_COUNT": "1"}
RERANKER = {"model": "ms-marco-MiniLM-L-6-v2", "tier": "standard", "function": "arn:rr:live", "count": "2",
            "service": "inference-m1"}


def test_the_per_tier_variables_alone_give_the_tier_targets_as_before() -> None:
    config = KeepWarmConfig.from_env(TIERS)
    assert [(t.key, t.function, t.count) for t in config.targets] == [("standard", "arn:std:live", 2),
                                                                      ("premium", "arn:prm:live", 1)]


def test_warm_targets_add_each_served_model_keyed_by_model_and_tier() -> None:
    config = KeepWarmConfig.from_env({**TIERS, WARM_TARGETS: json.dumps([RERANKER])})
    assert [(t.key, t.function, t.count, t.service) for t in config.targets] == [
        ("standard", "arn:std:live", 2, "inference-standard"), ("premium", "arn:prm:live", 1, "inference-premium"),
        ("ms-marco-MiniLM-L-6-v2/standard", "arn:rr:live", 2, "inference-m1")]
    # a count of 0 (StandardWarmCount=0) leaves the model out, as it leaves a tier out
    zero = KeepWarmConfig.from_env({**TIERS, WARM_TARGETS: json.dumps([{**RERANKER, "count": 0}])})
    assert [t.key for t in zero.targets] == ["standard", "premium"]


@pytest.mark.parametrize(("value", "says"), [
    ("[{", "not JSON"),
    ('{"tier": "standard"}', "JSON list"),
    (json.dumps([{"tier": "standard", "count": 1}]), "tier, function, count"),
    (json.dumps([{**RERANKER, "count": 101}]), "count must be"),
    (json.dumps([{**RERANKER, "colour": "red"}]), "tier, function, count"),
    (json.dumps([RERANKER, RERANKER]), "twice"),
    (json.dumps([{**RERANKER, "model": ""}]), "repeats a tier"),
])
def test_a_bad_warm_targets_fails_init_naming_it(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        KeepWarmConfig.from_env({**TIERS, WARM_TARGETS: value})
