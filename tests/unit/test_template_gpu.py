"""The optional GPU tier (GpuTier=true): Lambda Managed Instances with an accelerator.

The tier is plain CloudFormation where the pinned tools fall short (template.yaml says why):
aws-sam-translator 1.115.0 refuses AcceleratorConfig on an AWS::Serverless::Function, and
cfn-lint 1.58.0's schema does not know it on an AWS::Lambda::Function. These tests hold the
translated template (samtranslator offline, tests/cfn.py) to what the tier must be: absent
unless asked for, carrying the accelerator and concurrency it was given, publishing every
change, colliding with no other stack, least privilege, and the lint ignore hiding nothing else.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import cfn_yaml

from inference_runtime.lifecycle import InitPhase
from lambda_shared import emf
from tests.cfn import Evaluator, Stack, parameter_values, source_template, translate
from tests.helpers import REPO_ROOT
from tests.unit.test_template_translated import (
    ALIASED_FUNCTIONS,
    claimed_names,
    parameters_named,
    phase_table,
    published_version,
    rendered_dashboard,
)

DOCKERFILE = REPO_ROOT / "functions" / "inference" / "Dockerfile"
GPU_REQUIREMENTS = REPO_ROOT / "functions" / "inference" / "requirements-gpu.txt"
CPU_REQUIREMENTS = REPO_ROOT / "functions" / "inference" / "requirements.txt"

# Every resource of the tier, each under its condition (HasGpuInstanceTypes only narrows a property).
GPU_RESOURCES = {"GpuSecurityGroup", "GpuOperatorRole", "GpuCapacityProvider", "GpuFunction", "GpuFunctionAlias",
                 "GpuFunctionLogGroup", "GpuFunctionRole", "GpuTargetGroup", "GpuInvokePermission",
                 "GpuTierRefusedRule",
                 "GpuThrottleAlarm"}
GPU_OUTPUTS = {"TryItGpu", "GpuFunctionAlias", "GpuLogGroup", "GpuCapacityProviderArn"}
# What an AWS::Lambda::Function does is set by these properties (LMI adds the last three).
GPU_BEHAVIOUR = ("Environment", "MemorySize", "Timeout", "EphemeralStorage", "Code", "LoggingConfig", "Architectures",
                 "CapacityProviderConfig", "AcceleratorConfig", "FunctionScalingConfig")
# Each parameter that changes what the GPU function does, with a second value for it.
GPU_BEHAVIOUR_PARAMETERS = {
    "GpuModelName": "my-classifier",
    "GpuAcceleratorMemorySize": "24",
    "GpuPerEnvironmentMaxConcurrency": "8",
    "GpuFunctionMemorySize": "16384",
    "GpuMemoryGiBPerVCpu": "8",
    "FunctionTimeout": "60",
    "LogLevel": "DEBUG",
    "MetricsNamespace": "OtherNamespace",
    "GpuImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fast-inference-gpu:runtime-gpu-v2",
}
# AcceleratorMemorySize's valid values (Lambda API AcceleratorConfig; SAM sam-property-function-acceleratorconfig).
ACCELERATOR_MEMORY_SIZES = ["3", "6", "12", "16", "24", "48"]
# The actions of the AWSLambdaManagedEC2ResourceOperator managed policy, which the Lambda docs name as
# the operator role's minimum (lambda-managed-instances-operator-role.html).
OPERATOR_ACTIONS = {
    "ec2:RunInstances", "ec2:CreateTags", "ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface",
    "ec2:DescribeAvailabilityZones", "ec2:DescribeCapacityReservations", "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
}


def group(match: re.Match[str] | None, text: str) -> str:
    """The first group of a match that must be there: a missing one fails naming the text searched."""
    assert match is not None, f"no match in {text!r}"
    return match[1]


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return source_template()


def deployed(source: dict[str, Any], **overrides: str) -> tuple[dict[str, Any], dict[str, str], Evaluator]:
    params = parameter_values(source, **overrides)
    template = translate(params)
    return template, params, Evaluator(template, params)


def gpu_properties(source: dict[str, Any], resource: str = "GpuFunction", **overrides: str) -> dict[str, Any]:
    template, _, evaluate = deployed(source, GpuTier="true", **overrides)
    return evaluate.value(template["Resources"][resource]["Properties"])


# --- off by default, whole when on ------------------------------------------------------
def test_the_gpu_tier_is_absent_unless_asked_for(source: dict[str, Any]) -> None:
    # GIVEN the defaults
    assert source["Parameters"]["GpuTier"]["Default"] == "false"
    template, params, evaluate = deployed(source)
    # THEN no resource of the tier is created, no output of it given, no widget of it drawn ...
    assert GPU_RESOURCES <= set(template["Resources"]), "the tier's resources are missing from the template"
    assert not [r for r in GPU_RESOURCES if evaluate.active(r)]
    assert all(template["Outputs"][o].get("Condition") == "GpuTierEnabled" for o in GPU_OUTPUTS)
    assert not evaluate.condition("GpuTierEnabled")
    widgets = rendered_dashboard(template, params)["widgets"]
    assert len(widgets) == 5 and len(phase_table(widgets)[0]) == 2   # the phase table reads no GPU log group
    # ... and nothing else in the template is tied to its condition
    tied = {k for k, r in template["Resources"].items()
            if r.get("Condition") in ("GpuTierEnabled", "HasGpuInstanceTypes", "HasGpuSubnets")}
    assert tied == GPU_RESOURCES
    # AND with GpuTier=true all of it is there
    template, params, evaluate = deployed(source, GpuTier="true")
    assert all(evaluate.active(r) for r in GPU_RESOURCES)
    widgets = rendered_dashboard(template, params)["widgets"]
    assert len(widgets) == 6 and len(phase_table(widgets)[0]) == 3


def test_the_capacity_provider_keeps_the_tiers_condition_and_network(source: dict[str, Any]) -> None:
    template, _, evaluate = deployed(source, GpuTier="true")
    provider = template["Resources"]["GpuCapacityProvider"]
    # SAM translates AWS::Serverless::CapacityProvider to the Lambda resource, keeping its condition
    assert provider["Type"] == "AWS::Lambda::CapacityProvider" and provider["Condition"] == "GpuTierEnabled"
    properties = evaluate.value(provider["Properties"])
    assert properties["VpcConfig"] == {"SubnetIds": ["subnet-0ccc", "subnet-0ddd"],   # GpuSubnetIds, not the LB's
                                       "SecurityGroupIds": [evaluate.ref("GpuSecurityGroup")]}
    operator = f"{evaluate.ref('GpuOperatorRole')}.Arn"
    assert properties["PermissionsConfig"] == {"CapacityProviderOperatorRoleArn": operator}
    assert properties["InstanceRequirements"] == {"Architectures": ["x86_64"]}   # Lambda chooses the types
    assert properties["CapacityProviderScalingConfig"] == {"MaxVCpuCount": "24", "ScalingMode": "Auto"}
    # AND the types can be narrowed, and the instances' subnets are given as a list
    properties = gpu_properties(source, "GpuCapacityProvider", GpuInstanceTypes="g6.xlarge,g6.2xlarge",
                                GpuMaxVCpuCount="48", GpuSubnetIds="subnet-0ccc,subnet-0ddd")
    assert properties["InstanceRequirements"]["AllowedInstanceTypes"] == ["g6.xlarge", "g6.2xlarge"]
    assert properties["CapacityProviderScalingConfig"]["MaxVCpuCount"] == "48"
    assert properties["VpcConfig"]["SubnetIds"] == ["subnet-0ccc", "subnet-0ddd"]


# --- the properties the pinned tools do not know ------------------------------------------
@pytest.mark.parametrize("size", ACCELERATOR_MEMORY_SIZES)
def test_the_gpu_function_carries_the_accelerator_and_concurrency_given(source: dict[str, Any], size: str) -> None:
    # GIVEN the tier with an accelerator size and a per-environment concurrency
    function = gpu_properties(source, GpuAcceleratorMemorySize=size, GpuPerEnvironmentMaxConcurrency="3",
                              GpuMemoryGiBPerVCpu="8", GpuFunctionMemorySize="16384")
    template, _, evaluate = deployed(source, GpuTier="true")
    # THEN the translated function carries them, on its capacity provider, as an x86_64 image
    assert function["AcceleratorConfig"] == {"AcceleratorMemorySize": size}
    config = function["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
    provider = evaluate.ref("GpuCapacityProvider")
    assert config == {"CapacityProviderArn": f"arn:aws:lambda:us-east-1:123456789012:capacity-provider:{provider}",
                      "PerExecutionEnvironmentMaxConcurrency": "3", "ExecutionEnvironmentMemoryGiBPerVCpu": "8"}
    assert function["PackageType"] == "Image" and function["Architectures"] == ["x86_64"]
    assert function["MemorySize"] == "16384"
    assert function["Code"]["ImageUri"].endswith("/fast-inference-gpu:runtime-gpu-v1")  # GpuImageUri, its own image
    allowed = source["Parameters"]["GpuAcceleratorMemorySize"]["AllowedValues"]
    assert [str(v) for v in allowed] == ACCELERATOR_MEMORY_SIZES


def test_the_gpu_function_serves_the_gpu_tier_on_the_gpu(source: dict[str, Any]) -> None:
    variables = gpu_properties(source, GpuModelName="all-MiniLM-L6-v2")["Environment"]["Variables"]
    assert variables["LATENCY_TIER"] == "gpu" and variables["MODEL_NAME"] == "all-MiniLM-L6-v2"
    assert variables["ORT_EXECUTION_PROVIDER"] == "cuda" and variables["CUDA_MODULE_LOADING"] == "LAZY"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "inference-gpu"


def test_the_gpu_function_gets_what_globals_give_the_sam_functions(source: dict[str, Any]) -> None:
    # A plain AWS::Lambda::Function gets nothing from Globals: the template repeats it, and this holds it equal.
    globals_ = source["Globals"]["Function"]
    function = source["Resources"]["GpuFunction"]["Properties"]
    assert function["Architectures"] == globals_["Architectures"]
    assert {k: v for k, v in function["LoggingConfig"].items() if k != "LogGroup"} == globals_["LoggingConfig"]
    variables = function["Environment"]["Variables"]
    assert {k: variables[k] for k in globals_["Environment"]["Variables"]} == globals_["Environment"]["Variables"]
    # and its logs go to its log group, with the retention every log group has
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "GpuFunctionLogGroup"}
    group = source["Resources"]["GpuFunctionLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def _without_gpu_lint_ignore(template_text: str) -> str:
    start = template_text.index("      cfn-lint:\n        config:\n          ignore_checks:")
    end = template_text.index("      checkov:", start)
    return template_text[:start] + template_text[end:]


def test_the_lint_ignore_hides_acceleratorconfig_and_nothing_else() -> None:
    text = (REPO_ROOT / "template.yaml").read_text()
    # GIVEN the template with the GPU function's ignore taken out: cfn-lint 1.58.0 finds exactly one
    # thing, the property its schema does not know (when it learns it, drop the ignore)
    unignored = _without_gpu_lint_ignore(text)
    findings = [(m.rule.id, m.message) for m in lint(unignored)]
    assert findings == [("E3002", "Additional properties are not allowed ('AcceleratorConfig' was unexpected)")]
    # AND without that property too, nothing at all
    accelerator = "      AcceleratorConfig:\n        AcceleratorMemorySize: !Ref GpuAcceleratorMemorySize\n"
    assert unignored.count(accelerator) == 1
    without = unignored.replace(accelerator, "")
    assert [m.rule.id for m in lint(without)] == []
    # AND the template as it is lints clean
    assert [m.rule.id for m in lint(text)] == []


# --- every change reaches the `live` alias ------------------------------------------------
def _gpu_behaviour(template: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    properties = template["Resources"]["GpuFunction"]["Properties"]
    return Evaluator(template, params).value({k: properties[k] for k in GPU_BEHAVIOUR if k in properties})


def test_the_gpu_alias_serves_what_lambda_republishes_on_every_change(source: dict[str, Any]) -> None:
    # The plain function has no SAM VersionDescription: Lambda publishes $LATEST.PUBLISHED itself on
    # every change of code or configuration, and the alias the load balancer invokes serves it.
    template, _, evaluate = deployed(source, GpuTier="true")
    assert template["Resources"]["GpuFunction"]["Properties"]["PublishToLatestPublished"] is True
    alias = evaluate.value(template["Resources"]["GpuFunctionAlias"]["Properties"])
    assert alias == {"FunctionName": evaluate.ref("GpuFunction"), "Name": "live",
                     "FunctionVersion": "$LATEST.PUBLISHED"}
    targets = evaluate.value(template["Resources"]["GpuTargetGroup"]["Properties"]["Targets"])
    assert targets == [{"Id": evaluate.ref("GpuFunctionAlias")}]


def test_every_parameter_the_gpu_function_reads_is_tested_for_a_change(source: dict[str, Any]) -> None:
    # A parameter added to the GPU function's configuration later must join GPU_BEHAVIOUR_PARAMETERS.
    template = translate(parameter_values(source, GpuTier="true"))
    properties = template["Resources"]["GpuFunction"]["Properties"]
    behaviour = {k: properties[k] for k in GPU_BEHAVIOUR if k in properties}
    read = parameters_named(behaviour)
    read |= {arg["Ref"] for arg in behaviour["LoggingConfig"]["ApplicationLogLevel"]["Fn::FindInMap"]
             if isinstance(arg, dict) and "Ref" in arg}
    assert read & set(source["Parameters"]) == set(GPU_BEHAVIOUR_PARAMETERS)


@pytest.mark.parametrize("parameter", sorted(GPU_BEHAVIOUR_PARAMETERS))
def test_every_gpu_behaviour_parameter_changes_the_gpu_function(source: dict[str, Any], parameter: str) -> None:
    # GIVEN a stack with the GPU tier, and an update that changes one parameter only (same images)
    before_params = parameter_values(source, GpuTier="true")
    after_params = parameter_values(source, GpuTier="true", **{parameter: GPU_BEHAVIOUR_PARAMETERS[parameter]})
    before, after = translate(before_params), translate(after_params)
    # THEN the GPU function's configuration changes, which Lambda republishes to the alias's version
    assert _gpu_behaviour(before, before_params) != _gpu_behaviour(after, after_params)
    if parameter.startswith("Gpu"):
        # AND a GPU-only parameter publishes no new version of the other tiers
        for function in ALIASED_FUNCTIONS:
            assert published_version(before, before_params, function) == \
                published_version(after, after_params, function)


def test_the_gpu_tier_is_refused_without_its_image(source: dict[str, Any]) -> None:
    # sam build does not build the GPU image, so GpuTier=true without GpuImageUri would deploy a
    # function with no image: a Rule refuses it before anything is created
    refused = Evaluator(source, parameter_values(source, GpuTier="true", GpuImageUri="")).rules_refusing()
    assert any("needs GpuImageUri" in message and "make gpu-image" in message for message in refused)
    assert not Evaluator(source, parameter_values(source, GpuImageUri="")).rules_refusing()
    assert not Evaluator(source, parameter_values(source, GpuTier="true")).rules_refusing()


def test_the_gpu_tier_is_refused_without_subnets_of_its_own(source: dict[str, Any]) -> None:
    # CloudFormation cannot see route tables: the Rule asks for subnets named for the instances, so
    # they never land in the load balancer's (public) subnets by default
    refused = Evaluator(source, parameter_values(source, GpuTier="true", GpuSubnetIds="")).rules_refusing()
    assert any("GpuTier=true needs GpuSubnetIds" in message for message in refused)
    assert not Evaluator(source, parameter_values(source, GpuSubnetIds="")).rules_refusing()


@pytest.mark.parametrize(("memory", "ratio", "whole"), [("8192", "4", True), ("8192", "8", True), ("2048", "2", True),
                                                          ("6144", "4", False), ("4096", "8", False),
                                                          ("3000", "2", False)])
def test_gpu_memory_is_a_whole_number_of_vcpus(source: dict[str, Any], memory: str, ratio: str, whole: bool) -> None:
    refused = Evaluator(source, parameter_values(source, GpuTier="true", GpuFunctionMemorySize=memory,
                                                 GpuMemoryGiBPerVCpu=ratio)).rules_refusing()
    assert (refused == []) is whole, refused
    # off, the GPU parameters are not checked
    assert not Evaluator(source, parameter_values(source, GpuFunctionMemorySize=memory,
                                                  GpuMemoryGiBPerVCpu=ratio)).rules_refusing()


# --- the front door, two stacks, who may do what -----------------------------------------
def test_the_gpu_header_reaches_the_gpu_alias_only_for_whom_premium_is_open(source: dict[str, Any]) -> None:
    def gpu_rules(**overrides: str) -> tuple[dict[str, Any], Evaluator, dict[str, Any]]:
        template, _, evaluate = deployed(source, GpuTier="true", **overrides)
        return template, evaluate, {k: evaluate.value(r["Properties"]) for k, r in template["Resources"].items()
                                    if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule" and evaluate.active(k)}

    # GIVEN the defaults (no token, no source range): the GPU header is refused, nothing forwarded
    _, _, rules = gpu_rules()
    assert [k for k in rules if k.startswith("Gpu")] == ["GpuTierRefusedRule"]
    assert rules["GpuTierRefusedRule"]["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "403"
    # WHEN premium is opened by token and by source range, the GPU tier opens to the same clients
    template, evaluate, rules = gpu_rules(PremiumTokenSecret="fast-inference/premium-token",
                                          PremiumAllowedCidr="10.0.0.0/8", LoadBalancerScheme="internal")
    gpu = {k: rules.pop(k) for k in ("GpuTierByTokenRule", "GpuTierBySourceRule", "GpuTierRefusedRule")}
    assert set(rules) == {"OperatorRoutesRule", "PremiumTierByTokenRule", "PremiumTierBySourceRule",
                          "PremiumTierRefusedRule"}
    # after every premium rule: a request naming both tiers meets premium's refusal first
    assert all(g["Priority"] > rule["Priority"] for g in gpu.values() for rule in rules.values())
    assert gpu["GpuTierRefusedRule"]["Priority"] > max(gpu["GpuTierByTokenRule"]["Priority"],
                                                      gpu["GpuTierBySourceRule"]["Priority"])
    header = {"HttpHeaderName": "X-Latency-Tier", "Values": ["gpu"]}
    token = {"HttpHeaderName": "X-Premium-Token", "Values": ["{{resolve:secretsmanager:fast-inference/premium-token}}"]}
    assert gpu["GpuTierByTokenRule"]["Conditions"] == [{"Field": "http-header", "HttpHeaderConfig": header},
                                                       {"Field": "http-header", "HttpHeaderConfig": token}]
    assert gpu["GpuTierBySourceRule"]["Conditions"] == [{"Field": "http-header", "HttpHeaderConfig": header},
                                                        {"Field": "source-ip",
                                                         "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}]
    for name in ("GpuTierByTokenRule", "GpuTierBySourceRule"):
        assert gpu[name]["Actions"] == [{"Type": "forward", "TargetGroupArn": evaluate.ref("GpuTargetGroup")}]
    # the load balancer may invoke the alias, from this stack's GPU target group only
    group = evaluate.value(template["Resources"]["GpuTargetGroup"]["Properties"])
    permission = evaluate.value(template["Resources"]["GpuInvokePermission"]["Properties"])
    assert permission["FunctionName"] == evaluate.ref("GpuFunctionAlias")
    assert permission["SourceArn"] == \
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{group['Name']}/*"
    assert len(group["Name"]) <= 32


def test_two_stacks_with_the_gpu_tier_claim_no_name_twice() -> None:
    first = Stack("fast-inference", "us-east-1", uuid="1a2b3c4d-0000-4000-8000-00000000abcd")
    second = Stack("fast-inference-b", "us-east-1", uuid="9f8e7d6c-0000-4000-8000-00000000dcba")
    elsewhere = Stack("fast-inference", "eu-west-1", uuid="5e5e5e5e-0000-4000-8000-000000005e5e")
    claims = [claimed_names(stack, GpuTier="true") for stack in (first, second, elsewhere)]
    gpu = {name for kind, _, name in claims[0] if "gpu" in name}
    assert len(gpu) == 2, gpu   # the target group and the log group; the rest is named by CloudFormation
    assert not claims[0] & claims[1]
    assert not claims[0] & claims[2]


def test_the_operator_role_is_the_managed_policy_scoped_to_this_stack(source: dict[str, Any]) -> None:
    role = gpu_properties(source, "GpuOperatorRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    (policy,) = role["Policies"]
    statements = policy["PolicyDocument"]["Statement"]
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert set(actions) == OPERATOR_ACTIONS
    by_sid = {s["Sid"]: s for s in statements}
    # only Describe actions (which take no resource-level permission) get "*"
    for statement in statements:
        if statement["Resource"] == "*":
            assert all(a.startswith("ec2:Describe") for a in statement["Action"])
        for resource in [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]:
            assert resource == "*" or resource.startswith("arn:aws:ec2:us-east-1:"), resource
    launch = by_sid["LaunchAndTagAsLambdasScalerOnly"]
    assert launch["Condition"] == {"StringEquals": {"ec2:ManagedResourceOperator": "scaler.lambda.amazonaws.com"}}
    subnets = by_sid["SubnetsOfTheStacksVpcOnly"]
    vpc = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"
    assert subnets["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc}}
    template, _, evaluate = deployed(source, GpuTier="true")
    group = f"{evaluate.ref('GpuSecurityGroup')}.GroupId"
    assert by_sid["TheTiersSecurityGroupOnly"]["Resource"] == \
        f"arn:aws:ec2:us-east-1:123456789012:security-group/{group}"
    assert by_sid["AmazonImagesOnly"]["Condition"] == {"StringEquals": {"ec2:Owner": "amazon"}}


def test_the_gpu_function_may_write_its_logs_and_read_published_models_only(source: dict[str, Any]) -> None:
    role = gpu_properties(source, "GpuFunctionRole")
    assert [p["PolicyName"] for p in role["Policies"]] == ["write-own-logs"]   # no bucket: no S3 at all
    (logs,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    template, _, evaluate = deployed(source, GpuTier="true")
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == f"{evaluate.ref('GpuFunctionLogGroup')}.Arn"
    # GIVEN a model bucket with its KMS key: read under the prefix, decrypt through S3 only
    role = gpu_properties(source, "GpuFunctionRole", ModelBucket="my-models",
                          ModelBucketKmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/abcd-1234")
    read, decrypt = role["Policies"][1]["PolicyDocument"]["Statement"]
    assert read["Action"] == "s3:GetObject" and read["Resource"] == "arn:aws:s3:::my-models/models/*"
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def test_the_gpu_instances_take_no_inbound_traffic(source: dict[str, Any]) -> None:
    group = gpu_properties(source, "GpuSecurityGroup")
    assert "SecurityGroupIngress" not in group
    assert group["SecurityGroupEgress"] == [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                              "CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS endpoints"}]


def test_rules_refuse_an_unbundled_gpu_model_without_a_bucket_only_when_the_tier_is_on(source: dict[str, Any]) -> None:
    registry = json.loads((REPO_ROOT / "functions" / "inference" / "models.json").read_text())["models"]
    bundled = sorted(name for name, entry in registry.items() if entry["source"] == "bundled")
    (assertion,) = source["Rules"]["GpuPublishedModelNeedsABucket"]["Assertions"]
    assert sorted(assertion["Assert"]["Fn::Contains"][0]) == bundled

    def refusals(**overrides: str) -> list[str]:
        return Evaluator(source, parameter_values(source, **overrides)).rules_refusing()

    (why,) = refusals(GpuTier="true", GpuModelName="my-published-model")
    assert "GpuModelName" in why and "ModelBucket" in why
    assert refusals(GpuModelName="my-published-model") == []
    assert refusals(GpuTier="true", GpuModelName="my-published-model", ModelBucket="my-models") == []
    assert refusals(GpuTier="true") == []


# --- what the tier is watched by --------------------------------------------------------
def test_gpu_throttles_are_alarmed_and_the_tier_graphed(source: dict[str, Any]) -> None:
    template, params, evaluate = deployed(source, GpuTier="true", GpuThrottleAlarmCount="5")
    alarm = evaluate.value(template["Resources"]["GpuThrottleAlarm"]["Properties"])
    function = evaluate.ref("GpuFunction")
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Throttles", "Sum")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function},
                                   {"Name": "Resource", "Value": f"{function}:live"}]
    assert alarm["Threshold"] == "5" and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    widgets = rendered_dashboard(template, params)["widgets"]
    # the init-phase table reads the GPU tier's log group too, with every phase (cuda_init included)
    sources, columns, _ = phase_table(widgets)
    assert sources[-1] == evaluate.ref("GpuFunctionLogGroup") and len(sources) == 3
    assert columns == [p.value for p in InitPhase]
    traffic_widget = widgets[-1]
    expressions = [m[0]["expression"] for m in traffic_widget["properties"]["metrics"] if isinstance(m[0], dict)]
    for expression in expressions:
        assert expression.startswith("SEARCH('{FastInference,function,init_type,service,tier} ")
        assert 'tier="gpu"' in expression and f'function="{function}"' in expression
    # every metric searched for is one the code emits as a metric (phases are log fields)
    searched = {group(re.search(r'MetricName="(\w+)"', e), e) for e in expressions}
    assert searched <= set(emf.REQUEST_METRICS) and emf.COLD_REQUEST_LATENCY in searched
    lambda_metrics = [m for m in traffic_widget["properties"]["metrics"] if m[0] == "AWS/Lambda"]
    assert {m[1] for m in lambda_metrics} == {"Throttles", "Invocations"}
    assert all(m[2:6] == ["FunctionName", function, "Resource", f"{function}:live"] for m in lambda_metrics)


def test_the_outputs_of_the_gpu_tier(source: dict[str, Any]) -> None:
    template, _, evaluate = deployed(source, GpuTier="true")
    outputs = {name: evaluate.value(o["Value"]) for name, o in template["Outputs"].items() if name in GPU_OUTPUTS}
    url = f"http://{evaluate.ref('LoadBalancer')}.DNSName"
    assert outputs["TryItGpu"].startswith(f"curl -s -X POST {url}/predict ")
    assert "-H 'X-Latency-Tier: gpu'" in outputs["TryItGpu"]
    assert outputs["GpuLogGroup"] == evaluate.ref("GpuFunctionLogGroup")
    assert outputs["GpuFunctionAlias"] == evaluate.ref("GpuFunctionAlias")
    assert outputs["GpuCapacityProviderArn"] == \
        f"arn:aws:lambda:us-east-1:123456789012:capacity-provider:{evaluate.ref('GpuCapacityProvider')}"


# --- the GPU image ------------------------------------------------------------------------
def _stages(text: str) -> dict[str, str]:
    """Stage name -> its text (FROM line included), in file order."""
    parts = re.split(r"^(?=FROM )", text, flags=re.M)[1:]
    return {group(re.match(r"FROM \S+ AS (\S+)", part), part): part for part in parts}


def _pins(path: Any) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    pins = [line.split("==") for line in lines if line]
    assert all(len(pin) == 2 for pin in pins), f"{path.name}: every line is pinned with =="
    return {name.lower(): version for name, version in pins}


def test_the_gpu_image_is_a_target_of_the_same_dockerfile_and_the_cpu_image_stays_the_default() -> None:
    text = DOCKERFILE.read_text()
    stages = _stages(text)
    # the CPU runtime is still the last stage: what `docker build` and sam build make with no target,
    # and what tools/local/image_tree.py carries out
    assert list(stages)[-1] == "runtime" and stages["runtime"].startswith("FROM ${LAMBDA_BASE} AS runtime")
    template = cfn_yaml.load(str(REPO_ROOT / "template.yaml"))
    for name in ("StandardFunction", "PremiumFunction"):
        assert "DockerBuildTarget" not in template["Resources"][name]["Metadata"]
    # sam build does not build the GPU image (it would for every deploy, whatever GpuTier says):
    # the function names the image make gpu-image pushed
    gpu = template["Resources"]["GpuFunction"]
    assert not {"Dockerfile", "DockerContext", "DockerBuildTarget"} & set(gpu["Metadata"])
    assert gpu["Properties"]["Code"] == {"ImageUri": {"Ref": "GpuImageUri"}}
    # the GPU stage: Lambda's Python 3.13 base (LMI's minimum), lazy CUDA module loading, the GPU
    # requirements for Python 3.13 and nothing of torch or transformers
    gpu = stages["runtime-gpu"]
    assert gpu.startswith("FROM ${LAMBDA_GPU_BASE} AS runtime-gpu")
    assert "ARG LAMBDA_GPU_BASE=public.ecr.aws/lambda/python:3.13" in text
    code = "\n".join(line for line in gpu.splitlines() if not line.lstrip().startswith("#"))
    assert re.search(r"^ENV CUDA_MODULE_LOADING=LAZY", code, flags=re.M)
    assert "-r /tmp/requirements-gpu.txt" in code and "--no-deps" in code and "--python-version 3.13" in code
    assert "COPY --from=export-gpu /artifact ${LAMBDA_TASK_ROOT}/model" in code
    assert "torch" not in code.lower() and "transformers" not in code.lower()
    assert 'CMD ["app.handler"]' in code
    assert "!functions/inference/requirements-gpu.txt" in (REPO_ROOT / ".dockerignore").read_text()


def test_the_gpu_requirements_are_pinned_and_agree_with_the_cpu_image() -> None:
    gpu, cpu = _pins(GPU_REQUIREMENTS), _pins(CPU_REQUIREMENTS)
    assert "onnxruntime-gpu" in gpu and "onnxruntime" not in gpu   # two onnxruntime packages would shadow each other
    assert not {"torch", "transformers"} & set(gpu)
    # CUDA 13 and cuDNN 9, as onnxruntime-gpu 1.31.1 needs them
    cuda = {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-curand", "nvidia-cuda-nvrtc", "nvidia-cudnn-cu13"}
    assert cuda <= set(gpu)
    assert gpu["nvidia-cuda-runtime"].startswith("13.") and gpu["nvidia-cudnn-cu13"].startswith("9.")
    shared = set(cpu) - {"onnxruntime"}
    assert shared <= set(gpu) and {name: gpu[name] for name in shared} == {name: cpu[name] for name in shared}
    # the export-gpu stage optimises the graph with the CPU build of the GPU runtime's version
    (version,) = re.findall(r"^ARG GPU_ONNXRUNTIME_VERSION=(\S+)$", DOCKERFILE.read_text(), flags=re.M)
    assert version == gpu["onnxruntime-gpu"]


def test_the_dockerfile_stages_the_gpu_target_needs_exist_and_the_cpu_target_needs_none_of_them() -> None:
    stages = _stages(DOCKERFILE.read_text())

    def needs(stage: str) -> set[str]:
        base = group(re.match(r"FROM (\S+) AS", stages[stage]), stages[stage])
        # COPY --from=stage, RUN --mount=...,from=stage, and FROM stage
        found = set(re.findall(r"(?:--|,)from=([\w-]+)", stages[stage])) | ({base} if base in stages else set())
        return found.union(*(needs(s) for s in found if s in stages)) if found else set()

    assert needs("runtime-gpu") == {"export-gpu", "export", "model"}
    assert needs("runtime") == {"export", "model"}
    assert "export-gpu" not in needs("runtime") and "runtime-gpu" not in needs("runtime")


def test_the_copy_of_the_template_the_lint_test_edits_is_the_template() -> None:
    # _without_gpu_lint_ignore cuts one block out of the text: it must be the GPU function's, whole.
    text = (REPO_ROOT / "template.yaml").read_text()
    edited = cfn_yaml.loads(_without_gpu_lint_ignore(text))
    original = cfn_yaml.loads(text)
    expected = copy.deepcopy(original)
    del expected["Resources"]["GpuFunction"]["Metadata"]["cfn-lint"]
    assert edited == expected
