"""The hook's settings, from the variables the template sets on each tier's hook function.

Names are ``lambda_shared.env``'s; values are resolved and checked as keep-warm's are
(``lambda_shared.settings``). Unlike keep-warm, the hook reads them per invocation inside
its try (``app.handler``): a bad value must become a Failed verdict CodeDeploy hears about,
not an init error that leaves the deployment waiting for the hook's hour-long timeout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_shared.env import (
    CODEDEPLOY_ENDPOINT_URL,
    LAMBDA_ENDPOINT_URL,
    PRETRAFFIC_POLL_S,
    PRETRAFFIC_SMOKE_BODY,
    PRETRAFFIC_TIER,
    PRETRAFFIC_TIMEOUT_S,
    PRETRAFFIC_VERSION_ARN,
    PRETRAFFIC_WAIT_PROVISIONED,
    PRETRAFFIC_WARM_COUNT,
    WARM_HOLD_MS,
)
from lambda_shared.settings import ConfigError, resolve, resolve_bool, resolve_int, resolve_tier

#: The smoke request's body: one short input, which the embeddings and classification tasks take.
DEFAULT_SMOKE_BODY = '{"inputs": ["pre-traffic smoke test"]}'
#: The smoke /predict body for each task, when PRETRAFFIC_SMOKE_BODY names none: the hook reads the
#: version's task from its own /openapi.json (info.x-model.task), so a reranker published to S3,
#: whose task no build argument states, still gets a body it accepts.
SMOKE_BODIES = {
    "embeddings": DEFAULT_SMOKE_BODY,
    "classification": DEFAULT_SMOKE_BODY,
    "reranking": '{"query": "pre-traffic smoke test", "documents": ["a document", "another document"]}',
}


@dataclass(frozen=True)
class HookConfig:
    """What one tier's hook checks, and how long it may take."""

    #: The version's ARN (``arn:aws:lambda:region:account:function:NAME:VERSION``).
    version_arn: str
    tier: str
    #: How many distinct environments must answer /warm: at least 1 (from_env reads 0 as 1).
    warm_count: int = 1
    #: How long each /warm holds its environment, so the N concurrent pings overlap on N of them.
    hold_ms: int = 1000
    wait_provisioned: bool = True
    timeout_s: int = 600
    poll_s: int = 5
    #: None: chosen by the version's task (SMOKE_BODIES)
    smoke_body: str | None = None
    lambda_endpoint_url: str | None = None
    codedeploy_endpoint_url: str | None = None

    @property
    def function_name(self) -> str:
        return self.version_arn.rsplit(":", 1)[0]

    @property
    def qualifier(self) -> str:
        return self.version_arn.rsplit(":", 1)[1]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HookConfig:
        env = os.environ if environ is None else environ
        version_arn = resolve(PRETRAFFIC_VERSION_ARN, None, None, env)
        if not version_arn:
            raise ConfigError(f"{PRETRAFFIC_VERSION_ARN} is not set; the template sets it to the new version "
                              "(`!Ref <Function>.Version`)")
        parts = version_arn.split(":")
        # A version's ARN has 8 parts, the last a number; an alias or $LATEST would check what
        # already takes traffic, not what is about to.
        if len(parts) != 8 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function" \
                or not parts[7].isdigit():
            raise ConfigError(f"{PRETRAFFIC_VERSION_ARN}={version_arn!r} is not a published version's ARN "
                              "(arn:aws:lambda:REGION:ACCOUNT:function:NAME:NUMBER)")
        smoke_body = resolve(PRETRAFFIC_SMOKE_BODY, None, None, env)
        try:
            parsed: Any = json.loads(smoke_body) if smoke_body is not None else {}
        except ValueError as exc:
            raise ConfigError(f"{PRETRAFFIC_SMOKE_BODY} is not JSON ({exc}); give the /predict body, "
                              f"e.g. {DEFAULT_SMOKE_BODY}") from exc
        if not isinstance(parsed, dict):
            raise ConfigError(f"{PRETRAFFIC_SMOKE_BODY} must be a JSON object (a /predict body), "
                              f"got {type(parsed).__name__}")
        return cls(
            version_arn=version_arn,
            tier=resolve_tier(PRETRAFFIC_TIER, None, env),
            # 0 is accepted and checks one environment: the template passes StandardWarmCount and
            # PremiumWarmCount, where 0 turns keep-warm off, and a deploy with keep-warm off must
            # still pass. The new version still has to start, load its model and answer before
            # traffic moves to it, so one /warm (and the smoke /predict) always runs.
            warm_count=max(1, resolve_int(PRETRAFFIC_WARM_COUNT, None, 1, minimum=0, maximum=100, environ=env)),
            hold_ms=resolve_int(WARM_HOLD_MS, None, 1000, minimum=0, maximum=10_000, environ=env),
            wait_provisioned=resolve_bool(PRETRAFFIC_WAIT_PROVISIONED, None, True, env),
            timeout_s=resolve_int(PRETRAFFIC_TIMEOUT_S, None, 600, minimum=1, maximum=900, environ=env),
            poll_s=resolve_int(PRETRAFFIC_POLL_S, None, 5, minimum=1, maximum=60, environ=env),
            smoke_body=smoke_body,
            lambda_endpoint_url=resolve(LAMBDA_ENDPOINT_URL, None, None, env),
            codedeploy_endpoint_url=resolve(CODEDEPLOY_ENDPOINT_URL, None, None, env),
        )
