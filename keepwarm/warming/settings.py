"""Keep-warm's settings: which tiers it pings, how many, how, and by which policy.

The variable names are ``lambda_shared.env``'s, each tier's own come from the tier table
(``lambda_shared.tiers``: only the tiers with keep-warm variables are pinged; the GPU tier
has none), and each value is resolved as the inference function resolves its own
(``lambda_shared.settings``). Everything is checked when ``KeepWarmConfig.from_env`` runs,
at init: a bad value fails the function's init with a message naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from lambda_shared.env import (
    CLOUDWATCH_ENDPOINT_URL,
    KEEP_WARM_HISTORY_MINUTES,
    KEEP_WARM_POLICY,
    KEEP_WARM_SCHEDULE,
    LAMBDA_ENDPOINT_URL,
    METRICS_NAMESPACE,
    WARM_HOLD_MS,
)
from lambda_shared.settings import ConfigError, resolve, resolve_int
from lambda_shared.tiers import keep_warm_tiers

from .policy import DEFAULT_POLICY, POLICIES, POLICY_NAMES

DEFAULT_SCHEDULE = "rate(5 minutes)"
#: Policies the simulator studies (tools/prewarm/policies.py) that keep-warm does not run: named
#: here only to say so, rather than "unknown", when KEEP_WARM_POLICY asks for one.
RESEARCH_POLICIES = ("histogram", "learned")


@dataclass(frozen=True)
class WarmTarget:
    """One tier's alias and how many environments keep-warm holds warm there.

    ``count`` is what the fixed policy sends every round, the most any policy sends in one,
    and what keep-warm falls back to when the tier's metrics cannot be read. ``service`` is
    the tier's POWERTOOLS_SERVICE_NAME: the ``service`` dimension of its EMF metrics.
    """

    tier: str
    function: str
    count: int
    service: str = ""
    #: The model a function of its own serves (models.json's ``serve``); empty for a tier's function.
    model: str = ""

    @property
    def key(self) -> str:
        """What names this target in policies, decisions and the summary: its tier, or model/tier."""
        return f"{self.model}/{self.tier}" if self.model else self.tier


#: A JSON list of further targets (the template writes one per served model), beside the tiers' variables.
WARM_TARGETS = "WARM_TARGETS"
_TARGET_KEYS = {"model", "tier", "function", "count", "service"}


def parse_warm_targets(text: str | None) -> tuple[WarmTarget, ...]:
    """WARM_TARGETS' targets (those with a count of 0 left out); a ConfigError naming what is wrong."""
    if not text or not text.strip():
        return ()
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{WARM_TARGETS} is not JSON: {exc}") from exc
    if not isinstance(items, list):
        raise ConfigError(f"{WARM_TARGETS} must be a JSON list of targets")
    targets = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - _TARGET_KEYS or not {"tier", "function", "count"} <= set(item):
            raise ConfigError(f"{WARM_TARGETS}[{i}] must be an object with tier, function, count (and optionally "
                              f"model, service); got {item!r}")
        count = item["count"]
        if isinstance(count, str) and count.isdigit():  # a template's !Sub of a Number parameter may quote it
            count = int(count)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100:
            raise ConfigError(f"{WARM_TARGETS}[{i}].count must be an integer from 0 to 100, got {item['count']!r}")
        if not isinstance(item["function"], str) or not item["function"]:
            raise ConfigError(f"{WARM_TARGETS}[{i}].function must be the alias ARN to ping")
        if count:
            targets.append(WarmTarget(tier=str(item["tier"]), function=item["function"], count=count,
                                      service=str(item.get("service", "")), model=str(item.get("model", ""))))
    keys = [t.key for t in targets]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{WARM_TARGETS} names a target twice: {', '.join(sorted(keys))}")
    return tuple(targets)


def parse_rate_s(expression: str) -> int | None:
    """Seconds between runs of an EventBridge ``rate(N unit)`` expression; None for cron() and at()."""
    text = expression.strip()
    if not text.startswith("rate(") or not text.endswith(")"):
        return None
    parts = text[5:-1].split()
    units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86_400, "days": 86_400}
    if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in units or int(parts[0]) < 1:
        raise ConfigError(f"{KEEP_WARM_SCHEDULE}={expression!r} is not a rate expression like rate(5 minutes)")
    return int(parts[0]) * units[parts[1]]


def _policy(env: Mapping[str, str]) -> str:
    policy = str(resolve(KEEP_WARM_POLICY, None, DEFAULT_POLICY, env)).strip().lower()
    if policy in RESEARCH_POLICIES:
        raise ConfigError(f"{KEEP_WARM_POLICY}={policy!r} is a research policy of the simulator (tools/prewarm) "
                          f"that keep-warm does not run; use one of {', '.join(POLICY_NAMES)}")
    if policy not in POLICY_NAMES:
        raise ConfigError(f"{KEEP_WARM_POLICY}={policy!r} is not a pre-warming policy; use one of "
                          f"{', '.join(POLICY_NAMES)}")
    return policy


@dataclass(frozen=True)
class KeepWarmConfig:
    """Configuration of the keep-warm function."""

    targets: tuple[WarmTarget, ...]
    hold_ms: int = 250
    endpoint_url: str | None = None
    policy: str = DEFAULT_POLICY
    #: Seconds between keep-warm rounds (the schedule's rate): the policies plan one round ahead.
    interval_s: int = 300
    history_minutes: int = 1440
    cloudwatch_endpoint_url: str | None = None
    metrics_namespace: str = "FastInference"

    @property
    def reads_history(self) -> bool:
        return POLICIES[self.policy].reads_history

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeepWarmConfig:
        env = os.environ if environ is None else environ
        targets = []
        for tier in keep_warm_tiers():
            assert tier.alias_env and tier.warm_count_env and tier.service_env  # nosec B101 - keep_warm_tiers()
            count = resolve_int(tier.warm_count_env, None, 0, minimum=0, maximum=100, environ=env)
            function = resolve(tier.alias_env, None, None, env)
            if count and not function:
                raise ConfigError(f"{tier.warm_count_env}={count} but {tier.alias_env} is not set")
            if count:
                service = str(resolve(tier.service_env, None, tier.service_name, env))
                targets.append(WarmTarget(tier=tier.name, function=str(function), count=count, service=service))
        # The per-tier variables keep working; WARM_TARGETS adds the served models' functions.
        extra = parse_warm_targets(env.get(WARM_TARGETS))
        if {t.key for t in extra} & {t.key for t in targets}:
            raise ConfigError(f"{WARM_TARGETS} repeats a tier the per-tier variables already name; give it a model")
        targets.extend(extra)
        policy = _policy(env)
        schedule = str(resolve(KEEP_WARM_SCHEDULE, None, DEFAULT_SCHEDULE, env))
        interval_s = parse_rate_s(schedule)
        if interval_s is None:
            if POLICIES[policy].reads_history:
                raise ConfigError(f"{KEEP_WARM_SCHEDULE}={schedule!r}: the {policy} policy plans one round ahead "
                                  f"and needs a rate() schedule; use rate(5 minutes), or {KEEP_WARM_POLICY}=fixed")
            interval_s = 300
        return cls(
            targets=tuple(targets),
            hold_ms=resolve_int(WARM_HOLD_MS, None, 250, minimum=0, maximum=10_000, environ=env),
            endpoint_url=resolve(LAMBDA_ENDPOINT_URL, None, None, env),
            policy=policy,
            interval_s=interval_s,
            # 14 days of minutes: CloudWatch keeps 60-second data points for 15 days.
            history_minutes=resolve_int(KEEP_WARM_HISTORY_MINUTES, None, 1440, minimum=10, maximum=14 * 1440,
                                        environ=env),
            cloudwatch_endpoint_url=resolve(CLOUDWATCH_ENDPOINT_URL, None, None, env),
            metrics_namespace=str(resolve(METRICS_NAMESPACE, None, "FastInference", env)),
        )
