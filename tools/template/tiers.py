"""The tiers as template.yaml deploys them: the data the generated parts of the template come from.

Only what the template needs to write a tier's shared resources: its logical-id prefix, the short
name in its target group's name (target group names are at most 32 characters), what its load
balancer target is, and whether a Condition guards it. What a tier serves and how keep-warm treats
it is the runtime's table (lambda_shared.tiers); tests/unit/test_template.py holds the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TemplateTier:
    """One latency tier's resources in template.yaml."""

    #: The tier's name (LATENCY_TIER, X-Latency-Tier).
    name: str
    #: Prefix of its logical ids: <prefix>Function, <prefix>TargetGroup, <prefix>InvokePermission.
    prefix: str
    #: In its target group's name, inference-<short>-<stack id suffix>.
    short: str
    #: What the load balancer invokes: the function's `live` alias.
    alias: str
    #: How the alias output describes it.
    alias_description: str
    #: The Condition that deploys it; None for the tiers every stack has.
    condition: str | None = None


TIERS: tuple[TemplateTier, ...] = (
    TemplateTier("standard", "Standard", "std", "StandardFunction.Alias",
                 "The standard tier's alias (the target the load balancer invokes; SnapStart restores it when "
                 "StandardSnapStart=true)."),
    TemplateTier("premium", "Premium", "prm", "PremiumFunction.Alias",
                 "The premium tier's alias, with provisioned concurrency."),
    TemplateTier("gpu", "Gpu", "gpu", "GpuFunctionAlias",
                 "The GPU tier's alias (Lambda Managed Instances, $LATEST.PUBLISHED).", condition="GpuTierEnabled"),
)
