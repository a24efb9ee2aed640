"""Configuration: one resolution order, clear errors that name the variable, and the tier table."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_runtime.config import RuntimeConfig
from lambda_shared import env as names
from lambda_shared.settings import ConfigError, resolve
from lambda_shared.tiers import TIER_NAMES, TIERS, UnknownTierError, for_header, keep_warm_tiers, tier
from warming import KeepWarmConfig


def test_explicit_beats_environment_beats_default() -> None:
    env = {"LATENCY_TIER": "premium"}
    assert resolve("LATENCY_TIER", "standard", "x", env) == "standard"
    assert resolve("LATENCY_TIER", None, "x", env) == "premium"
    assert resolve("LATENCY_TIER", None, "x", {}) == "x"
    assert resolve("LATENCY_TIER", None, "x", {"LATENCY_TIER": ""}) == "x"


def test_runtime_defaults_and_overrides() -> None:
    config = RuntimeConfig.from_env({"MODEL_ARTIFACT_DIR": "/m", "MAX_INPUTS": "8",
                                     "LATENCY_TIER": "Premium", "PRELOAD_MODEL": "false"})
    assert config.artifact_dir == Path("/m")
    assert (config.max_inputs, config.tier, config.preload_model) == (8, "premium", False)
    assert RuntimeConfig.from_env({"LAMBDA_TASK_ROOT": "/var/task"}).artifact_dir == Path("/var/task/model")


@pytest.mark.parametrize("env, message", [
    ({"LATENCY_TIER": "gold"}, "LATENCY_TIER='gold' is not a tier"),
    ({"MAX_INPUTS": "many"}, "MAX_INPUTS='many' is not an integer"),
    ({"MAX_INPUTS": "0"}, "MAX_INPUTS=0 is out of range"),
    ({"PRELOAD_MODEL": "perhaps"}, "PRELOAD_MODEL='perhaps' is not a boolean"),
    ({"MAX_BODY_BYTES": "2000000"}, "MAX_BODY_BYTES=2000000 is out of range"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RuntimeConfig.from_env(env)


def test_keepwarm_targets_from_environment() -> None:
    config = KeepWarmConfig.from_env({
        "STANDARD_ALIAS_ARN": "arn:std", "STANDARD_WARM_COUNT": "3",
        "PREMIUM_ALIAS_ARN": "arn:prm", "PREMIUM_WARM_COUNT": "0", "WARM_HOLD_MS": "100",
    })
    assert [(t.tier, t.function, t.count) for t in config.targets] == [("standard", "arn:std", 3)]
    assert config.hold_ms == 100 and config.endpoint_url is None


def test_keepwarm_count_without_alias_is_an_error() -> None:
    with pytest.raises(ConfigError, match="PREMIUM_WARM_COUNT=2 but PREMIUM_ALIAS_ARN is not set"):
        KeepWarmConfig.from_env({"PREMIUM_WARM_COUNT": "2"})


def test_the_tier_table_is_what_every_reader_reads() -> None:
    # GIVEN the one table of tiers
    # THEN it holds the three tiers, each routed by its own header value, the GPU one optional
    assert TIER_NAMES == ("standard", "premium", "gpu")
    assert [t.header_value for t in TIERS] == ["standard", "premium", "gpu"]
    assert [t.name for t in TIERS if t.optional] == ["gpu"]
    # AND keep-warm pings the two it has variables for, never the GPU tier (environments start before traffic)
    assert [(t.name, t.alias_env, t.warm_count_env, t.service_env) for t in keep_warm_tiers()] == [
        ("standard", names.STANDARD_ALIAS_ARN, names.STANDARD_WARM_COUNT, names.STANDARD_SERVICE_NAME),
        ("premium", names.PREMIUM_ALIAS_ARN, names.PREMIUM_WARM_COUNT, names.PREMIUM_SERVICE_NAME)]
    assert tier("gpu").init_types == ("lambda-managed-instances",) and not tier("gpu").keep_warm
    # AND the inference function accepts every tier of the table as its LATENCY_TIER
    assert [RuntimeConfig.from_env({"LATENCY_TIER": name}).tier for name in TIER_NAMES] == list(TIER_NAMES)


def test_a_header_routes_to_its_tier_and_anything_else_to_standard() -> None:
    assert [for_header(v).name for v in ("premium", " GPU ", "standard")] == ["premium", "gpu", "standard"]
    assert [for_header(v).name for v in (None, "", "gold")] == ["standard"] * 3
    with pytest.raises(UnknownTierError, match="'gold' is not a tier; use one of standard, premium, gpu"):
        tier("gold")


def test_the_template_sets_each_tier_s_service_name_as_the_table_says() -> None:
    # The EMF `service` dimension keep-warm queries by is the tier's POWERTOOLS_SERVICE_NAME in the template.
    text = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    for t in TIERS:
        assert f"POWERTOOLS_SERVICE_NAME: {t.service_name}" in text, t.name
        assert f"LATENCY_TIER: {t.name}" in text, t.name
