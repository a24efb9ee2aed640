"""template.yaml, the Dockerfile and the local tools agree on one design."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from inference_runtime import config
from lambda_shared import env as shared_env
from lambda_shared import tiers as shared_tiers
from tests.helpers import REPO_ROOT
from tools.local.emulator import FUNCTIONS
from tools.template import generate
from tools.template.tiers import TIERS


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(str(REPO_ROOT / "template.yaml"))


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_layout() -> None:
    for name in ("template.yaml", "functions", "layers", "keepwarm", "events", "tests", "samconfig.toml",
                 "requirements.txt", "README.md", "Makefile", ".ci/run", ".dockerignore"):
        assert (REPO_ROOT / name).exists(), name


def test_the_cpu_tiers_from_one_image(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    standard, premium = functions["StandardFunction"], functions["PremiumFunction"]
    # every SAM function serves through its `live` alias, stated once in Globals
    assert template["Globals"]["Function"]["AutoPublishAlias"] == "live"
    assert all("AutoPublishAlias" not in f["Properties"] for f in functions.values())
    for function in (standard, premium):
        assert function["Properties"]["PackageType"] == "Image"
        assert function["Metadata"]["Dockerfile"] == "functions/inference/Dockerfile"
        assert function["Metadata"]["DockerContext"] == "."
    assert "ProvisionedConcurrencyConfig" in premium["Properties"]
    assert "ProvisionedConcurrencyConfig" not in standard["Properties"]
    # no router function on the request path, and no second variant of a tier: SnapStart is a
    # setting of the standard function (tests/unit/test_template_translated.py)
    assert set(functions) == {"StandardFunction", "PremiumFunction", "KeepWarmFunction", "StandardPreTrafficFunction",
                              "PremiumPreTrafficFunction"}


STANDARD_ALIAS = {"Ref": "StandardFunction.Alias"}


def test_the_load_balancer_permission_and_keepwarm_follow_the_standard_alias(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert groups["StandardTargetGroup"]["Properties"]["Targets"] == [{"Id": STANDARD_ALIAS}]
    assert template["Resources"]["StandardInvokePermission"]["Properties"]["FunctionName"] == STANDARD_ALIAS
    keepwarm = template["Resources"]["KeepWarmFunction"]["Properties"]
    assert keepwarm["Environment"]["Variables"]["STANDARD_ALIAS_ARN"] == STANDARD_ALIAS


def test_local_emulator_runs_the_functions_as_the_template_configures_them(template: dict[str, Any]) -> None:
    for logical_id in ("StandardFunction", "PremiumFunction"):
        env = template["Resources"][logical_id]["Properties"]["Environment"]["Variables"]
        assert FUNCTIONS[logical_id].environment["LATENCY_TIER"] == env["LATENCY_TIER"]
    keepwarm = template["Resources"]["KeepWarmFunction"]["Properties"]
    assert keepwarm["CodeUri"].rstrip("/") == "keepwarm"
    assert keepwarm["Handler"] == FUNCTIONS["KeepWarmFunction"].handler


def test_every_variable_the_template_sets_is_one_the_runtime_names(template: dict[str, Any]) -> None:
    # every variable is named once: the shared core's env module (both functions), or the runtime's config
    known = {value for module in (config, shared_env) for name, value in vars(module).items()
             if name.isupper() and isinstance(value, str)}
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"}
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    functions = {**resources(template, "AWS::Serverless::Function"), **resources(template, "AWS::Lambda::Function")}
    assert "GpuFunction" in functions  # the plain GPU function too
    for function in functions.values():
        names |= set(function["Properties"].get("Environment", {}).get("Variables", {}))
    assert names - powertools <= known


def test_front_door_routes_premium_by_header_to_the_premium_alias(template: dict[str, Any]) -> None:
    for logical_id in ("PremiumTierByTokenRule", "PremiumTierBySourceRule"):
        rule = template["Resources"][logical_id]["Properties"]
        tier_condition = rule["Conditions"][0]
        assert tier_condition["Field"] == "http-header"
        assert tier_condition["HttpHeaderConfig"] == {"HttpHeaderName": "X-Latency-Tier", "Values": ["premium"]}
        assert rule["Actions"][0]["TargetGroupArn"] == {"Ref": "PremiumTargetGroup"}
    groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert groups["PremiumTargetGroup"]["Properties"]["Targets"] == [{"Id": {"Ref": "PremiumFunction.Alias"}}]
    default = template["Resources"]["HttpsListener"]["Properties"]["DefaultActions"][0]
    assert default["TargetGroupArn"] == {"Ref": "StandardTargetGroup"}


def test_premium_autoscaling_tracks_utilisation(template: dict[str, Any]) -> None:
    policy = template["Resources"]["PremiumScalingPolicy"]["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    spec = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec["PredefinedMetricType"] == "LambdaProvisionedConcurrencyUtilization"
    target = template["Resources"]["PremiumScalableTarget"]["Properties"]
    assert target["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"


def test_keepwarm_is_scheduled_and_may_only_invoke_the_aliases_and_read_metrics(template: dict[str, Any]) -> None:
    keepwarm = template["Resources"]["KeepWarmFunction"]["Properties"]
    assert keepwarm["Events"]["Schedule"]["Type"] == "ScheduleV2"
    assert keepwarm["Runtime"] == "python3.12"
    invoke, read = keepwarm["Policies"][0]["Statement"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"] == [STANDARD_ALIAS, {"Ref": "PremiumFunction.Alias"}]
    # the policy reads the tiers' history; GetMetricData has no resource-level permissions
    assert (read["Action"], read["Resource"]) == ("cloudwatch:GetMetricData", "*")
    variables = keepwarm["Environment"]["Variables"]
    assert variables["KEEP_WARM_POLICY"] == {"Ref": "KeepWarmPolicy"}
    assert variables["KEEP_WARM_SCHEDULE"] == {"Ref": "KeepWarmSchedule"}
    # the services whose EMF metrics it reads are the tiers' own
    functions = template["Resources"]
    for tier in ("standard", "premium"):
        service = functions[f"{tier.capitalize()}Function"]["Properties"]["Environment"]["Variables"]
        assert variables[f"{tier.upper()}_SERVICE_NAME"] == service["POWERTOOLS_SERVICE_NAME"]
    schedule_input = keepwarm["Events"]["Schedule"]["Properties"]["Input"]
    assert schedule_input.strip() == (REPO_ROOT / "events" / "keepwarm-schedule.json").read_text().strip()


def test_every_function_has_a_log_group_with_retention(template: dict[str, Any]) -> None:
    groups = resources(template, "AWS::Logs::LogGroup").values()
    named = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups}
    for logical_id in resources(template, "AWS::Serverless::Function"):
        assert f"/aws/lambda/${{{logical_id}}}" in named
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)


def test_dockerfile_runtime_stage_holds_only_inference() -> None:
    dockerfile = (REPO_ROOT / "functions" / "inference" / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)
    runtime = stages[-1]
    assert runtime.startswith("${LAMBDA_BASE} AS runtime")
    assert "ARG LAMBDA_BASE=public.ecr.aws/lambda/python:3.12" in dockerfile
    assert "CUDA_MODULE_LOADING=LAZY" in runtime
    assert "torch" not in runtime.lower().replace("# ", "")
    runtime_requirements = (REPO_ROOT / "functions" / "inference" / "requirements.txt").read_text()
    pinned = [line.split("#")[0].strip() for line in runtime_requirements.splitlines()]
    pinned = [line for line in pinned if line]
    assert pinned and all("==" in line for line in pinned)
    assert not any(line.startswith(("torch", "transformers")) for line in pinned)


def test_requirements_are_pinned() -> None:
    for path in ("requirements.txt", "tools/requirements-build.txt", "functions/inference/requirements-gpu.txt"):
        for line in (REPO_ROOT / path).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert "==" in line, f"{path}: {line} is not pinned"


def test_functions_may_read_only_the_configured_model_prefix(template: dict[str, Any]) -> None:
    for logical_id, tier in (("StandardFunction", "Standard"), ("PremiumFunction", "Premium")):
        properties = template["Resources"][logical_id]["Properties"]
        assert properties["Environment"]["Variables"]["MODEL_NAME"] == {"Ref": f"{tier}ModelName"}
        (policy,) = properties["Policies"]
        if "Fn::If" in policy:
            condition, policy, otherwise = policy["Fn::If"]
            assert condition == "HasModelBucket" and otherwise == {"Ref": "AWS::NoValue"}
        statement, kms = policy["Statement"]
        assert statement["Action"] == "s3:GetObject"
        assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ModelBucket}/${ModelPrefix}*"}
        # SSE-KMS buckets: decrypt with the bucket's key only, and only through S3
        condition, decrypt, otherwise = kms["Fn::If"]
        assert condition == "HasModelBucketKmsKey" and otherwise == {"Ref": "AWS::NoValue"}
        assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == {"Ref": "ModelBucketKmsKeyArn"}
        via_s3 = {"Fn::Sub": "s3.${AWS::Region}.${AWS::URLSuffix}"}
        assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": via_s3}}


def test_the_image_ships_the_model_registry() -> None:
    # GIVEN the Dockerfile THEN both runtime stages copy the registry a build argument names, by
    # default the function's own list, and the build context lets every list in (examples' too)
    dockerfile = (REPO_ROOT / "functions" / "inference" / "Dockerfile").read_text()
    assert dockerfile.count("ARG MODEL_REGISTRY_FILE=functions/inference/models.json") == 2
    assert dockerfile.count("COPY ${MODEL_REGISTRY_FILE} ${LAMBDA_TASK_ROOT}/models.json") == 2
    ignore = (REPO_ROOT / ".dockerignore").read_text()
    assert "!functions/inference/models.json" in ignore and "!examples/*/models.json" in ignore


def test_the_generated_regions_are_current() -> None:
    # GIVEN the committed template: THEN rewriting its generated regions changes nothing
    text = (REPO_ROOT / "template.yaml").read_text()
    assert generate.render(text) == text, "template.yaml is stale: run `make template`"


def test_a_stale_or_missing_region_is_caught() -> None:
    text = (REPO_ROOT / "template.yaml").read_text()
    # a hand edit inside a region is undone by the generator, so the currency test above fails on it
    edited = text.replace("HealthCheckEnabled: false", "HealthCheckEnabled: true", 1)
    assert edited != text and generate.render(edited) == text
    # a region whose markers were lost is refused, naming it
    broken = text.replace("  # <<< generated: log-groups\n", "", 1)
    with pytest.raises(generate.TemplateRegionError, match="log-groups"):
        generate.render(broken)


def test_every_tier_has_its_front_door_target_and_alias_output(template: dict[str, Any]) -> None:
    assert [t.name for t in TIERS] == ["standard", "premium", "gpu"]
    for tier in TIERS:
        group = template["Resources"][f"{tier.prefix}TargetGroup"]
        permission = template["Resources"][f"{tier.prefix}InvokePermission"]
        assert group["Properties"]["Targets"] == [{"Id": {"Ref": tier.alias}}]
        assert permission["Properties"]["FunctionName"] == {"Ref": tier.alias}
        assert group.get("Condition") == permission.get("Condition") == tier.condition
        assert template["Outputs"][f"{tier.prefix}FunctionAlias"]["Value"] == {"Ref": tier.alias}
    # each function's LATENCY_TIER is its tier's name
    for tier in TIERS:
        variables = template["Resources"][f"{tier.prefix}Function"]["Properties"]["Environment"]["Variables"]
        assert variables["LATENCY_TIER"] == tier.name


def test_the_template_deploys_the_runtimes_tier_table(template: dict[str, Any]) -> None:
    # the generator's tiers are the shared core's, in order; the optional ones behind a Condition
    assert tuple(t.name for t in TIERS) == shared_tiers.TIER_NAMES
    for tier in TIERS:
        shared = shared_tiers.tier(tier.name)
        assert (tier.condition is not None) == shared.optional
        variables = template["Resources"][f"{tier.prefix}Function"]["Properties"]["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == shared.service_name
    # keep-warm invokes exactly the tiers the table says it pings, and reads their service names
    keepwarm = template["Resources"]["KeepWarmFunction"]["Properties"]["Environment"]["Variables"]
    for shared in shared_tiers.TIERS:
        if shared.keep_warm:
            assert shared.alias_env is not None and shared.service_env is not None
            assert keepwarm[shared.alias_env] == {"Ref": f"{shared.name.capitalize()}Function.Alias"}
            assert keepwarm[shared.service_env] == shared.service_name
    assert {name for name in keepwarm if name.endswith("_ALIAS_ARN")} == \
        {t.alias_env for t in shared_tiers.keep_warm_tiers()}


def test_no_text_counts_two_tiers() -> None:
    text = (REPO_ROOT / "template.yaml").read_text().lower()
    assert "two tiers" not in text and "both tiers'" not in text
