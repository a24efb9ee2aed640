"""Configuration: one resolution order, and clear errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_runtime.config import ConfigError, KeepWarmConfig, RuntimeConfig, resolve


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
