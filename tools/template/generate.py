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
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tools.template.capacity_rules import rules_yaml
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
        condition = [f"    Condition: {tier.condition}"] if tier.condition else []
        lines += [f"  {tier.prefix}TargetGroup:",
                  "    Type: AWS::ElasticLoadBalancingV2::TargetGroup",
                  *condition,
                  f"    DependsOn: {tier.prefix}InvokePermission",
                  f'    Properties: {{ Name: !Join ["-", [inference-{tier.short}, {STACK_SUFFIX}]], '
                  f"TargetType: lambda, HealthCheckEnabled: false, Targets: [{{ Id: !Ref {tier.alias} }}] }}",
                  f"  {tier.prefix}InvokePermission:",
                  "    Type: AWS::Lambda::Permission",
                  *condition,
                  "    Properties:",
                  f"      {{ FunctionName: !Ref {tier.alias}, Action: lambda:InvokeFunction, "
                  "Principal: elasticloadbalancing.amazonaws.com, SourceAccount: !Ref AWS::AccountId,",
                  "        SourceArn: !Sub [\"arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:"
                  "${AWS::AccountId}:"
                  f'targetgroup/inference-{tier.short}-${{Suffix}}/*", {{ Suffix: {STACK_SUFFIX} }}] }}']
    return "\n".join(lines) + "\n"


def log_groups() -> str:
    """A log group with retention for each SAM function, under the name Lambda writes to."""
    lines = []
    for function, _, _ in LOGGED_FUNCTIONS:
        lines += [f"  {function}LogGroup:",
                  "    Type: AWS::Logs::LogGroup",
                  # No YAML anchor for the repeated list: CloudFormation's own parser does not take aliases.
                  "    Metadata: { checkov: { skip: [" + ", ".join(
                      f'{{ id: {check}, comment: "{why}" }}' for check, why in LOG_GROUP_SKIPS) + "] } }",
                  f'    Properties: {{ LogGroupName: !Sub "/aws/lambda/${{{function}}}", '
                  "RetentionInDays: !Ref LogRetentionDays }"]
    return "\n".join(lines) + "\n"


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


REGIONS: dict[str, Callable[[], str]] = {
    "capacity-rules": rules_yaml,
    "front-door-targets": front_door_targets,
    "log-groups": log_groups,
    "tier-outputs": tier_outputs,
}
_REGION = re.compile(r"^(?P<begin>  # >>> generated: (?P<name>[a-z-]+)\b[^\n]*\n)(?P<body>.*?)"
                     r"(?P<end>^  # <<< generated: (?P=name)\n)", re.M | re.S)


class TemplateRegionError(ValueError):
    """Raised when template.yaml lacks a region the generator writes, or has one it does not know."""


def render(text: str) -> str:
    """``text`` with every generated region rewritten."""
    seen: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in REGIONS:
            raise TemplateRegionError(f"template.yaml has a region {name!r} that tools/template/generate.py "
                                      f"does not write; known: {', '.join(REGIONS)}")
        seen.append(name)
        return match["begin"] + REGIONS[name]() + match["end"]

    rendered = _REGION.sub(fill, text)
    missing = [name for name in REGIONS if name not in seen]
    if missing:
        raise TemplateRegionError(f"template.yaml lacks the generated region(s) {', '.join(missing)}: put back "
                                  "their '# >>> generated: <name>' and '# <<< generated: <name>' lines")
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if template.yaml is not current")
    args = parser.parse_args(argv)
    current = TEMPLATE.read_text()
    rendered = render(current)
    if args.check:
        if rendered != current:
            print("template.yaml is not current: run `make template`", file=sys.stderr)
            return 1
        return 0
    if rendered != current:
        # Atomic: a reader never sees half a template.
        with tempfile.NamedTemporaryFile("w", dir=TEMPLATE.parent, delete=False, suffix=".tmp") as out:
            out.write(rendered)
        os.replace(out.name, TEMPLATE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
