"""Deploy day (issue 14): a guided deploy on defaults, idle cost only for what someone can use,
no one outside running up the bill, deploys that move traffic only to warm versions, and the edge
cases the Rules refuse or the template fixes. The real guided prompts: tests/integration/test_guided_deploy.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from inference_runtime.config import RuntimeConfig
from tests.cfn import Evaluator, Stack, deployed, parameter_values, source_template, translate
from tests.unit.test_template_translated import published_version

TYPED = {"VpcId", "SubnetIds"}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return source_template()



def active(template: dict[str, Any], evaluate: Evaluator, kind: str) -> dict[str, dict[str, Any]]:
    return {k: evaluate.value(r["Properties"]) for k, r in template["Resources"].items()
            if r["Type"] == kind and evaluate.active(k)}


# --- 1. guided deploy on defaults ------------------------------------------------------------
def test_every_parameter_but_the_network_has_a_default_that_passes_the_rules(source: dict[str, Any]) -> None:
    parameters = source["Parameters"]
    # SAM's guided prompt for a NoEcho parameter has no default (hide_input): it must be typed
    assert [name for name, p in parameters.items() if p.get("NoEcho")] == []
    assert {name for name, p in parameters.items() if "Default" not in p} == TYPED
    # the defaults alone, with only the network typed, pass every Rule
    defaults = {name: str(p["Default"]) for name, p in parameters.items() if "Default" in p}
    params = {**defaults, "VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0aaa,subnet-0bbb"}
    assert Evaluator(source, params).rules_refusing() == []
    assert Evaluator(translate(params), params).rules_refusing() == []


# --- 2. pay only for what someone can use ----------------------------------------------------
def test_the_default_stack_reserves_and_provisions_no_concurrency(source: dict[str, Any]) -> None:
    # GIVEN the defaults (premium closed: no token, no source range), for an account whose quota is 10
    template, evaluate = deployed(source)
    # THEN nothing is provisioned or reserved: Lambda keeps 100 unreserved, a quota of 10 has none to give
    for kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version", "AWS::Lambda::Function"):
        for name, properties in active(template, evaluate, kind).items():
            assert "ProvisionedConcurrencyConfig" not in properties, name
            assert "ReservedConcurrentExecutions" not in properties, name
    assert not evaluate.active("PremiumScalableTarget") and not evaluate.active("WebAcl")



def test_keep_warm_pings_premium_only_while_someone_may_use_it(source: dict[str, Any]) -> None:
    # GIVEN premium closed (the defaults) THEN keep-warm pings none of it: warm environments nobody
    # may reach cost pings and metrics for nothing; WHEN a range opens it THEN the warm count applies
    for overrides, expected in (({}, "0"), ({"PremiumAllowedCidr": "10.0.0.0/8"}, "1")):
        template, evaluate = deployed(source, **overrides)
        keepwarm = evaluate.value(template["Resources"]["KeepWarmFunction"]["Properties"])
        assert str(keepwarm["Environment"]["Variables"]["PREMIUM_WARM_COUNT"]) == expected, overrides

# --- 4. nobody outside runs up the bill -------------------------------------------------------
def test_operator_routes_are_not_reachable_through_the_load_balancer(source: dict[str, Any]) -> None:
    for overrides in ({}, {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
                           "DomainName": "api.example.com"}, {"GpuTier": "true", "PremiumAllowedCidr": "10.0.0.0/8"}):
        template, evaluate = deployed(source, **overrides)
        rules = active(template, evaluate, "AWS::ElasticLoadBalancingV2::ListenerRule")
        operator = rules.pop("OperatorRoutesRule")
        # before every rule that forwards (the lowest priority number is tried first), on the listener
        # that serves (HTTPS when a certificate is set: plain HTTP then only redirects)
        assert all(operator["Priority"] < rule["Priority"] for rule in rules.values())
        assert {rule["ListenerArn"] for rule in rules.values()} == {operator["ListenerArn"]}
        # /warm under any model's prefix too: the runtime answers /models/<name>/warm as /warm
        paths = {"Values": ["/warm", "/warm/*", "/models/*/warm", "/models/*/warm/*"]}
        assert operator["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": paths}]
        (action,) = operator["Actions"]
        assert action["Type"] == "fixed-response" and action["FixedResponseConfig"]["StatusCode"] == "404"
    # keep-warm and the hooks invoke the functions directly, never through the load balancer
    keepwarm = evaluate.value(template["Resources"]["KeepWarmFunction"]["Properties"])
    assert keepwarm["Environment"]["Variables"]["STANDARD_ALIAS_ARN"] == evaluate.ref("StandardFunctionAliaslive")


def test_warm_hold_is_bounded_below_what_the_runtime_accepts(source: dict[str, Any]) -> None:
    hold = source["Parameters"]["WarmHoldMs"]
    runtime_bound = next(f.default for f in dataclasses.fields(RuntimeConfig) if f.name == "max_warm_hold_ms")
    assert hold["MinValue"] == 0 and hold["MaxValue"] <= runtime_bound == 2_000
    # the template leaves the runtime's bound alone (MAX_WARM_HOLD_MS unset: 2000)
    for name in ("StandardFunction", "PremiumFunction"):
        assert "MAX_WARM_HOLD_MS" not in source["Resources"][name]["Properties"]["Environment"]["Variables"]
    assert "MAX_WARM_HOLD_MS" not in source["Globals"]["Function"]["Environment"]["Variables"]


def test_a_rate_based_waf_rule_is_optional_and_off_by_default(source: dict[str, Any]) -> None:
    described = source["Parameters"]["WafRateLimit"]
    assert described["Default"] == 0 and "USD" in described["Description"]
    template, evaluate = deployed(source, WafRateLimit="500")
    (acl,) = active(template, evaluate, "AWS::WAFv2::WebACL").values()
    (rule,) = acl["Rules"]
    assert rule["Action"] == {"Block": {}} and acl["DefaultAction"] == {"Allow": {}} and acl["Scope"] == "REGIONAL"
    assert rule["Statement"]["RateBasedStatement"] == {"Limit": "500", "AggregateKeyType": "IP",
                                                       "EvaluationWindowSec": 300}
    (association,) = active(template, evaluate, "AWS::WAFv2::WebACLAssociation").values()
    assert association["ResourceArn"] == evaluate.ref("LoadBalancer")
    # WAF's smallest limit is 10
    assert Evaluator(source, parameter_values(source, WafRateLimit="9")).rules_refusing()
    assert not Evaluator(source, parameter_values(source, WafRateLimit="10")).rules_refusing()


def test_the_standard_tier_can_be_capped_with_reserved_concurrency(source: dict[str, Any]) -> None:
    described = source["Parameters"]["StandardReservedConcurrency"]
    assert described["Default"] == 0 and "100 unreserved" in described["Description"]
    template, evaluate = deployed(source, StandardReservedConcurrency="50")
    functions = active(template, evaluate, "AWS::Lambda::Function")
    capped = {name for name, f in functions.items() if "ReservedConcurrentExecutions" in f}
    assert capped == {"StandardFunction"} and functions["StandardFunction"]["ReservedConcurrentExecutions"] == "50"


# --- 5. deploys without cold starts: the template side ---------------------------------------
@pytest.mark.parametrize("tier", ["Standard", "Premium"])
def test_each_cpu_tier_moves_its_alias_only_after_its_pretraffic_hook(source: dict[str, Any], tier: str) -> None:
    template, evaluate = deployed(source, PremiumAllowedCidr="10.0.0.0/8")
    alias = template["Resources"][f"{tier}FunctionAliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": f"{tier}PreTrafficFunction"}
    group = evaluate.value(template["Resources"][update["DeploymentGroupName"]["Ref"]]["Properties"])
    assert group["DeploymentConfigName"].endswith("AllAtOnce")
    alarms = {a["Name"] for a in group["AlarmConfiguration"]["Alarms"]}
    assert evaluate.ref("TargetErrorsAlarm") in alarms
    # the hook checks this tier's new version, as many environments as keep-warm holds
    hook = evaluate.value(template["Resources"][f"{tier}PreTrafficFunction"]["Properties"])
    variables = hook["Environment"]["Variables"]
    assert variables["PRETRAFFIC_TIER"] == tier.lower()
    version_id = published_version(template, evaluate.params, f"{tier}Function")[0]
    assert variables["PRETRAFFIC_VERSION_ARN"] == evaluate.ref(version_id)
    assert variables["PRETRAFFIC_WARM_COUNT"] == evaluate.params[f"{tier}WarmCount"]
    assert variables["PRETRAFFIC_WAIT_PROVISIONED"] == ("true" if tier == "Premium" else "false")
    assert int(variables["PRETRAFFIC_TIMEOUT_S"]) < hook["Timeout"] <= 900
    # CodeDeploy's role from SAM may invoke only functions named CodeDeployHook_*
    assert hook["FunctionName"].startswith("CodeDeployHook_") and len(hook["FunctionName"]) <= 64
    role = evaluate.value(template["Resources"]["PreTrafficRole"]["Properties"])
    statements = {s["Sid"]: s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]}
    assert statements["ReportTheVerdict"]["Action"] == "codedeploy:PutLifecycleEventHookExecutionStatus"
    assert f"{evaluate.ref(f'{tier}Function')}.Arn:*" in statements["WarmAndInspectTheTiersVersions"]["Resource"]


def test_premium_hook_waits_for_provisioned_concurrency_only_when_there_is_some(source: dict[str, Any]) -> None:
    template, evaluate = deployed(source)   # premium closed: none allocated, nothing to wait for
    hook = evaluate.value(template["Resources"]["PremiumPreTrafficFunction"]["Properties"])
    assert hook["Environment"]["Variables"]["PRETRAFFIC_WAIT_PROVISIONED"] == "false"


# --- 7. edge cases ----------------------------------------------------------------------------
def test_version_descriptions_fit_256_characters_for_the_longest_stack_name(source: dict[str, Any]) -> None:
    # GIVEN a stack name of CloudFormation's maximum (128) and the longest values the parameters allow
    long = Stack(name="s" * 128)
    params = parameter_values(source, StandardModelName="m" * 64, PremiumModelName="m" * 64, MetricsNamespace="n" * 64,
                              FunctionMemorySize="10240", FunctionTimeout="900", EphemeralStorageSize="10240",
                              LogLevel="WARNING", StandardWarmCount="100", PremiumWarmCount="100", WarmHoldMs="2000",
                              KeepWarmSchedule="r" * source["Parameters"]["KeepWarmSchedule"]["MaxLength"])
    template = translate(params)
    for function in ("StandardFunction", "PremiumFunction", "KeepWarmFunction"):
        version_id = published_version(template, params, function)[0]
        evaluate = Evaluator(template, params, long)
        description = evaluate.value(template["Resources"][version_id]["Properties"]["Description"])
        assert len(description) <= 256, (function, len(description))
    # keep-warm's names the layer's version, which changes with its content
    version_id = published_version(template, params, "KeepWarmFunction")[0]
    description = evaluate.value(template["Resources"][version_id]["Properties"]["Description"])
    layer = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion")
    layer_arn = evaluate.ref(layer)
    assert description.startswith(f"layer={layer_arn.rsplit(':', 1)[1]} ") and "s" * 128 not in description


@pytest.mark.parametrize("timeout", ["3", "30", "900"])
def test_the_load_balancer_waits_as_long_as_a_function_may_run(source: dict[str, Any], timeout: str) -> None:
    template, evaluate = deployed(source, FunctionTimeout=timeout)
    attributes = evaluate.value(template["Resources"]["LoadBalancer"]["Properties"])["LoadBalancerAttributes"]
    idle = {a["Key"]: a["Value"] for a in attributes}["idle_timeout.timeout_seconds"]
    assert idle == timeout and 1 <= int(idle) <= 4000
    assert source["Parameters"]["FunctionTimeout"]["MaxValue"] <= 4000
