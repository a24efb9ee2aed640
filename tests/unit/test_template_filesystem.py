"""ModelFileSystem=efs: the CPU tiers mount an EFS access point read-only, in a VPC; never with SnapStart.

The template is translated offline by SAM's own translator (tests/cfn.py) and evaluated with
concrete parameter values, as CloudFormation would receive it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.cfn import Evaluator, deployed, parameter_values, source_template

ACCESS_POINT = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"
EFS = {"ModelFileSystem": "efs", "ModelFileSystemAccessPointArn": ACCESS_POINT,
       "ModelFileSystemSubnetIds": "subnet-0ccc,subnet-0ddd"}
CPU_FUNCTIONS = ("StandardFunction", "PremiumFunction")


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return source_template()



def function(template: dict[str, Any], evaluate: Evaluator, name: str) -> dict[str, Any]:
    return evaluate.value(template["Resources"][name]["Properties"])


def test_by_default_the_functions_stay_outside_any_vpc_and_mount_nothing(source: dict[str, Any]) -> None:
    template, evaluate = deployed(source)
    for name in CPU_FUNCTIONS:
        properties = function(template, evaluate, name)
        assert "VpcConfig" not in properties and "FileSystemConfigs" not in properties
    assert not evaluate.active("ModelFileSystemSecurityGroup")


def test_efs_mounts_the_access_point_read_only_on_both_cpu_tiers(source: dict[str, Any]) -> None:
    template, evaluate = deployed(source, **EFS)
    assert evaluate.active("ModelFileSystemSecurityGroup")
    for name in CPU_FUNCTIONS:
        properties = function(template, evaluate, name)
        assert properties["FileSystemConfigs"] == [{"Arn": ACCESS_POINT, "LocalMountPath": "/mnt/models"}]
        assert properties["VpcConfig"]["SubnetIds"] == ["subnet-0ccc", "subnet-0ddd"]
    # AND both functions' roles may mount it, read-only: ClientMount without ClientWrite (where the file
    # system has a policy; without one EFS lets any client in, which cache/mounted.py's copy covers)
    assert evaluate.active("ModelFileSystemMountPolicy")
    roles = template["Resources"]["ModelFileSystemMountPolicy"]["Properties"]["Roles"]
    assert roles == [{"Ref": f"{name}Role"} for name in CPU_FUNCTIONS]
    assert all(template["Resources"][f"{name}Role"]["Type"] == "AWS::IAM::Role" for name in CPU_FUNCTIONS)
    policy = evaluate.value(template["Resources"]["ModelFileSystemMountPolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "elasticfilesystem:ClientMount"
    assert statement["Condition"] == {"StringEquals": {"elasticfilesystem:AccessPointArn": ACCESS_POINT}}
    # AND the security group lets nothing in, and out only NFS and HTTPS
    group = evaluate.value(template["Resources"]["ModelFileSystemSecurityGroup"]["Properties"])
    assert "SecurityGroupIngress" not in group
    assert sorted(rule["FromPort"] for rule in group["SecurityGroupEgress"]) == [443, 2049]


def test_without_its_own_subnets_the_functions_use_the_load_balancers(source: dict[str, Any]) -> None:
    template, evaluate = deployed(source, ModelFileSystem="efs", ModelFileSystemAccessPointArn=ACCESS_POINT)
    assert function(template, evaluate, "StandardFunction")["VpcConfig"]["SubnetIds"] == ["subnet-0aaa", "subnet-0bbb"]


def test_rules_refuse_efs_with_snapstart_or_without_an_access_point(source: dict[str, Any]) -> None:
    def refusals(**overrides: str) -> list[str]:
        return Evaluator(source, parameter_values(source, **overrides)).rules_refusing()

    assert refusals(**EFS) == []
    (why,) = refusals(**EFS, StandardSnapStart="true")
    assert "SnapStart does not support Amazon EFS" in why
    (why,) = refusals(ModelFileSystem="efs")
    assert "needs ModelFileSystemAccessPointArn" in why


def test_turning_the_file_system_on_publishes_new_versions(source: dict[str, Any]) -> None:
    # VpcConfig and FileSystemConfigs are behaviour SAM's version hash does not see resolved: the
    # description must change, or the live alias would keep serving the version without the mount.
    before, before_eval = deployed(source)
    after, after_eval = deployed(source, **EFS)
    for name in CPU_FUNCTIONS:
        alias = f"{name}Aliaslive"
        descriptions = []
        for template, evaluate in ((before, before_eval), (after, after_eval)):
            version = template["Resources"][alias]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
            descriptions.append(evaluate.value(template["Resources"][version]["Properties"]["Description"]))
        assert descriptions[0].endswith("fs=none:none/mnt/models")
        assert descriptions[1].endswith("fs=efs:fsap-0123456789abcdef0/mnt/models")
        assert len(descriptions[1]) <= 256
