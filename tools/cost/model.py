"""The monthly idle cost of one parameter set, read from the translated template.

"Idle" is the stack deployed and nobody sending a request: what still runs and bills is the
load balancer and its public addresses, provisioned concurrency, SnapStart snapshots, the GPU
tier's instances, keep-warm's runs and pings, the custom metrics those keep alive, alarms, the
dashboard, logs and images. Everything is read from what `sam deploy` would submit
(``tools.template.cfn.translate``, then the Evaluator for these parameters), so a parameter
that adds or removes a resource changes the table without this module knowing its name.
A resource type this module has no rule for is listed as unpriced, never silently dropped.
Prices and assumptions come from one dated file (``prices-us-east-1.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_shared.emf import INIT_METRICS, KEEP_WARM_COLD_PING, KEEP_WARM_PING
from tools.template.cfn import Evaluator, parameter_values, source_template, translate, yaml_parse

PRICE_FILE = Path(__file__).with_name("prices-us-east-1.json")
SECONDS_PER_HOUR = 3600

#: Resource types that cost nothing while idle, or whose cost a rule below counts through
#: another resource (a function through its invocations, a log group through logs).
NO_IDLE_CHARGE = frozenset({
    "AWS::IAM::Role", "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress",
    "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::ListenerRule", "AWS::Lambda::Permission", "AWS::Lambda::Version",
    "AWS::Lambda::Alias", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion",
    "AWS::Logs::LogGroup", "AWS::Logs::MetricFilter", "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::Scheduler::Schedule",
    "AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup", "AWS::WAFv2::WebACLAssociation",
    # priced by their own rules below
    "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::Lambda::CapacityProvider",
    "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::WAFv2::WebACL",
})


@dataclass(frozen=True)
class Line:
    """One row of the table: a resource, what of it bills while idle, USD a month."""

    resource: str
    idles: str
    usd: float
    #: the always-free allowance this charge counts against ("metrics", "alarms", "dashboards",
    #: "lambda", "logs"), and how many of its units the line uses; "" for none
    free_tier: str = ""
    units: float = 0.0


@dataclass
class Estimate:
    """The idle cost of one parameter set."""

    params: dict[str, str]
    lines: list[Line] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: what the always-free tiers would take off the total, if nothing else in the account used them
    free_tier_usd: float = 0.0

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def usd(self, resource: str) -> float:
        """The sum of the lines whose resource starts with ``resource``."""
        return sum(line.usd for line in self.lines if line.resource.startswith(resource))


def load_prices(path: Path = PRICE_FILE) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def estimate(overrides: dict[str, str] | None = None, *, prices: dict[str, Any] | None = None,
             template: Path | None = None) -> Estimate:
    """The monthly idle cost of the template (template.yaml, or ``template``: a generated one such as
    examples/rag/template.yaml) deployed with the defaults plus ``overrides``."""
    source = yaml_parse(template.read_text()) if template is not None else source_template()
    unknown = sorted(set(overrides or {}) - set(source["Parameters"]))
    if unknown:
        raise ValueError(f"unknown template parameter(s): {', '.join(unknown)} "
                         f"(template.yaml's Parameters names them; spelling is case-sensitive)")
    params = parameter_values(source, **(overrides or {}))
    translated = translate(params, template=source)
    return _Costing(translated, params, prices or load_prices()).run()


class _Costing:
    def __init__(self, template: dict[str, Any], params: dict[str, str], prices: dict[str, Any]) -> None:
        self.template = template
        self.ev = Evaluator(template, params)
        self.prices = prices
        self.hours = float(prices["hours_per_month"]["value"])
        self.result = Estimate(params=params, refused=self.ev.rules_refusing())
        self.active = {lid: r for lid, r in template["Resources"].items() if self.ev.active(lid)}
        self.invocations = 0.0  # every idle invocation (keep-warm's runs and pings), for the logs
        self.requests = self.gb_seconds = 0.0  # of the on-demand invocations, for Lambda's free tier

    # -- helpers -------------------------------------------------------------------------
    def price(self, name: str) -> float:
        return float(self.prices["prices"][name]["value"])

    def assume(self, name: str) -> Any:
        return self.prices["assumptions"][name]["value"]

    def props(self, logical_id: str) -> dict[str, Any]:
        return dict(self.ev.value(self.active[logical_id].get("Properties", {})))

    def of_type(self, kind: str) -> list[str]:
        return [lid for lid, r in self.active.items() if r["Type"] == kind]

    def add(self, resource: str, idles: str, usd: float, *, free_tier: str = "", units: float = 0.0) -> None:
        self.result.lines.append(Line(resource, idles, usd, free_tier, units))

    def free_tier(self) -> float:
        """USD the always-free allowances (CloudWatch, Lambda) would cover of these lines.

        Not deducted from the total: an account's other resources may use them up already.
        Lambda's does not apply to a function with provisioned concurrency (its pings are not tagged).
        """
        allowance = {"metrics": 10, "alarms": 10, "dashboards": 3}
        free = 0.0
        for kind, units in allowance.items():
            lines = [x for x in self.result.lines if x.free_tier == kind]
            used = sum(x.units for x in lines)
            if used:
                free += sum(x.usd for x in lines) * min(1.0, units / used)
        lambda_lines = [x for x in self.result.lines if x.free_tier == "lambda"]
        if self.requests < 1_000_000 and self.gb_seconds < 400_000:
            free += sum(x.usd for x in lambda_lines)
        free += sum(x.usd for x in self.result.lines if x.free_tier == "logs" and x.units < 5)
        return free

    @staticmethod
    def target(node: Any) -> str | None:
        """The logical id a raw Ref or Fn::GetAtt names (before evaluation), else None."""
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref" and isinstance(arg, str):
                return arg
            if key == "Fn::GetAtt":
                return str(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
        return None

    def function_of_alias(self, alias: str) -> str | None:
        raw = self.active.get(alias, {}).get("Properties", {}).get("FunctionName")
        return self.target(raw)

    def memory_gb(self, function: str) -> float:
        return float(self.props(function).get("MemorySize", 128)) / 1024

    def environment(self, function: str) -> dict[str, str]:
        variables = self.props(function).get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in variables.items()}

    # -- what idles ----------------------------------------------------------------------
    def run(self) -> Estimate:
        self.pc = self.provisioned_concurrency()
        self.warm = self.keep_warm_targets()
        self.load_balancers()
        self.provisioned_lines()
        self.snapstart()
        self.keep_warm()
        self.gpu_capacity()
        self.custom_metrics()
        self.alarms()
        self.dashboards()
        self.waf()
        self.logs()
        self.images()
        self.result.free_tier_usd = self.free_tier()
        self.result.unpriced += sorted(f"{lid} ({r['Type']})" for lid, r in self.active.items()
                                      if r["Type"] not in NO_IDLE_CHARGE)
        return self.result

    def load_balancers(self) -> None:
        for lid in self.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            props = self.props(lid)
            self.add(lid, f"load balancer-hours ({self.hours:.0f} h); LCUs are billed by use, none at idle "
                          "(keep-warm invokes the aliases, not the load balancer)", self.hours * self.price("alb_hour"))
            if props.get("Scheme", "internet-facing") == "internet-facing":
                addresses = len(props.get("Subnets", [])) or len(props.get("SubnetMappings", []))
                self.add(f"{lid} public IPv4",
                         f"{addresses} public IPv4 addresses (one per subnet's Availability Zone)",
                         addresses * self.hours * self.price("public_ipv4_hour"))

    def provisioned_concurrency(self) -> dict[str, int]:
        """Function logical id -> provisioned environments kept while idle (the autoscaling minimum)."""
        pc: dict[str, int] = {}
        for alias in self.of_type("AWS::Lambda::Alias"):
            config = self.props(alias).get("ProvisionedConcurrencyConfig")
            function = self.function_of_alias(alias)
            if config and function:
                pc[function] = int(config["ProvisionedConcurrentExecutions"])
        for target in self.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
            props = self.props(target)
            for function in pc:
                if str(props.get("ResourceId", "")).startswith(f"function:{self.ev.ref(function)}:"):
                    # target tracking scales down to MinCapacity with no traffic
                    pc[function] = max(pc[function], int(props["MinCapacity"]))
        return pc

    def provisioned_lines(self) -> None:
        for function, count in self.pc.items():
            gb = self.memory_gb(function)
            self.add(f"{function} provisioned concurrency",
                     f"{count} environments x {gb:.3f} GB x {self.hours:.0f} h allocated",
                     count * gb * self.hours * SECONDS_PER_HOUR * self.price("lambda_pc_gb_s"))
        for target in self.of_type("AWS::ApplicationAutoScaling::ScalableTarget"):
            self.scheduled_minimum(target)

    def scheduled_minimum(self, target: str) -> None:
        """The environments a scheduled minimum adds during its busy hours, billed traffic or not."""
        props = self.props(target)
        actions = props.get("ScheduledActions") or []
        base = int(props.get("MinCapacity", 0))
        raised = [a for a in actions if int(a["ScalableTargetAction"]["MinCapacity"]) > base]
        lowered = [a for a in actions if int(a["ScalableTargetAction"]["MinCapacity"]) <= base]
        functions = [f for f in self.pc if str(props.get("ResourceId", "")).startswith(f"function:{self.ev.ref(f)}:")]
        if not raised or not functions:
            return
        hours = _busy_hours_per_week(raised[0]["Schedule"], lowered[0]["Schedule"]) if lowered else None
        if hours is None:
            self.result.unpriced.append(f"{target} scheduled minimum (its schedules are not a daily "
                                        "cron(M H ? * DAYS *) pair tools.cost can count)")
            return
        extra = int(raised[0]["ScalableTargetAction"]["MinCapacity"]) - base
        busy = hours * self.hours / (7 * 24)
        gb = self.memory_gb(functions[0])
        self.add(f"{functions[0]} scheduled minimum",
                 f"{extra} more environments x {gb:.3f} GB for {busy:.0f} busy hours ({hours:g} h a week)",
                 extra * gb * busy * SECONDS_PER_HOUR * self.price("lambda_pc_gb_s"))

    def snapstart(self) -> None:
        days_cached = float(self.assume("snapstart_superseded_version_days")) * float(self.assume("deploys_per_month"))
        versions = 1 + days_cached / (self.hours / 24)
        for function in self.of_type("AWS::Lambda::Function"):
            if self.props(function).get("SnapStart", {}).get("ApplyOn") != "PublishedVersions":
                continue
            gb = self.memory_gb(function)
            self.add(f"{function} SnapStart cache",
                     f"{versions:.2f} cached versions (the live one, and a replaced one for "
                     f"{self.assume('snapstart_superseded_version_days')} days per deploy) x {gb:.3f} GB",
                     versions * gb * self.hours * SECONDS_PER_HOUR * self.price("snapstart_cache_gb_s"))
            warm = self.warm.get(function, 0)
            restores = warm * float(self.assume("environment_replacements_per_hour")) * self.hours
            self.add(f"{function} SnapStart restores",
                     f"{restores:.0f} restores ({warm} warm environments, each replaced "
                     f"{self.assume('environment_replacements_per_hour')} times an hour) x {gb:.3f} GB",
                     restores * gb * self.price("snapstart_restore_gb"))

    # -- keep-warm -----------------------------------------------------------------------
    def schedule(self) -> tuple[str, str, float] | None:
        """(schedule id, keep-warm function, runs a month) of the schedule that invokes keep-warm."""
        for lid in self.of_type("AWS::Scheduler::Schedule"):
            props = self.props(lid)
            alias = self.target(self.active[lid]["Properties"]["Target"]["Arn"])
            function = self.function_of_alias(alias) if alias else None
            if function is None:
                continue
            runs = 0.0 if props.get("State") == "DISABLED" else self.hours * 60 / _minutes(props["ScheduleExpression"])
            return lid, function, runs
        return None

    def keep_warm_targets(self) -> dict[str, int]:
        """Function logical id -> environments keep-warm pings each run (its *_ALIAS_ARN and *_WARM_COUNT)."""
        found = self.schedule()
        if found is None or found[2] == 0:
            return {}
        raw = self.active[found[1]]["Properties"].get("Environment", {}).get("Variables", {})
        values = self.environment(found[1])
        warm: dict[str, int] = {}
        for name, node in raw.items():
            if name.endswith("_ALIAS_ARN"):
                alias = self.target(node)
                function = self.function_of_alias(alias) if alias else None
                count = int(values.get(name.removesuffix("_ALIAS_ARN") + "_WARM_COUNT", "0"))
                if function and count:
                    warm[function] = count
        warm.update(self.served_model_targets(raw.get("WARM_TARGETS"), values.get("WARM_TARGETS")))
        return warm

    def served_model_targets(self, raw: Any, value: str | None) -> dict[str, int]:
        """WARM_TARGETS' served models (a generated ``!Sub [json, {Var: !Ref <Model>Function.Alias}]``):
        function logical id -> its count, matched through the alias each variable names."""
        if raw is None or value is None:
            return {}
        variables = raw.get("Fn::Sub", [None, {}])[1] if isinstance(raw, dict) else {}
        functions = {}
        for node in variables.values():
            alias = self.target(node)
            if alias:
                functions[str(self.ev.value(node))] = self.function_of_alias(alias)
        warm: dict[str, int] = {}
        for target in json.loads(value):
            function = functions.get(str(target.get("function")))
            if function and int(target.get("count", 0)):
                warm[function] = int(target["count"])
        return warm

    def keep_warm(self) -> None:
        found = self.schedule()
        if found is None:
            return
        schedule, keepwarm, runs = found
        env = self.environment(keepwarm)
        hold_s = float(env.get("WARM_HOLD_MS", "0")) / 1000
        self.invocations = runs
        run_s = hold_s + float(self.assume("keepwarm_run_overhead_ms")) / 1000
        gb = self.memory_gb(keepwarm)
        self.requests += runs
        self.gb_seconds += runs * run_s * gb
        self.add(f"{keepwarm} runs", f"{runs:.0f} runs ({schedule}) x {run_s:.2f} s x {gb:.3f} GB",
                 runs * (self.price("lambda_request") + run_s * gb * self.price("lambda_duration_gb_s")),
                 free_tier="lambda")
        ping_s = hold_s + float(self.assume("warm_ping_overhead_ms")) / 1000
        for function, count in self.warm.items():
            gb = self.memory_gb(function)
            on_pc = min(count, self.pc.get(function, 0))
            pings = runs * count
            self.invocations += pings
            duration = runs * ping_s * gb * (on_pc * self.price("lambda_pc_duration_gb_s")
                                             + (count - on_pc) * self.price("lambda_duration_gb_s"))
            if not self.pc.get(function):
                self.requests += pings
                self.gb_seconds += pings * ping_s * gb
            self.add(f"{function} keep-warm pings",
                     f"{pings:.0f} /warm pings ({count} a run{', on provisioned concurrency' if on_pc else ''}) "
                     f"x {ping_s:.2f} s x {gb:.3f} GB", pings * self.price("lambda_request") + duration,
                     free_tier="" if self.pc.get(function) else "lambda")
        if env.get("KEEP_WARM_POLICY") == "refresh" and self.warm:
            metrics = runs * len(self.warm) * int(self.assume("keepwarm_metrics_per_tier_run"))
            self.add(f"{keepwarm} GetMetricData", f"{metrics:.0f} metrics read (KeepWarmPolicy refresh, "
                     f"{len(self.warm)} tiers a run)", metrics * self.price("cw_get_metric_data_metric"))

    # -- GPU tier ------------------------------------------------------------------------
    def gpu_capacity(self) -> None:
        types = self.prices["prices"]["ec2_on_demand_hour"]["types"]
        for lid in self.of_type("AWS::Lambda::CapacityProvider"):
            props = self.props(lid)
            # AWS::Lambda::CapacityProvider's names (SAM's AllowedTypes and ScalingConfig translate to them)
            allowed = [t for t in props.get("InstanceRequirements", {}).get("AllowedInstanceTypes", []) if t]
            candidates = allowed or [self.assume("lmi_default_instance_type")]
            priced = [t for t in candidates if t in types]
            if not priced:
                self.result.unpriced.append(f"{lid} instances ({', '.join(candidates)}: no price in the price file)")
                continue
            # Lambda picks among the allowed types; the cheapest is the least it can cost.
            kind = min(priced, key=lambda t: float(types[t]["value"]))
            count = int(self.assume("lmi_minimum_instances"))
            ceiling = int(props.get("CapacityProviderScalingConfig", {}).get("MaxVCpuCount", 0))
            if ceiling and count * int(types[kind]["vcpus"]) > ceiling:
                count = max(1, ceiling // int(types[kind]["vcpus"]))
            ec2 = count * self.hours * float(types[kind]["value"])
            self.add(f"{lid} instances", f"{count} x {kind} on demand ({self.hours:.0f} h), traffic or not", ec2)
            self.add(f"{lid} management fee",
                     f"{self.price('lmi_management_fee'):.0%} of the instances' on-demand price",
                     ec2 * self.price("lmi_management_fee"))

    # -- CloudWatch ----------------------------------------------------------------------
    def idle_init_types(self, function: str) -> tuple[set[str], set[str]]:
        """(init types whose metrics keep-warm's pings keep alive, init types that only inits emit)."""
        snapstart = self.props(function).get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"
        provisioned = self.pc.get(function, 0)
        warm = self.warm.get(function, 0)
        pinged: set[str] = set()
        if warm:
            if snapstart:
                pinged.add("snap-start")
            else:
                if provisioned:
                    pinged.add("provisioned-concurrency")
                if warm > provisioned:
                    pinged.add("on-demand")
        inits = set(pinged) | ({"provisioned-concurrency"} if provisioned else set())
        if not inits:
            # Not pinged, nothing provisioned: environments the platform starts by itself (the
            # GPU tier's, on its instances) still init, with an init type of their own.
            inits = {"managed-instances"} if "CapacityProviderConfig" in self.props(function) else set()
        return pinged, inits

    def custom_metrics(self) -> None:
        fraction = float(self.assume("init_metrics_billed_fraction"))
        for function in self.of_type("AWS::Lambda::Function"):
            env = self.environment(function)
            if "LATENCY_TIER" not in env:
                continue
            # What the runtime's init directive names (its phases are log fields, billed as log
            # bytes, not as metrics); user requests' metrics are not idle, so not counted here.
            per_init = list(INIT_METRICS)
            pinged, inits = self.idle_init_types(function)
            always = len(pinged)                                 # KeepWarmPing per pinged init type
            by_init = len(inits) * len(per_init) + len(pinged)   # + KeepWarmColdPing, after a replacement
            if always + by_init == 0:
                continue
            self.add(f"{function} custom metrics",
                     f"{always + by_init} EMF metrics ({KEEP_WARM_PING} x {always}; "
                     f"{KEEP_WARM_COLD_PING} x {len(pinged)}, "
                     f"{' + '.join(per_init)} x {len(inits)} init types: "
                     f"{', '.join(sorted(inits)) or 'none'}); dimensions service, function, tier, init_type",
                     (always + by_init * fraction) * self.price("cw_custom_metric_month"),
                     free_tier="metrics", units=always + by_init * fraction)
        for lid in self.of_type("AWS::Logs::MetricFilter"):
            count = len(self.props(lid).get("MetricTransformations", []))
            self.add(f"{lid}", f"{count} metric from a log filter (emitted at each restore)",
                     count * fraction * self.price("cw_custom_metric_month"),
                     free_tier="metrics", units=count * fraction)

    def alarms(self) -> None:
        for lid in self.of_type("AWS::CloudWatch::Alarm"):
            metrics = self.props(lid).get("Metrics")
            count = sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
            # the free tier covers alarms that list their metric directly, not metric-math ones
            self.add(lid, f"alarm reading {count} metric{'s' if count > 1 else ''}",
                     count * self.price("cw_alarm_metric_month"),
                     free_tier="" if metrics else "alarms", units=count)
        for lid in self.of_type("AWS::ApplicationAutoScaling::ScalingPolicy"):
            if self.props(lid).get("PolicyType") == "TargetTrackingScaling":
                self.add(lid, "2 alarms Application Auto Scaling creates for target tracking (high, low)",
                         2 * self.price("cw_alarm_metric_month"), free_tier="alarms", units=2)

    def dashboards(self) -> None:
        for lid in self.of_type("AWS::CloudWatch::Dashboard"):
            self.add(lid, "1 dashboard (free if among the account's first 3)", self.price("cw_dashboard_month"),
                     free_tier="dashboards", units=1)

    def waf(self) -> None:
        for lid in self.of_type("AWS::WAFv2::WebACL"):
            rules = len(self.props(lid).get("Rules", []))
            self.add(lid, f"1 web ACL with {rules} rule{'s' if rules != 1 else ''} (requests billed by use)",
                     self.price("waf_web_acl_month") + rules * self.price("waf_rule_month"))

    def logs(self) -> None:
        groups = self.of_type("AWS::Logs::LogGroup")
        invocations = self.invocations
        if not groups or not invocations:
            return
        retention_days = max(int(self.props(g).get("RetentionInDays", 3653)) for g in groups)
        gb = invocations * float(self.assume("log_bytes_per_invocation")) / 1e9
        stored = gb * min(retention_days, 3653) / (self.hours / 24)
        self.add("log groups", f"{gb * 1000:.0f} MB a month ingested ({invocations:.0f} invocations), "
                               f"{stored * 1000:.0f} MB kept ({retention_days} days)",
                 gb * self.price("cw_logs_ingest_gb") + stored * self.price("cw_logs_storage_gb_month"),
                 free_tier="logs", units=gb + stored)

    def images(self) -> None:
        sizes = self.assume("image_gb")
        images: dict[str, str] = {}
        for function in self.of_type("AWS::Lambda::Function"):
            props = self.props(function)
            uri = props.get("Code", {}).get("ImageUri")
            if uri:
                images.setdefault(str(uri), "gpu" if "AcceleratorConfig" in props else "cpu")
        for uri, kind in sorted(images.items()):
            repository = uri.rsplit("/", 1)[-1].split(":")[0].split("@")[0]
            self.add(f"ECR image {repository}", f"{sizes[kind]} GB, one version kept",
                     float(sizes[kind]) * self.price("ecr_storage_gb_month"))


_DAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def _days(field: str) -> int | None:
    """How many days of the week a cron day-of-week field names (MON-FRI, SAT,SUN, *)."""
    if field in ("*", "?"):
        return 7
    days = 0
    for part in field.split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            return None
        days += _DAYS.index(last or first) - _DAYS.index(first) + 1 if last else 1
    return days


def _busy_hours_per_week(start: str, end: str) -> float | None:
    """Hours a week between two Application Auto Scaling crons on the same days, else None."""
    pattern = r"cron\((\d+) (\d+) \? \* (\S+) \*\)"
    a, b = re.fullmatch(pattern, start.strip()), re.fullmatch(pattern, end.strip())
    if not a or not b or a.group(3) != b.group(3):
        return None
    days = _days(a.group(3))
    span = (int(b.group(2)) * 60 + int(b.group(1)) - int(a.group(2)) * 60 - int(a.group(1))) / 60
    return days * span if days and span > 0 else None


def _minutes(expression: str) -> float:
    """Minutes between runs of a rate() schedule (cron schedules are refused: say so)."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise ValueError(f"cannot count the runs of schedule {expression!r}: "
                         "tools.cost reads rate(N minutes|hours|days) only")
    unit = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}[match.group(2)]
    return int(match.group(1)) * unit
