"""Keep-warm end to end: the zip function under the emulator, pinging both tiers through
the Lambda Invoke API of the local Lambda service, with boto3 as in the cloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import load_event
from tools.local.deployment import LocalDeployment
from tools.local.emulator import start_function
from tools.local.invoke import keepwarm_environment

pytestmark = pytest.mark.integration


def test_overlapping_pings_hold_n_distinct_environments_warm(artifact_dir: Path) -> None:
    # GIVEN both tiers with no environment yet, and keep-warm asked for 3 standard, 1 premium
    with LocalDeployment(max_environments=4, prewarm_premium=False) as deployment:
        env = keepwarm_environment(deployment, standard=3, premium=1)
        with start_function("KeepWarmFunction", env=env) as keepwarm:
            # WHEN the schedule fires twice
            first = keepwarm.invoke(load_event("keepwarm-schedule.json"))
            second = keepwarm.invoke(load_event("keepwarm-schedule.json"))
            logs = keepwarm.logs()
        standard_envs = len(deployment.pools["standard"].environments)
    # THEN the first run started 3 + 1 environments, cold; the second found the same ones warm
    assert first["tiers"]["standard"] | {"function": None, "init_types": None} == {
        "function": None, "init_types": None, "requested": 3, "answered": 3,
        "distinct_instances": 3, "cold": 3, "errors": []}
    assert (first["tiers"]["premium"]["distinct_instances"], first["tiers"]["premium"]["cold"]) == (1, 1)
    assert first["tiers"]["premium"]["init_types"] == ["provisioned-concurrency"]
    assert (second["tiers"]["standard"]["distinct_instances"], second["tiers"]["standard"]["cold"]) == (3, 0)
    assert standard_envs == 3
    assert '"event": "keepwarm"' in logs


def test_unreachable_tier_is_reported_not_raised(artifact_dir: Path) -> None:
    with LocalDeployment(max_environments=1, prewarm_premium=False) as deployment:
        env = keepwarm_environment(deployment, standard=1, premium=0)
        env["STANDARD_ALIAS_ARN"] = "arn:aws:lambda:us-east-1:000000000000:function:NoSuchFunction:live"
        with start_function("KeepWarmFunction", env=env) as keepwarm:
            result = keepwarm.invoke(load_event("keepwarm-schedule.json"))
    standard = result["tiers"]["standard"]
    assert standard["answered"] == 0 and len(standard["errors"]) == 1
    assert "NoSuchFunction" in standard["errors"][0] or "not found" in standard["errors"][0].lower()
