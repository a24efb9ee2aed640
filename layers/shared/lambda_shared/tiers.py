"""The latency tiers as one table: what each runs on, how a request asks for it, what keep-warm reads.

Every reader of tiers reads this table: the inference function's ``LATENCY_TIER`` check, the
EMF ``tier`` and ``init_type`` dimensions keep-warm's history reader queries, keep-warm's
settings (which tiers it may ping, from which variables), the local front door's routing by
``X-Latency-Tier`` and the replay. ``template.yaml`` deploys the same three; the values here
(service names, variable names) are the ones it sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import env

#: The request header the load balancer routes by (template.yaml's listener rules).
TIER_HEADER = "X-Latency-Tier"


@dataclass(frozen=True)
class Tier:
    """One latency tier: a function alias behind the load balancer, and how it is kept warm."""

    name: str
    #: Where its environments run, in words (the README's tier table).
    runs_on: str
    #: The ``X-Latency-Tier`` value that routes to it.
    header_value: str
    #: The ``init_type`` dimension (AWS_LAMBDA_INITIALIZATION_TYPE) its environments can report.
    init_types: tuple[str, ...]
    #: Its POWERTOOLS_SERVICE_NAME in the template: the ``service`` dimension of its metrics.
    service_name: str
    #: Only deployed when a template parameter asks for it (GpuTier); the others always are.
    optional: bool = False
    #: Keep-warm's variables for this tier (None: keep-warm never pings it).
    alias_env: str | None = None
    warm_count_env: str | None = None
    service_env: str | None = None

    @property
    def keep_warm(self) -> bool:
        """Whether keep-warm pings this tier (it has the variables to say where and how many)."""
        return self.alias_env is not None


TIERS: tuple[Tier, ...] = (
    Tier("standard", "Lambda on demand, or SnapStart from the same image", "standard",
         ("on-demand", "snap-start"), "inference-standard",
         alias_env=env.STANDARD_ALIAS_ARN, warm_count_env=env.STANDARD_WARM_COUNT,
         service_env=env.STANDARD_SERVICE_NAME),
    # Provisioned concurrency keeps its environments initialised; spill-over beyond the
    # provisioned count runs on demand, and keep-warm's ping checks and holds those.
    Tier("premium", "provisioned concurrency", "premium",
         ("provisioned-concurrency", "on-demand"), "inference-premium",
         alias_env=env.PREMIUM_ALIAS_ARN, warm_count_env=env.PREMIUM_WARM_COUNT,
         service_env=env.PREMIUM_SERVICE_NAME),
    # Lambda Managed Instances start environments before a version takes traffic and keep them
    # running: nothing to keep warm, and a ping would only occupy one of their worker processes.
    Tier("gpu", "Lambda Managed Instances with a GPU (AcceleratorConfig)", "gpu",
         ("lambda-managed-instances",), "inference-gpu", optional=True),
)
TIER_NAMES: tuple[str, ...] = tuple(tier.name for tier in TIERS)
DEFAULT_TIER = "standard"
_BY_NAME = {tier.name: tier for tier in TIERS}
_BY_HEADER = {tier.header_value: tier for tier in TIERS}


class UnknownTierError(KeyError):
    """Raised when a name is not one of the tiers in ``TIERS``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown tier"


def tier(name: str) -> Tier:
    """The tier called ``name``; UnknownTierError, listing the tiers, for any other name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownTierError(f"{name!r} is not a tier; use one of {', '.join(TIER_NAMES)}") from None


def for_header(value: str | None) -> Tier:
    """The tier an ``X-Latency-Tier`` value routes to: its own, or the standard tier (the
    load balancer's default action) for a missing or unknown value."""
    return _BY_HEADER.get((value or "").strip().lower(), _BY_NAME[DEFAULT_TIER])


def keep_warm_tiers() -> tuple[Tier, ...]:
    """The tiers keep-warm pings, in table order."""
    return tuple(t for t in TIERS if t.keep_warm)
