"""template.yaml as CloudFormation would receive it: translated by SAM, then evaluated.

These tests translate the template offline (samtranslator, the SAM CLI's own version)
with concrete parameter values and compare what two deployments would really create:
which version the `live` alias points at, the names two stacks would claim, which
parameter sets the Rules refuse. See tests/cfn.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from inference_runtime.lifecycle import InitPhase
from tests.cfn import Evaluator, Stack, parameter_values, source_template, translate
from tests.helpers import REPO_ROOT
from tools.template.capacity_rules import LARGEST_MINIMUM, MAX_VALUES, rules_yaml

ALIASED_FUNCTIONS = ("StandardFunction", "PremiumFunction", "KeepWarmFunction")
# What a function does is set by these properties of AWS::Lambda::Function.
BEHAVIOUR = ("Environment", "MemorySize", "Timeout", "EphemeralStorage", "SnapStart", "Layers", "Code",
             "LoggingConfig")


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return source_template()


def published_version(template: dict[str, Any], params: dict[str, str], function: str) -> tuple[str, str]:
    """The version the function's `live` alias serves: the Version's logical id and description.

    Both are create-only: a new logical id or a new description replaces the version,
    that is, publishes a new one and moves the alias to it.
    """
    alias = template["Resources"][f"{function}Aliaslive"]["Properties"]
    version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
    description = Evaluator(template, params).value(template["Resources"][version_id]["Properties"]
                                                    .get("Description", ""))
    return version_id, description


def behaviour(template: dict[str, Any], params: dict[str, str], function: str) -> dict[str, Any]:
    properties = template["Resources"][function]["Properties"]
    return Evaluator(template, params).value({k: properties[k] for k in BEHAVIOUR if k in properties})


# Each parameter that changes what a function does, with a second value for it.
# Parameters that act only beside another: keep-warm pings premium only while premium is open.
CONTEXT = {"PremiumWarmCount": {"PremiumAllowedCidr": "10.0.0.0/8"}}
BEHAVIOUR_PARAMETERS = {
    "StandardModelName": "my-classifier",
    "PremiumModelName": "my-classifier",
    "FunctionMemorySize": "4096",
    "FunctionTimeout": "60",
    "EphemeralStorageSize": "2048",
    "LogLevel": "DEBUG",
    "MetricsNamespace": "OtherNamespace",
    "StandardSnapStart": "true",
    "StandardWarmCount": "5",
    "PremiumWarmCount": "3",
    "WarmHoldMs": "400",
    "KeepWarmPolicy": "fixed",
    "KeepWarmSchedule": "rate(10 minutes)",
}


def parameters_named(node: Any) -> set[str]:
    """Every parameter a (translated) property refers to, by Ref or inside Fn::Sub."""
    import re

    if isinstance(node, list):
        return set().union(*(parameters_named(n) for n in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            found |= set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
        found |= parameters_named(value)
    return found


def test_every_parameter_a_function_reads_is_tested_for_a_new_version(source: dict[str, Any]) -> None:
    # A parameter added to a function's configuration later must join BEHAVIOUR_PARAMETERS.
    params = parameter_values(source)
    template = translate(params)
    read = set()
    for function in ALIASED_FUNCTIONS:
        properties = template["Resources"][function]["Properties"]
        read |= parameters_named({k: properties[k] for k in BEHAVIOUR if k in properties})
        # Fn::FindInMap keyed by a parameter (the log level) counts as reading it
        read |= {a["Ref"] for m in _find_in_maps(properties) for a in m if isinstance(a, dict) and "Ref" in a}
        # and so does a condition an Fn::If of these properties tests
        for condition in _conditions_tested({k: properties[k] for k in BEHAVIOUR if k in properties}):
            read |= parameters_named(template["Conditions"][condition])
    assert read & set(source["Parameters"]) == set(BEHAVIOUR_PARAMETERS)


def _conditions_tested(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_conditions_tested(n) for n in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {node["Fn::If"][0]} if "Fn::If" in node else set()
    return found.union(*(_conditions_tested(v) for v in node.values()))


def _find_in_maps(node: Any) -> list[list[Any]]:
    if isinstance(node, list):
        return [m for n in node for m in _find_in_maps(n)]
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "Fn::FindInMap"] + \
            [m for v in node.values() for m in _find_in_maps(v)]
    return []


@pytest.mark.parametrize("parameter", sorted(BEHAVIOUR_PARAMETERS))
def test_every_behaviour_changing_parameter_publishes_a_new_version(source: dict[str, Any], parameter: str) -> None:
    # GIVEN a deployed stack and an update that changes one parameter only (same image, same layer)
    context = CONTEXT.get(parameter, {})
    before_params = parameter_values(source, **context)
    after_params = parameter_values(source, **context, **{parameter: BEHAVIOUR_PARAMETERS[parameter]})
    before, after = translate(before_params), translate(after_params)
    changed = [f for f in ALIASED_FUNCTIONS
               if behaviour(before, before_params, f) != behaviour(after, after_params, f)]
    # THEN the parameter changes at least one function's configuration ...
    assert changed, f"{parameter} changes no function: drop it from the list, or the test is vacuous"
    for function in changed:
        # ... AND every function it changes publishes a new version, which the alias then serves
        assert published_version(before, before_params, function) != published_version(after, after_params, function), \
            f"changing {parameter} updates {function}'s $LATEST but not its live alias"
    for function in set(ALIASED_FUNCTIONS) - set(changed):
        # ... and the functions it does not change keep their version (no needless re-publish)
        assert published_version(before, before_params, function) == published_version(after, after_params, function)


def test_a_layer_only_change_publishes_a_new_version_of_the_functions_using_it(source: dict[str, Any]) -> None:
    # GIVEN the same parameters, and the runtime layer rebuilt with new content (a new S3 key)
    params = parameter_values(source)
    before, after = translate(params, layer_key="layer-1.zip"), translate(params, layer_key="layer-2.zip")
    users = [name for name, r in source["Resources"].items() if "Layers" in r.get("Properties", {})]
    # (CodeDeploy invokes the PreTraffic hooks by name, $LATEST: their new layer needs no version)
    assert users == ["KeepWarmFunction", "StandardPreTrafficFunction", "PremiumPreTrafficFunction"]
    # THEN each function using the layer through its alias publishes a new version
    for function in ["KeepWarmFunction"]:
        assert published_version(before, params, function) != published_version(after, params, function)


def test_a_new_image_publishes_a_new_version(source: dict[str, Any]) -> None:
    params = parameter_values(source)
    before, after = translate(params, image_tag="v1"), translate(params, image_tag="v2")
    for function in ("StandardFunction", "PremiumFunction"):
        assert published_version(before, params, function) != published_version(after, params, function)


def test_every_version_description_fits_lambdas_limit(source: dict[str, Any]) -> None:
    # Version descriptions are at most 256 characters; the longest values the parameters allow:
    params = parameter_values(source, StandardModelName="m" * 64, PremiumModelName="m" * 64,
                              MetricsNamespace="n" * 64, FunctionMemorySize="10240", FunctionTimeout="900",
                              EphemeralStorageSize="10240", LogLevel="WARNING", StandardSnapStart="false",
                              StandardWarmCount="100", PremiumWarmCount="100", WarmHoldMs="2000")
    template = translate(params)
    for function in ALIASED_FUNCTIONS:
        assert len(published_version(template, params, function)[1]) <= 256


# --- SnapStart on the image ------------------------------------------------------------
def test_snapstart_serves_the_standard_tier_from_the_same_image_within_its_limits(source: dict[str, Any]) -> None:
    # GIVEN StandardSnapStart=true
    params = parameter_values(source, StandardSnapStart="true", EphemeralStorageSize="4096")
    template = translate(params)
    evaluate = Evaluator(template, params)
    function = evaluate.value(template["Resources"]["StandardFunction"]["Properties"])
    premium = evaluate.value(template["Resources"]["PremiumFunction"]["Properties"])
    # THEN the standard tier is the same image with SnapStart on published versions ...
    assert function["PackageType"] == "Image" and function["Code"] == premium["Code"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # ... within SnapStart's limits: /tmp <= 512 MB, the weight cache inside it, no provisioned concurrency
    assert int(function["EphemeralStorage"]["Size"]) == 512
    assert int(function["Environment"]["Variables"]["MODEL_CACHE_MAX_MB"]) < 512
    alias = template["Resources"]["StandardFunctionAliaslive"]["Properties"]
    assert "ProvisionedConcurrencyConfig" not in alias
    # ... and traffic reaches it only through the published version's alias
    targets = template["Resources"]["StandardTargetGroup"]["Properties"]["Targets"]
    assert targets == [{"Id": {"Ref": "StandardFunctionAliaslive"}}]
    # AND with SnapStart off, the function is an ordinary on-demand one with the full /tmp
    params = parameter_values(source, EphemeralStorageSize="4096")
    template = translate(params)
    plain = Evaluator(template, params).value(template["Resources"]["StandardFunction"]["Properties"])
    assert plain["SnapStart"] == {"ApplyOn": "None"} and int(plain["EphemeralStorage"]["Size"]) == 4096


# --- two stacks in one account ---------------------------------------------------------
# Which names must be unique, and where: dashboards are global to an account; the rest per region.
NAMED = {
    "AWS::CloudWatch::Dashboard": ("DashboardName", "account"),
    "AWS::Scheduler::Schedule": ("Name", "region"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("Name", "region"),
    "AWS::Logs::LogGroup": ("LogGroupName", "region"),
    "AWS::Lambda::Function": ("FunctionName", "region"),
    "AWS::CloudWatch::Alarm": ("AlarmName", "region"),
    "AWS::Lambda::LayerVersion": ("LayerName", "region"),
    "AWS::Lambda::CapacityProvider": ("CapacityProviderName", "region"),
}


def claimed_names(stack: Stack, **overrides: str) -> set[tuple[str, str, str]]:
    """Every name the stack's active resources set, with where it must be unique."""
    source = source_template()
    params = parameter_values(source, **{"StandardSnapStart": "true", **overrides})
    template = translate(params)
    evaluate = Evaluator(template, params, stack)
    names = set()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in NAMED or not evaluate.active(logical_id):
            continue
        prop, scope = NAMED[resource["Type"]]
        value = resource["Properties"].get(prop)
        if value is None:
            if resource["Type"] == "AWS::Scheduler::Schedule":
                value = logical_id  # what an unnamed schedule is called
            else:
                continue  # CloudFormation generates a unique name
        where = stack.region if scope == "region" else "global"
        names.add((resource["Type"], where, str(evaluate.value(value))))
    return names


def test_two_stacks_in_one_account_claim_no_name_twice() -> None:
    # GIVEN the same template deployed as two stacks in one region, and under one name in two regions
    first = Stack("fast-inference", "us-east-1", uuid="1a2b3c4d-0000-4000-8000-00000000abcd")
    second = Stack("fast-inference-b", "us-east-1", uuid="9f8e7d6c-0000-4000-8000-00000000dcba")
    elsewhere = Stack("fast-inference", "eu-west-1", uuid="5e5e5e5e-0000-4000-8000-000000005e5e")
    claims = [claimed_names(stack) for stack in (first, second, elsewhere)]
    # THEN every name some stack claims explicitly is claimed by no other stack
    assert claims[0], "no named resources found: the test would pass vacuously"
    assert not claims[0] & claims[1]
    assert not claims[0] & claims[2]
    # AND the keep-warm schedule carries a name of its own (unnamed, it is called after its logical id)
    schedules = [n for n in claims[0] if n[0] == "AWS::Scheduler::Schedule"]
    assert schedules and all(not name.startswith("KeepWarmFunction") for _, _, name in schedules)


# --- Rules: refused before anything is created -----------------------------------------
def refusals(source: dict[str, Any], **overrides: str) -> list[str]:
    params = parameter_values(source, **overrides)
    return Evaluator(source, params).rules_refusing()


def test_the_capacity_rules_are_the_generated_ones(source: dict[str, Any]) -> None:
    assert rules_yaml() in (REPO_ROOT / "template.yaml").read_text()
    allowed = [int(v) for v in source["Parameters"]["PremiumMaxProvisionedConcurrency"]["AllowedValues"]]
    assert tuple(allowed) == MAX_VALUES
    for name in ("PremiumProvisionedConcurrency", "PremiumScheduledMinimum"):
        assert int(source["Parameters"][name]["MaxValue"]) == LARGEST_MINIMUM


@pytest.mark.parametrize("maximum", MAX_VALUES)
def test_rules_refuse_a_minimum_above_the_maximum(source: dict[str, Any], maximum: int) -> None:
    for minimum in range(0, LARGEST_MINIMUM + 1):
        refused = refusals(source, PremiumMaxProvisionedConcurrency=str(maximum),
                           PremiumProvisionedConcurrency=str(minimum))
        assert bool(refused) == (minimum > maximum), (minimum, maximum, refused)
    for scheduled in range(0, LARGEST_MINIMUM + 1):
        refused = refusals(source, PremiumMaxProvisionedConcurrency=str(maximum),
                           PremiumProvisionedConcurrency="1", PremiumScheduledMinimum=str(scheduled))
        assert bool(refused) == (scheduled > maximum), (scheduled, maximum, refused)


def test_premium_without_provisioned_concurrency_fits_a_small_account(source: dict[str, Any]) -> None:
    # GIVEN an account whose concurrency quota leaves no room for provisioned concurrency
    params = parameter_values(source, PremiumProvisionedConcurrency="0")
    template = translate(params)
    evaluate = Evaluator(template, params)
    # THEN the premium alias asks for none, nothing scales it, and no spill-over alarm fires on
    # what is then every premium cold start
    alias = evaluate.value(template["Resources"]["PremiumFunctionAliaslive"]["Properties"])
    assert "ProvisionedConcurrencyConfig" not in alias
    assert not evaluate.active("PremiumScalableTarget") and not evaluate.active("PremiumScalingPolicy")
    assert not evaluate.active("PremiumSpilloverAlarm")
    # AND by default, premium closed to every client, none is allocated either: no one could use it
    params = parameter_values(source)
    template = translate(params)
    evaluate = Evaluator(template, params)
    assert not [name for name, r in template["Resources"].items()
                if evaluate.active(name) and "ProvisionedConcurrencyConfig" in evaluate.value(r.get("Properties", {}))]
    assert not evaluate.active("PremiumScalableTarget") and not evaluate.active("PremiumSpilloverAlarm")
    # AND once a client may use premium (a token or a source range), it has what was asked for
    for opened in ({"PremiumAllowedCidr": "10.0.0.0/8"}, {"PremiumTokenSecret": "fast-inference/premium-token",
                                                          "LoadBalancerScheme": "internal"}):
        params = parameter_values(source, **opened)
        template = translate(params)
        alias = Evaluator(template, params).value(template["Resources"]["PremiumFunctionAliaslive"]["Properties"])
        assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": "2"}


def test_rules_refuse_a_certificate_without_its_name_and_a_token_in_clear_text(source: dict[str, Any]) -> None:
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    token = "fast-inference/premium-token"
    assert refusals(source, CertificateArn=certificate)
    assert refusals(source, CertificateArn=certificate, DomainName="api.example.com") == []
    # a token over plain HTTP on the internet is refused; over HTTPS or inside the VPC it is fine
    assert refusals(source, PremiumTokenSecret=token)
    assert refusals(source, PremiumTokenSecret=token, CertificateArn=certificate, DomainName="api.example.com") == []
    assert refusals(source, PremiumTokenSecret=token, LoadBalancerScheme="internal") == []
    # a scheduled minimum with nothing to scale is refused
    assert refusals(source, PremiumProvisionedConcurrency="0", PremiumScheduledMinimum="2")
    assert refusals(source, PremiumProvisionedConcurrency="0") == []


def test_the_defaults_pass_every_rule(source: dict[str, Any]) -> None:
    assert refusals(source) == []


def test_a_published_model_without_a_bucket_is_refused(source: dict[str, Any]) -> None:
    registry = json.loads((REPO_ROOT / "functions" / "inference" / "models.json").read_text())["models"]
    bundled = sorted(name for name, entry in registry.items() if entry["source"] == "bundled")
    rule = source["Rules"]["PublishedModelsNeedABucket"]
    for assertion in rule["Assertions"]:
        assert sorted(assertion["Assert"]["Fn::Contains"][0]) == bundled
    for tier in ("StandardModelName", "PremiumModelName"):
        (why,) = refusals(source, **{tier: "my-published-model"})
        assert tier in why and "ModelBucket" in why
        assert refusals(source, **{tier: "my-published-model", "ModelBucket": "my-models"}) == []
    assert refusals(source, ModelBucketKmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/abcd-1234")


# --- who may use the premium tier ------------------------------------------------------
def premium_rules(source: dict[str, Any], **overrides: str) -> dict[str, dict[str, Any]]:
    params = parameter_values(source, **overrides)
    template = translate(params)
    evaluate = Evaluator(template, params)
    return {logical_id: evaluate.value(r["Properties"]) for logical_id, r in template["Resources"].items()
            if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule" and evaluate.active(logical_id)
            and logical_id.startswith("Premium")}


def test_premium_is_closed_to_the_internet_by_default(source: dict[str, Any]) -> None:
    # GIVEN the defaults: THEN the only rule for the premium header answers 403, forwarding nothing
    rules = premium_rules(source)
    assert list(rules) == ["PremiumTierRefusedRule"]
    (action,) = rules["PremiumTierRefusedRule"]["Actions"]
    assert action["Type"] == "fixed-response" and action["FixedResponseConfig"]["StatusCode"] == "403"
    body = json.loads(action["FixedResponseConfig"]["MessageBody"])
    assert body["error"]["code"] == "premium_not_allowed" and len(action["FixedResponseConfig"]["MessageBody"]) <= 1024


def test_premium_is_open_to_the_token_or_the_source_range_when_set(source: dict[str, Any]) -> None:
    rules = premium_rules(source, PremiumTokenSecret="fast-inference/premium-token", PremiumAllowedCidr="10.0.0.0/8",
                          LoadBalancerScheme="internal")
    by_token, by_source, refused = (rules["PremiumTierByTokenRule"], rules["PremiumTierBySourceRule"],
                                    rules["PremiumTierRefusedRule"])
    assert by_token["Priority"] < refused["Priority"] and by_source["Priority"] < refused["Priority"]
    # the token is the secret's value, resolved by CloudFormation (a dynamic reference), never a parameter
    token = ["{{resolve:secretsmanager:fast-inference/premium-token}}"]
    assert {"HttpHeaderName": "X-Premium-Token", "Values": token} in \
        [c.get("HttpHeaderConfig") for c in by_token["Conditions"]]
    assert {"Values": ["10.0.0.0/8"]} in [c.get("SourceIpConfig") for c in by_source["Conditions"]]
    for rule in (by_token, by_source):
        assert {"HttpHeaderName": "X-Latency-Tier", "Values": ["premium"]} in \
            [c.get("HttpHeaderConfig") for c in rule["Conditions"]]
        assert rule["Actions"][0]["TargetGroupArn"].endswith("PremiumTargetGroup-1a2b3c4d")


# --- outputs -----------------------------------------------------------------------------
@pytest.mark.parametrize("certificate", ["", "arn:aws:acm:us-east-1:123456789012:certificate/abc"])
@pytest.mark.parametrize("snapstart", ["false", "true"])
def test_outputs_are_right_in_every_mode(source: dict[str, Any], certificate: str, snapstart: str) -> None:
    domain = "api.example.com" if certificate else ""
    params = parameter_values(source, CertificateArn=certificate, DomainName=domain, StandardSnapStart=snapstart)
    assert Evaluator(source, params).rules_refusing() == []
    template = translate(params)
    evaluate = Evaluator(template, params)
    outputs = {name: evaluate.value(o["Value"]) for name, o in template["Outputs"].items()}
    # HTTPS by the name the certificate is for (a certificate cannot cover *.elb.amazonaws.com)
    expected = "https://api.example.com" if certificate else f"http://{evaluate.ref('LoadBalancer')}.DNSName"
    assert outputs["ServiceUrl"] == expected
    assert outputs["TryIt"].startswith(f"curl -s -X POST {outputs['ServiceUrl']}/predict ")
    assert outputs["TryItPremium"].startswith(f"curl -s -X POST {outputs['ServiceUrl']}/predict ")
    assert outputs["LoadBalancerHostedZoneId"].endswith("LoadBalancer-1a2b3c4d.CanonicalHostedZoneID")
    groups = {evaluate.value(r["Properties"]["LogGroupName"]) for r in template["Resources"].values()
              if r["Type"] == "AWS::Logs::LogGroup"}
    for output, function in (("StandardLogGroup", "StandardFunction"), ("PremiumLogGroup", "PremiumFunction"),
                             ("KeepWarmLogGroup", "KeepWarmFunction")):
        logical_id = template["Outputs"][output]["Value"]["Ref"]
        name = evaluate.value(template["Resources"][logical_id]["Properties"]["LogGroupName"])
        assert name == f"/aws/lambda/{evaluate.ref(function)}"
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(groups) == len(functions), "every function has a log group"
    dashboard = evaluate.value(template["Resources"]["ColdStartDashboard"]["Properties"]["DashboardName"])
    assert outputs["ColdStartDashboard"].endswith(f"#dashboards/dashboard/{dashboard}")


# --- alarms and graphs watch what each tier really does --------------------------------
def rendered_dashboard(template: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    evaluate = Evaluator(template, params)
    return json.loads(evaluate.value(template["Resources"]["ColdStartDashboard"]["Properties"]["DashboardBody"]))


def phase_table(widgets: list[dict[str, Any]]) -> tuple[list[str], list[str], str]:
    """The dashboard's init-phase widget: (its log groups, its phase columns, its query).

    Phases are log fields of the init EMF line, not metrics (docs/cold-start.md), so the
    widget is a Logs Insights table rather than metric graphs.
    """
    [widget] = [w for w in widgets if w["type"] == "log"]
    query = widget["properties"]["query"]
    sources = re.findall(r"SOURCE '([^']+)'", query)
    columns = []
    for field, label in re.findall(r"pct\((\w+), 50\) as (\w+)", query):
        assert field == f"InitPhase_{label}", f"column {label} reads {field}"
        columns.append(label)
    return sources, columns, query


def log_group_of(evaluate: Evaluator, template: dict[str, Any], function: str) -> str:
    """The name (Ref) of the log group resource that holds ``function``'s logs."""
    [group] = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Logs::LogGroup"
               and evaluate.value(r["Properties"]["LogGroupName"]) in (f"/aws/lambda/{evaluate.ref(function)}",)]
    return evaluate.ref(group)


@pytest.mark.parametrize("snapstart", ["false", "true"])
def test_the_dashboard_tables_every_phase_the_code_defines(source: dict[str, Any], snapstart: str) -> None:
    params = parameter_values(source, StandardSnapStart=snapstart)
    template = translate(params)
    evaluate = Evaluator(template, params)
    sources, columns, query = phase_table(rendered_dashboard(template, params)["widgets"])
    # every phase of phases.py is a column, in order (a phase added there and not here fails)
    assert columns == [p.value for p in InitPhase], "the dashboard's phases differ from phases.py"
    # over the CPU tiers' log groups, one row per tier and init type, init EMF lines only
    assert sources == [log_group_of(evaluate, template, f) for f in ("StandardFunction", "PremiumFunction")]
    assert query.endswith(" by tier, init_type") and '| filter @message like /"InitDuration"/ |' in query


def test_the_standard_alarm_watches_restores_on_snapstart_and_inits_on_demand(source: dict[str, Any]) -> None:
    for snapstart, first_metric in (("true", "StandardRestoreDuration"), ("false", "InitDuration")):
        params = parameter_values(source, StandardSnapStart=snapstart)
        template = translate(params)
        evaluate = Evaluator(template, params)
        alarm = evaluate.value(template["Resources"]["StandardColdStartAlarm"]["Properties"])
        stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
        names = {metric["MetricName"] for metric in stats.values()}
        init_types = {d["Value"] for metric in stats.values() for d in metric.get("Dimensions", [])
                      if d["Name"] == "init_type"}
        assert "ColdRequestLatency" in names
        if snapstart == "true":
            # the restore metric comes from the platform.report record, through the metric filter
            restore = evaluate.value(template["Resources"]["StandardRestoreDurationMetric"]["Properties"])
            assert {restore["MetricTransformations"][0]["MetricName"]} == names - {"ColdRequestLatency"}
            assert "restoreDurationMs" in restore["FilterPattern"] and init_types == {"snap-start"}
        else:
            assert names == {"InitDuration", "ColdRequestLatency"} and init_types == {"on-demand"}
        assert first_metric.removeprefix("Standard") in " ".join(names)


def test_premium_spill_over_is_alarmed_and_graphed(source: dict[str, Any]) -> None:
    params = parameter_values(source)
    template = translate(params)
    alarm = Evaluator(template, params).value(template["Resources"]["PremiumSpilloverAlarm"]["Properties"])
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert alarm["MetricName"] == "ColdStart" and dims["tier"] == "premium" and dims["init_type"] == "on-demand"
    spill = rendered_dashboard(template, params)["widgets"][3]["properties"]["metrics"]
    assert ["on-demand" in m for m in spill[:2]] == [True, True]
