"""The model list drives the template: the default list is today's template, each served model adds its resources."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from samtranslator.yaml_helper import yaml_parse

from tests.cfn import Evaluator, parameter_values, translate
from tests.helpers import REPO_ROOT
from tools.template import generate
from tools.template.models import DEFAULT_MODELS, REGISTRY_BUILD_ARG, ModelListError, logical_id, served_models

RAG = REPO_ROOT / "examples" / "rag"
#: What each served model gets, by logical-id suffix: one of each, none hand-written.
PER_MODEL = {"Function": "AWS::Serverless::Function", "FunctionLogGroup": "AWS::Logs::LogGroup",
             "TargetGroup": "AWS::ElasticLoadBalancingV2::TargetGroup",
             "InvokePermission": "AWS::Lambda::Permission", "Rule": "AWS::ElasticLoadBalancingV2::ListenerRule",
             "ColdStartAlarm": "AWS::CloudWatch::Alarm", "PreTrafficFunction": "AWS::Serverless::Function",
             "PreTrafficFunctionLogGroup": "AWS::Logs::LogGroup"}


def test_the_default_list_serves_no_extra_model_and_template_yaml_is_current() -> None:
    assert served_models(DEFAULT_MODELS) == ()
    text = (REPO_ROOT / "template.yaml").read_text()
    # the default list writes empty model regions: the committed template is what it renders
    assert generate.render(text, ()) == text
    assert "ModelsDashboard" not in text and "WARM_TARGETS" not in text
    assert len(text.splitlines()) <= 1320


def test_the_rag_example_template_is_current() -> None:
    # GIVEN the example's list, WHEN rendered from template.yaml THEN it is the committed example template
    rendered = generate.render((REPO_ROOT / "template.yaml").read_text(), served_models(RAG / "models.json"))
    assert rendered == (RAG / "template.yaml").read_text(), \
        "run python -m tools.template.generate --models examples/rag/models.json --out examples/rag/template.yaml"
    # AND template.yaml is the RAG template minus exactly the generated lines
    assert generate.main(["--check", "--models", str(RAG / "models.json"), "--out", str(RAG / "template.yaml")]) == 0


@pytest.fixture(scope="module")
def rag() -> tuple[dict[str, Any], dict[str, Any], Evaluator]:
    source = yaml_parse((RAG / "template.yaml").read_text())
    params = parameter_values(source)
    translated = translate(params, template=source)
    return source, translated, Evaluator(translated, params)


def test_the_rag_template_lints_clean() -> None:
    assert [(m.rule.id, m.message) for m in lint((RAG / "template.yaml").read_text())] == []


def test_each_served_model_has_its_resources_once(rag: tuple[dict[str, Any], dict[str, Any], Evaluator]) -> None:
    source, translated, _ = rag
    default_ids = set(yaml_parse((REPO_ROOT / "template.yaml").read_text())["Resources"])
    added = set(source["Resources"]) - default_ids
    # the reranker's eight resources, the models' dashboard and their hooks' role, nothing else
    assert added == {f"Reranker{suffix}" for suffix in PER_MODEL} | {"ModelsDashboard", "ModelsPreTrafficRole"}
    for suffix, kind in PER_MODEL.items():
        assert source["Resources"][f"Reranker{suffix}"]["Type"] == kind
    # one Lambda function per model: the embedder's tiers and the reranker's own
    functions = {k for k, v in translated["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}
    assert {"StandardFunction", "PremiumFunction", "RerankerFunction", "RerankerPreTrafficFunction"} <= functions
    variables = translated["Resources"]["RerankerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["MODEL_NAME"] == "ms-marco-MiniLM-L-6-v2" and variables["LATENCY_TIER"] == "standard"
    assert translated["Resources"]["RerankerFunction"]["Properties"]["MemorySize"] == 2048


def test_the_reranker_rule_routes_its_prefix_before_the_tier_rules(
        rag: tuple[dict[str, Any], dict[str, Any], Evaluator]) -> None:
    source, _, evaluator = rag
    rule = source["Resources"]["RerankerRule"]["Properties"]
    assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {
        "Values": ["/models/ms-marco-MiniLM-L-6-v2", "/models/ms-marco-MiniLM-L-6-v2/*"]}}]
    assert rule["Actions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "RerankerTargetGroup"}}]
    priorities = {k: v["Properties"]["Priority"] for k, v in source["Resources"].items()
                  if v["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"}
    # after the operator routes' 404, before every X-Latency-Tier rule; no two rules share a priority
    assert priorities["OperatorRoutesRule"] < priorities["RerankerRule"]
    assert all(priorities["RerankerRule"] < p for k, p in priorities.items() if k.startswith(("Premium", "Gpu")))
    assert len(set(priorities.values())) == len(priorities)


def _alb_match(pattern: str, path: str) -> bool:
    # An ALB path pattern: * any run of characters ("/" included), ? one character, the rest literal.
    return re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                        path) is not None


def _first_rule(translated: dict[str, Any], evaluator: Evaluator, path: str) -> str | None:
    """The listener rule the load balancer applies to ``path`` (no header, any source): lowest priority first."""
    rules = sorted(((evaluator.value(v["Properties"]["Priority"]), k, v["Properties"]["Conditions"])
                    for k, v in translated["Resources"].items()
                    if v["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule" and evaluator.active(k)))
    for _, name, conditions in rules:
        if all(c["Field"] == "path-pattern" and any(_alb_match(p, path) for p in c["PathPatternConfig"]["Values"])
               for c in conditions):
            return name
    return None


@pytest.mark.parametrize("path, rule", [
    ("/models/ms-marco-MiniLM-L-6-v2/warm", "OperatorRoutesRule"),
    ("/models/ms-marco-MiniLM-L-6-v2/warm/1", "OperatorRoutesRule"),
    ("/models/all-MiniLM-L6-v2/warm", "OperatorRoutesRule"),
    ("/warm", "OperatorRoutesRule"),
    ("/models/ms-marco-MiniLM-L-6-v2/rerank", "RerankerRule"),
    ("/models/ms-marco-MiniLM-L-6-v2/warmup", "RerankerRule"),
    ("/models/ms-marco-MiniLM-L-6-v2", "RerankerRule"),
    ("/models/all-MiniLM-L6-v2/v1/embeddings", None),  # the tiers' default action
])
def test_a_served_models_warm_route_is_refused_at_the_load_balancer(
        rag: tuple[dict[str, Any], dict[str, Any], Evaluator], path: str, rule: str | None) -> None:
    _, translated, evaluator = rag
    assert _first_rule(translated, evaluator, path) == rule
    operator = translated["Resources"]["OperatorRoutesRule"]["Properties"]
    # ALB takes at most 5 values across a rule's conditions
    assert sum(len(c["PathPatternConfig"]["Values"]) for c in operator["Conditions"]) <= 5


def test_keepwarm_gets_the_reranker_alias_and_may_invoke_it(
        rag: tuple[dict[str, Any], dict[str, Any], Evaluator]) -> None:
    _, translated, evaluator = rag
    keepwarm = translated["Resources"]["KeepWarmFunction"]["Properties"]
    targets = json.loads(evaluator.value(keepwarm["Environment"]["Variables"]["WARM_TARGETS"]))
    alias = evaluator.value({"Ref": "RerankerFunctionAliaslive"})
    assert targets == [{"model": "ms-marco-MiniLM-L-6-v2", "tier": "standard", "function": alias,
                        "count": int(evaluator.value({"Ref": "StandardWarmCount"})), "service": "inference-m1"}]
    # the old per-tier variables stay
    assert {"STANDARD_ALIAS_ARN", "PREMIUM_ALIAS_ARN"} <= set(keepwarm["Environment"]["Variables"])
    role = translated["Resources"]["KeepWarmFunctionRole"]["Properties"]["Policies"]
    statements = [s for p in role for s in p["PolicyDocument"]["Statement"]
                  if s.get("Sid") == "InvokeTheModelAliasesOnly"]
    assert statements == [{"Sid": "InvokeTheModelAliasesOnly", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                           "Resource": [{"Ref": "RerankerFunctionAliaslive"}]}]


def _list(tmp_path: Path, models: dict[str, Any]) -> Path:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": models}))
    return path


@pytest.mark.parametrize(("serve", "name", "says"), [
    ({"memory_mb": 64}, "m", "memory_mb"),
    ({"memory": 2048}, "m", "unknown serve setting"),
    ({"id": "lower"}, "m", "serve.id"),
    ({}, "a*b", "URL path part"),
    ({"timeout_s": 0}, "m", "timeout_s"),
    ([], "m", "must be an object"),
])
def test_a_bad_serve_setting_is_refused_saying_what(tmp_path: Path, serve: Any, name: str, says: str) -> None:
    with pytest.raises(ModelListError, match=says):
        served_models(_list(tmp_path, {name: {"source": "bundled", "serve": serve}}))


def test_more_models_than_rule_priorities_or_a_shared_id_are_refused(tmp_path: Path) -> None:
    nine = {f"m{i}": {"source": "bundled", "serve": {}} for i in range(9)}
    with pytest.raises(ModelListError, match="at most 8"):
        served_models(_list(tmp_path, nine))
    with pytest.raises(ModelListError, match="share the logical id"):
        served_models(_list(tmp_path, {"a-b": {"source": "bundled", "serve": {}},
                                       "a.b": {"source": "bundled", "serve": {}}}))


def test_logical_ids_and_priorities_follow_the_list(tmp_path: Path) -> None:
    assert logical_id("ms-marco-MiniLM-L-6-v2") == "MsMarcoMiniLML6V2"
    assert logical_id("2-step") == "Model2Step"
    models = served_models(_list(tmp_path, {"a": {"source": "bundled", "serve": {}}, "b": {"source": "bundled"},
                                            "c": {"source": "bundled", "serve": {"id": "Cee"}}}))
    assert [(m.name, m.id, m.priority, m.short) for m in models] == [("a", "A", 2, "m1"), ("c", "Cee", 3, "m2")]


def test_an_example_list_never_overwrites_template_yaml() -> None:
    before = (REPO_ROOT / "template.yaml").read_text()
    assert generate.main(["--models", str(RAG / "models.json")]) == 2
    assert (REPO_ROOT / "template.yaml").read_text() == before


def test_a_served_models_image_carries_the_list_it_is_served_from(
        rag: tuple[dict[str, Any], dict[str, Any], Evaluator]) -> None:
    source, _, _ = rag
    args = source["Resources"]["RerankerFunction"]["Metadata"]["DockerBuildArgs"]
    # the image's registry is the example's list (functions/inference/models.json lacks the reranker)
    registry = REPO_ROOT / args[REGISTRY_BUILD_ARG]
    assert registry.resolve() == (RAG / "models.json").resolve()
    assert "ms-marco-MiniLM-L-6-v2" in json.loads(registry.read_text())["models"]
    assert "ms-marco-MiniLM-L-6-v2" not in json.loads(DEFAULT_MODELS.read_text())["models"]


def test_the_registry_build_argument_is_the_generators_and_the_list_must_be_in_the_build_context(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ModelListError, match=REGISTRY_BUILD_ARG):
        served_models(_list(tmp_path, {"m": {"source": "bundled", "serve": {
            "docker_build_args": {REGISTRY_BUILD_ARG: "elsewhere.json"}}}}))
    outside = _list(tmp_path, {"m": {"source": "bundled", "serve": {}}})
    assert generate.main(["--check", "--models", str(outside), "--out", str(tmp_path / "t.yaml")]) == 2
    assert "inside the repository" in capsys.readouterr().err
    assert not (tmp_path / "t.yaml").exists()


def test_a_served_models_alias_moves_only_after_its_own_pre_traffic_hook(
        rag: tuple[dict[str, Any], dict[str, Any], Evaluator]) -> None:
    _, translated, evaluator = rag
    resources = translated["Resources"]
    # SAM's CodeDeploy deployment group for the reranker's alias names its own hook and its alarms
    groups = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CodeDeploy::DeploymentGroup"}
    group = groups["RerankerFunctionDeploymentGroup"]
    alarms = {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]}
    assert alarms == {"RerankerColdStartAlarm", "TargetErrorsAlarm"}
    alias = resources["RerankerFunctionAliaslive"]
    hooks = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert hooks["BeforeAllowTrafficHook"] == {"Ref": "RerankerPreTrafficFunction"}
    hook = resources["RerankerPreTrafficFunction"]["Properties"]
    variables = hook["Environment"]["Variables"]
    # it warms and smoke-tests the reranker's new version, with a body a reranker takes
    version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]  # RerankerFunctionVersion<hash>
    assert version.startswith("RerankerFunctionVersion") and variables["PRETRAFFIC_VERSION_ARN"] == {"Ref": version}
    assert set(json.loads(variables["PRETRAFFIC_SMOKE_BODY"])) == {"query", "documents"}
    # named as SAM's CodeDeploy role may invoke it; its role may invoke the reranker's versions and nothing else
    assert evaluator.value(hook["FunctionName"]).startswith("CodeDeployHook_m1_")
    role = resources["ModelsPreTrafficRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    invoke = next(s for s in role if s["Sid"] == "WarmTheModelsVersions")
    assert invoke["Action"] == "lambda:InvokeFunction"
    assert invoke["Resource"] == [{"Fn::Sub": "${RerankerFunction.Arn}:*"}]
