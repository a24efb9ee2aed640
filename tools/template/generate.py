"""Write the generated parts of template.yaml: what the tiers share, stated once, and the capacity Rules.

Why a generator and not `AWS::LanguageExtensions` with `Fn::ForEach`: the pinned tools do not all
handle it. samtranslator 1.115.0 (the translator of SAM CLI 1.170.0, and of tests/cfn.py) refuses
a template with Fn::ForEach ("All 'Resources' must be Objects"), and checkov 3.3.30 scans none of
the resources inside a loop: a log group without retention in a loop passes, the same one written
out fails (tried on a two-resource template). A security scan that silently skips resources is
worse than a longer template, so template.yaml stays plain CloudFormation and SAM, and the parts
that repeat per tier are written here from one table (tools/template/tiers.py).

template.yaml stays the file people read and edit; only the regions between the markers

    # >>> generated: <region> ...
    # <<< generated: <region>

are written here. `make template` rewrites them; tests/unit/test_template.py fails when the
committed template differs from what this writes.

    python -m tools.template.generate            # rewrite the regions in template.yaml
    python -m tools.template.generate --check    # exit 1 if template.yaml is not current
    python -m tools.template.generate --models examples/rag/models.json --out examples/rag/template.yaml

The model list (functions/inference/models.json by default; tools/template/models.py) adds the
resources of each model that has a function of its own: for the default list, none, and the
regions that hold them are empty. ``--out`` writes the result elsewhere, leaving template.yaml
as it is: an example's template is template.yaml with its own model list.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tools.template.capacity_rules import rules_yaml
from tools.template.init_budget import ARTIFACTS_DIR, InitBudgetError, check_served
from tools.template.models import (
    DEFAULT_MODELS,
    REGISTRY_BUILD_ARG,
    ModelListError,
    ServedModel,
    registry_in_context,
    served_models,
)
from tools.template.tiers import TIERS

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
#: The stack id's last part, unique per stack: names that must not collide across stacks end in it.
STACK_SUFFIX = '!Select [0, !Split ["-", !Select [2, !Split ["/", !Ref AWS::StackId]]]]'
#: The SAM functions whose log group is /aws/lambda/<function>: logical id, output, what it holds.
LOGGED_FUNCTIONS = (
    ("StandardFunction", "StandardLogGroup", "Logs of the standard tier (init trace, requests, EMF metrics)."),
    ("PremiumFunction", "PremiumLogGroup", "Logs of the premium tier."),
    ("KeepWarmFunction", "KeepWarmLogGroup", "Logs of keep-warm (one JSON summary line per run)."),
    ("StandardPreTrafficFunction", "StandardPreTrafficLogGroup",
     "Logs of the standard tier's PreTraffic hook (one line per step of a deploy)."),
    ("PremiumPreTrafficFunction", "PremiumPreTrafficLogGroup", "Logs of the premium tier's PreTraffic hook."),
)
LOG_GROUP_SKIPS = (
    ("CKV_AWS_158", "Logs hold request metadata and timings, no payloads; CloudWatch Logs encrypts them at rest. "
                    "Add KmsKeyId if your policy asks for a customer key."),
    ("CKV_AWS_66", "Retention is set, from LogRetentionDays."),
    ("CKV_AWS_338", "Retention is LogRetentionDays (14 by default); raise it where a year of logs is required."),
)


def _condition(condition: str | None) -> list[str]:
    return [f"    Condition: {condition}"] if condition else []


def front_door_targets() -> str:
    """Each tier's target group (its `live` alias) and the permission that lets the load balancer invoke it."""
    lines = ["  # A health check would invoke a function every interval; keep-warm and the functions' own",
             "  # /health serve that purpose without the steady cost."]
    for tier in TIERS:
        lines += _target_group(tier.prefix, tier.short, tier.alias, tier.condition)
    return "\n".join(lines) + "\n"


def log_groups() -> str:
    """A log group with retention for each SAM function, under the name Lambda writes to."""
    return "\n".join(line for function, _, _ in LOGGED_FUNCTIONS for line in _log_group(function)) + "\n"


def tier_outputs() -> str:
    """Each tier's alias, and each function's log group."""
    lines = []
    for tier in TIERS:
        lines += [f"  {tier.prefix}FunctionAlias:",
                  *_condition(tier.condition),
                  f'    Description: "{tier.alias_description}"',
                  f"    Value: !Ref {tier.alias}"]
    for function, output, what in LOGGED_FUNCTIONS:
        lines += [f"  {output}:", f'    Description: "{what}"', f"    Value: !Ref {function}LogGroup"]
    return "\n".join(lines) + "\n"


# The inference functions' checkov skips, for a served model's function (the standard tier's reasons).
MODEL_FUNCTION_SKIPS = (
    ("CKV_AWS_116", "Invoked synchronously by the load balancer and keep-warm; a dead-letter queue only serves "
                    "asynchronous invocations."),
    ("CKV_AWS_117", "Reaches only S3 (the model bucket) and CloudWatch; a VPC would add ENI set-up to cold starts "
                    "and a NAT or endpoints to pay for."),
    ("CKV_AWS_115", "On demand, as the standard tier: reserving concurrency would take it from the account pool."),
    ("CKV_AWS_173", "The environment holds names and sizes only (model name, tier, limits), no secret; Lambda "
                    "encrypts it at rest with an AWS-managed key."),
)


def _target_group(prefix: str, short: str, alias: str, condition: str | None) -> list[str]:
    cond = _condition(condition)
    return [f"  {prefix}TargetGroup:",
            "    Type: AWS::ElasticLoadBalancingV2::TargetGroup",
            *cond,
            f"    DependsOn: {prefix}InvokePermission",
            f'    Properties: {{ Name: !Join ["-", [inference-{short}, {STACK_SUFFIX}]], '
            f"TargetType: lambda, HealthCheckEnabled: false, Targets: [{{ Id: !Ref {alias} }}] }}",
            f"  {prefix}InvokePermission:",
            "    Type: AWS::Lambda::Permission",
            *cond,
            "    Properties:",
            f"      {{ FunctionName: !Ref {alias}, Action: lambda:InvokeFunction, "
            "Principal: elasticloadbalancing.amazonaws.com, SourceAccount: !Ref AWS::AccountId,",
            "        SourceArn: !Sub [\"arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:"
            "${AWS::AccountId}:"
            f'targetgroup/inference-{short}-${{Suffix}}/*", {{ Suffix: {STACK_SUFFIX} }}] }}']


def _log_group(function: str) -> list[str]:
    # No YAML anchor for the repeated list: CloudFormation's own parser does not take aliases.
    return [f"  {function}LogGroup:",
            "    Type: AWS::Logs::LogGroup",
            "    Metadata: { checkov: { skip: [" + ", ".join(
                f'{{ id: {check}, comment: "{why}" }}' for check, why in LOG_GROUP_SKIPS) + "] } }",
            f'    Properties: {{ LogGroupName: !Sub "/aws/lambda/${{{function}}}", '
            "RetentionInDays: !Ref LogRetentionDays }"]


def _model_function(model: ServedModel) -> list[str]:
    # An example's list is not functions/inference/models.json, which the image carries by default.
    context_path = registry_in_context(model)
    registry = ((REGISTRY_BUILD_ARG, context_path),) if context_path else ()
    pairs = ", ".join(f"{k}: {json.dumps(v)}" for k, v in (*model.docker_build_args, *registry))
    build_args = [f"      DockerBuildArgs: {{ {pairs} }}"] if pairs else []
    timeout = [f"      Timeout: {model.timeout_s}"] if model.timeout_s else []
    timeout_text = str(model.timeout_s) if model.timeout_s else "${FunctionTimeout}"
    return [
        f"  {model.id}Function:",
        "    Type: AWS::Serverless::Function",
        "    Metadata:",
        "      DockerContext: .",
        "      Dockerfile: functions/inference/Dockerfile",
        "      DockerTag: python3.12-v1",
        *build_args,
        "      checkov: { skip: [",
        *[f'          {{ id: {check}, comment: "{why}" }}{"] }" if i == len(MODEL_FUNCTION_SKIPS) - 1 else ","}'
          for i, (check, why) in enumerate(MODEL_FUNCTION_SKIPS)],
        "    Properties:",
        f"      Description: Inference, model {model.name} (its own function, standard tier, {model.path}/).",
        "      PackageType: Image",
        "      AutoPublishAliasAllProperties: true",
        f"      MemorySize: {model.memory_mb}",
        # Its own CodeDeploy deployment: the alias moves only after its hook warmed the new version (as the tiers).
        f"      DeploymentPreference: {{ Type: AllAtOnce, Hooks: {{ PreTraffic: !Ref {model.id}PreTrafficFunction }}, "
        f"Alarms: [!Ref {model.id}ColdStartAlarm, !Ref TargetErrorsAlarm] }}",
        *timeout,
        "      EphemeralStorage: { Size: !Ref EphemeralStorageSize }",
        # A change of any resolved value must replace the version (see StandardFunction's comment).
        f"      VersionDescription: !Sub model={model.name} memory={model.memory_mb} timeout={timeout_text} "
        "tmp=${EphemeralStorageSize} log=${LogLevel} metrics=${MetricsNamespace}",
        "      Environment:",
        "        Variables:",
        "          LATENCY_TIER: standard",
        f"          MODEL_NAME: {model.name}",
        '          MODEL_CACHE_MAX_MB: "0"',
        f"          POWERTOOLS_SERVICE_NAME: {model.service}",
        "      Policies:",
        "        - !If [HasModelBucket, { Statement: [",
        '            { Sid: ReadPublishedModelsOnly, Effect: Allow, Action: s3:GetObject, Resource: !Sub '
        '"arn:${AWS::Partition}:s3:::${ModelBucket}/${ModelPrefix}*" },',
        "            !If [HasModelBucketKmsKey, { Sid: DecryptModelsThroughS3Only, Effect: Allow, Action: kms:Decrypt, "
        "Resource: !Ref ModelBucketKmsKeyArn,",
        '                                         Condition: { StringEquals: { kms:ViaService: !Sub '
        '"s3.${AWS::Region}.${AWS::URLSuffix}" } } }, !Ref AWS::NoValue]] },',
        "          !Ref AWS::NoValue]",
    ]


# The hooks' checkov skips (the tier hooks' reasons, template.yaml's StandardPreTrafficFunction).
HOOK_SKIPS = (
    ("CKV_AWS_116", "Invoked synchronously by CodeDeploy, which waits for its verdict; nothing to dead-letter."),
    ("CKV_AWS_117", "Calls only the Lambda and CodeDeploy APIs; a VPC would add ENIs and endpoints for no gain."),
    ("CKV_AWS_115", "Runs once per deploy; reserving concurrency would take it from the account pool."),
    ("CKV_AWS_173", "The environment holds a version ARN and counts, no secret; encrypted at rest with an AWS-managed "
                    "key."),
)
#: The hook's smoke /predict body per task (functions/pretraffic's default, {"inputs": [...]}, is the embeddings and
#: classification shape; a reranker takes a query and documents).
SMOKE_BODIES = {"reranking": '{"query": "pre-traffic smoke test", "documents": ["a document", "another"]}'}


def _model_hook(model: ServedModel) -> list[str]:
    task = dict(model.docker_build_args).get("TASK", "embeddings")
    smoke = [f"          PRETRAFFIC_SMOKE_BODY: '{SMOKE_BODIES[task]}'"] if task in SMOKE_BODIES else []
    return [
        f"  {model.id}PreTrafficFunction:",
        "    Type: AWS::Serverless::Function",
        "    Metadata:",
        "      checkov: { skip: [",
        *[f'          {{ id: {check}, comment: "{why}" }}{"] }" if i == len(HOOK_SKIPS) - 1 else ","}'
          for i, (check, why) in enumerate(HOOK_SKIPS)],
        "    Properties:",
        f"      Description: Warms and smoke-tests model {model.name}'s new version before CodeDeploy moves its alias.",
        # CodeDeployHook_*: the only functions SAM's CodeDeploy role may invoke.
        f'      FunctionName: !Join ["_", [CodeDeployHook, {model.short}, {STACK_SUFFIX}]]',
        "      CodeUri: functions/pretraffic/",
        "      Handler: app.handler",
        "      Runtime: python3.12",
        "      MemorySize: 256",
        "      Timeout: 900",
        "      Layers: [!Ref RuntimeLayer]",
        "      Role: !GetAtt ModelsPreTrafficRole.Arn",
        "      Environment:",
        "        Variables:",
        "          PRETRAFFIC_TIER: standard",
        '          PRETRAFFIC_TIMEOUT_S: "840"',
        "          WARM_HOLD_MS: !Ref WarmHoldMs",
        f"          PRETRAFFIC_VERSION_ARN: !Ref {model.id}Function.Version",
        "          PRETRAFFIC_WARM_COUNT: !Ref StandardWarmCount",
        '          PRETRAFFIC_WAIT_PROVISIONED: "false"',
        *smoke,
        f"          POWERTOOLS_SERVICE_NAME: pretraffic-{model.short}",
    ]


def _models_hook_role(models: tuple[ServedModel, ...]) -> list[str]:
    """The served models' hooks' role: as PreTrafficRole, on the served functions' versions only."""
    functions = ", ".join(f'!Sub "${{{m.id}Function.Arn}}:*"' for m in models)
    return ["  ModelsPreTrafficRole:",
            "    Type: AWS::IAM::Role",
            "    Properties:",
            "      Description: The served models' PreTraffic hooks'",
            "      AssumeRolePolicyDocument: { Version: \"2012-10-17\", Statement: [{ Effect: Allow, Principal: "
            "{ Service: lambda.amazonaws.com }, Action: sts:AssumeRole }] }",
            '      ManagedPolicyArns: [!Sub "arn:${AWS::Partition}:iam::aws:policy/service-role/'
            'AWSLambdaBasicExecutionRole"]',
            "      Policies:",
            "        - PolicyName: verdict-on-new-versions",
            "          PolicyDocument:",
            '            Version: "2012-10-17"',
            "            Statement:",
            "              - { Sid: ReportTheVerdict, Effect: Allow, "
            "Action: codedeploy:PutLifecycleEventHookExecutionStatus,",
            '                  Resource: !Sub "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:'
            'deploymentgroup:${ServerlessDeploymentApplication}/*" }',
            "              - { Sid: WarmTheModelsVersions, Effect: Allow, Action: lambda:InvokeFunction,",
            f"                  Resource: [{functions}] }}"]


def _model_rule(model: ServedModel) -> list[str]:
    return [f"  {model.id}Rule:",
            "    Type: AWS::ElasticLoadBalancingV2::ListenerRule",
            "    Properties:",
            "      ListenerArn: !If [HasCertificate, !Ref HttpsListener, !Ref HttpListener]",
            f"      Priority: {model.priority}",
            "      Conditions: [{ Field: path-pattern, PathPatternConfig: { Values: "
            f"[{model.path}, {model.path}/*] }} }}]",
            f"      Actions: [{{ Type: forward, TargetGroupArn: !Ref {model.id}TargetGroup }}]"]


def _metric(name: str, model: ServedModel) -> str:
    return (f"{{ Namespace: !Ref MetricsNamespace, MetricName: {name}, Dimensions: [{{ Name: service, Value: "
            f"{model.service} }}, {{ Name: function, Value: !Ref {model.id}Function }}, "
            "{ Name: tier, Value: standard }, "
            "{ Name: init_type, Value: on-demand }] }")


def _model_alarm(model: ServedModel) -> list[str]:
    return [f"  {model.id}ColdStartAlarm:",
            "    Type: AWS::CloudWatch::Alarm",
            "    Properties:",
            f"      AlarmDescription: !Sub A user of model {model.name} waited longer than ${{ColdStartSlaMs}} ms "
            'for a cold environment (init + first request). The init log line ("event":"init") has the phase trace.',
            "      Metrics:",
            '        - { Id: wait, Expression: "FILL(init, 0) + FILL(first, 0)", Label: init + first request (ms), '
            "ReturnData: true }",
            f"        - {{ Id: init, ReturnData: false, MetricStat: {{ Period: 300, Stat: Maximum, Metric: "
            f"{_metric('InitDuration', model)} }} }}",
            f"        - {{ Id: first, ReturnData: false, MetricStat: {{ Period: 300, Stat: Maximum, Metric: "
            f"{_metric('ColdRequestLatency', model)} }} }}",
            "      EvaluationPeriods: 1",
            "      Threshold: !Ref ColdStartSlaMs",
            "      ComparisonOperator: GreaterThanThreshold",
            "      TreatMissingData: notBreaching",
            "      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]"]


def _models_dashboard(models: tuple[ServedModel, ...]) -> list[str]:
    """One dashboard for the served models: a row each, what a user meeting a cold environment waits for."""
    widgets = []
    for row, model in enumerate(models):
        dims = (f'"service", "{model.service}", "function", "${{{model.id}Function}}", "tier", "standard", '
                '"init_type", "on-demand"')
        widgets.append(
            f'{{"type": "metric", "x": 0, "y": {row * 6}, "width": 24, "height": 6, "properties": {{'
            f'"title": "Model {model.name}: init and first request of a cold environment (ms, max)", '
            '"view": "timeSeries", "region": "${AWS::Region}", "period": 300, "stat": "Maximum", "metrics": ['
            f'["${{MetricsNamespace}}", "InitDuration", {dims}], '
            f'["${{MetricsNamespace}}", "ColdRequestLatency", {dims}]], '
            '"annotations": {"horizontal": [{"label": "SLA", "value": ${ColdStartSlaMs}}]}}}')
    return ["  ModelsDashboard:",
            "    Type: AWS::CloudWatch::Dashboard",
            "    Properties:",
            "      DashboardName: !Sub ${AWS::StackName}-${AWS::Region}-models",
            "      DashboardBody: !Sub |",
            '        {"widgets": [',
            *[f"          {widget}{',' if i < len(widgets) - 1 else ''}" for i, widget in enumerate(widgets)],
            "        ]}"]


def model_resources(models: tuple[ServedModel, ...]) -> str:
    """Every served model's function, log group, target group, permission, listener rule and alarm; their dashboard."""
    if not models:
        return ""
    lines = ["  # The models with a function of their own (models.json's \"serve\"; tools/template/models.py): each",
             "  # behind /models/<name>, on demand (the standard tier), kept warm and alarmed as the standard tier."]
    for model in models:
        lines += [*_model_function(model), *_log_group(f"{model.id}Function"),
                  *_target_group(model.id, model.short, f"{model.id}Function.Alias", None),
                  *_model_rule(model), *_model_alarm(model), *_model_hook(model),
                  *_log_group(f"{model.id}PreTrafficFunction")]
    lines += [*_models_hook_role(models), *_models_dashboard(models)]
    return "\n".join(lines) + "\n"


def keepwarm_targets(models: tuple[ServedModel, ...]) -> str:
    """WARM_TARGETS: keep-warm's targets beyond the tiers' own variables, one per served model."""
    if not models:
        return ""
    entries = ", ".join(
        f'{{"model": "{m.name}", "tier": "standard", "function": "${{{m.id}}}", '
        f'"count": ${{StandardWarmCount}}, "service": "{m.service}"}}' for m in models)
    refs = ", ".join(f"{m.id}: !Ref {m.id}Function.Alias" for m in models)
    return f"          WARM_TARGETS: !Sub ['[{entries}]', {{ {refs} }}]\n"


def keepwarm_invoke(models: tuple[ServedModel, ...]) -> str:
    """Keep-warm may invoke each served model's alias, and nothing else of it."""
    if not models:
        return ""
    refs = ", ".join(f"!Ref {m.id}Function.Alias" for m in models)
    return ("        - Statement: [{ Sid: InvokeTheModelAliasesOnly, Effect: Allow, Action: lambda:InvokeFunction, "
            f"Resource: [{refs}] }}]\n")


REGIONS: dict[str, Callable[[tuple[ServedModel, ...]], str]] = {
    "capacity-rules": lambda _: rules_yaml(),
    "front-door-targets": lambda _: front_door_targets(),
    "log-groups": lambda _: log_groups(),
    "tier-outputs": lambda _: tier_outputs(),
    "models": lambda models: model_resources(models),
    "keepwarm-targets": lambda models: keepwarm_targets(models),
    "keepwarm-invoke": lambda models: keepwarm_invoke(models),
}
# A region's markers may sit at any indentation (keep-warm's are inside its function); both at the same.
_REGION = re.compile(r"^(?P<begin>(?P<indent> *)# >>> generated: (?P<name>[a-z-]+)\b[^\n]*\n)(?P<body>.*?)"
                     r"(?P<end>^(?P=indent)# <<< generated: (?P=name)\n)", re.M | re.S)


class TemplateRegionError(ValueError):
    """Raised when template.yaml lacks a region the generator writes, or has one it does not know."""


def render(text: str, models: tuple[ServedModel, ...] = ()) -> str:
    """``text`` with every generated region rewritten, for the served ``models``."""
    seen: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in REGIONS:
            raise TemplateRegionError(f"template.yaml has a region {name!r} that tools/template/generate.py "
                                      f"does not write; known: {', '.join(REGIONS)}")
        seen.append(name)
        return match["begin"] + REGIONS[name](models) + match["end"]

    rendered = _REGION.sub(fill, text)
    missing = [name for name in REGIONS if name not in seen]
    if missing:
        raise TemplateRegionError(f"template.yaml lacks the generated region(s) {', '.join(missing)}: put back "
                                  "their '# >>> generated: <name>' and '# <<< generated: <name>' lines")
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is not current")
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS,
                        help="the model list (default functions/inference/models.json)")
    parser.add_argument("--out", type=Path, default=TEMPLATE, help="where to write (default template.yaml)")
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS_DIR,
                        help="where built artifacts (and their recorded init) are found, by model name "
                             "(default build/artifacts)")
    args = parser.parse_args(argv)
    try:
        models = served_models(args.models)
        for model in models:
            registry_in_context(model)
        # A served model's function is on demand: its init must fit Lambda's 10 s (tools/template/init_budget.py).
        check_served(tuple((model.name, model.memory_mb) for model in models), args.artifacts)
    except (ModelListError, InitBudgetError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.out.resolve() == TEMPLATE and args.models.resolve() != DEFAULT_MODELS:
        # template.yaml is the default list's; an example's template goes beside its list.
        print("--models other than functions/inference/models.json needs --out (template.yaml is the default "
              "list's)", file=sys.stderr)
        return 2
    rendered = render(TEMPLATE.read_text(), models)
    current = args.out.read_text() if args.out.exists() else ""
    if args.check:
        if rendered != current:
            print(f"{args.out} is not current: run `make template`", file=sys.stderr)
            return 1
        return 0
    if rendered != current:
        # Atomic: a reader never sees half a template.
        with tempfile.NamedTemporaryFile("w", dir=args.out.parent, delete=False, suffix=".tmp") as out:
            out.write(rendered)
        os.replace(out.name, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
