"""Offline CloudFormation: translate template.yaml with SAM, then evaluate it.

Used by the template tests (through tests/cfn.py) and by tools that reason about what a
parameter set deploys (tools/cost), so both read the same translation.

``translate`` runs the SAM transform (samtranslator, the same version the SAM CLI uses)
with the given parameter values, the way `sam deploy` would after packaging: the
image functions get an ImageUri (the GPU tier's plain AWS::Lambda::Function, an image of its
own Dockerfile target) and the layer an S3 location. ``Evaluator`` resolves
what CloudFormation resolves at deploy time, for the intrinsics this template uses
(Ref, Fn::If, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::GetAtt, Fn::FindInMap,
conditions, and the Rules functions, EachMemberEquals too), so tests can compare what two
parameter sets or two stacks would really create. A Ref to a resource resolves to the physical name CloudFormation would
generate for it in that stack (``<stack>-<LogicalId>-<suffix>``).
"""

from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parents[2]

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fast-inference:{tag}"
LAYER_URI = "s3://sam-artifacts/fast-inference/{key}"
REQUIRED = {"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0aaa,subnet-0bbb",
            # used only with GpuTier=true, which Rules refuse without them
            "GpuImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fast-inference-gpu:runtime-gpu-v1",
            "GpuSubnetIds": "subnet-0ccc,subnet-0ddd"}


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def source_template() -> dict[str, Any]:
    return yaml_parse((REPO_ROOT / "template.yaml").read_text())


def parameter_values(template: dict[str, Any], **overrides: str) -> dict[str, str]:
    """Every parameter's default, the required ones filled in, then ``overrides``."""
    values = {name: str(p["Default"]) for name, p in template["Parameters"].items() if "Default" in p}
    values.update(REQUIRED)
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def translate(params: dict[str, str], *, image_tag: str = "v1", layer_key: str = "layer-1.zip",
              template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would submit for these parameter values."""
    source = copy.deepcopy(template or source_template())
    for resource in source["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
            properties["ImageUri"] = IMAGE_URI.format(tag=image_tag)
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = LAYER_URI.format(key=layer_key)
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = LAYER_URI.format(key="keepwarm.zip")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(source, dict(params), _NoManagedPolicies())


@dataclass(frozen=True)
class Stack:
    """Where a template is deployed: the pseudo parameters' values."""

    name: str = "fast-inference"
    region: str = "us-east-1"
    account: str = "123456789012"
    uuid: str = "1a2b3c4d-0000-4000-8000-00000000abcd"

    @property
    def stack_id(self) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.name}/{self.uuid}"


class Evaluator:
    """Resolve intrinsics of a translated template for one stack and parameter set."""

    def __init__(self, template: dict[str, Any], params: dict[str, str], stack: Stack = Stack()) -> None:
        self.template = template
        self.params = params
        self.stack = stack
        self._conditions: dict[str, bool] = {}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::StackName": self.stack.name, "AWS::Region": self.stack.region,
            "AWS::AccountId": self.stack.account, "AWS::StackId": self.stack.stack_id,
            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.params:
            kind = str(self.template.get("Parameters", {}).get(name, {}).get("Type", ""))
            if kind.startswith("List<") or kind == "CommaDelimitedList":
                return self.params[name].split(",")   # CloudFormation hands these over as lists
            return self.params[name]
        resource = self.template.get("Resources", {}).get(name)
        if resource is not None and resource["Type"] == "AWS::Lambda::LayerVersion":
            # A layer version's Ref is its ARN, which ends in the layer's name and version number.
            layer = self.value(resource["Properties"].get("LayerName", name))
            # SAM names the resource after a hash of the content: new content, new version number.
            version = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
            return f"arn:aws:lambda:{self.stack.region}:{self.stack.account}:layer:{layer}:{version}"
        if resource is not None:
            return f"{self.stack.name}-{name}-{self.stack.uuid[:8]}"
        raise KeyError(f"Ref to unknown {name}")

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def active(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def value(self, node: Any) -> Any:  # noqa: C901 (one branch per intrinsic)
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                left, right = (str(self.value(a)) for a in arg)
                return left == right
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Fn::Contains":
                values, needle = arg
                return str(self.value(needle)) in [str(v) for v in self.value(values)]
            if key == "Fn::EachMemberEquals":
                values, needle = arg
                return all(str(v) == str(self.value(needle)) for v in self.value(values))
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(v) for v in self.value(items))
            if key == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.value(text)).split(separator)
            if key == "Fn::FindInMap":
                mapping, top, second = (self.value(a) for a in arg)
                return self.template["Mappings"][mapping][top][second]
            if key == "Fn::GetAtt":
                target, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return f"{self.ref(target)}.{attribute}"
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                resolved = {k: self.value(v) for k, v in variables.items()}
                return _substitute(text, lambda name: resolved[name] if name in resolved else self._sub_name(name))
        result = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in result.items() if v is not _NO_VALUE}

    def _sub_name(self, name: str) -> str:
        if "." in name and not name.startswith("AWS::"):
            target, attribute = name.split(".", 1)
            return f"{self.ref(target)}.{attribute}"
        return str(self.ref(name))

    def rules_refusing(self) -> list[str]:
        """The AssertDescriptions of every Rule assertion these parameters fail."""
        failed = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            failed += [a["AssertDescription"] for a in rule["Assertions"] if not self.value(a["Assert"])]
        return failed


class _NoValueType:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValueType()


def _substitute(text: str, lookup: Any) -> str:
    out, i = [], 0
    while i < len(text):
        if text.startswith("${!", i):
            out.append("${")
            i += 3
        elif text.startswith("${", i):
            end = text.index("}", i)
            out.append(str(lookup(text[i + 2:end])))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
