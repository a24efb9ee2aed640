"""`sam build` proven: `make sam-build` (the pinned SAM CLI, Python 3.12) builds the template's
zip parts, and what it built runs under the Lambda Runtime Interface Emulator as Lambda runs
it: the built KeepWarmFunction (app.py and its package ``warming``) as the task root, the built
RuntimeLayer's python/ (the shared core, ``lambda_shared``) where Lambda mounts a layer
(/opt/python), and nothing else but Python 3.12 and what the Lambda runtime
provides (awslambdaric, boto3); it pings both tiers of a local deployment through the Lambda
Invoke API. The image functions need Docker: test_image_tree.py stands in for their build."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.helpers import REPO_ROOT, load_event
from tools.local.deployment import LocalDeployment
from tools.local.emulator import INVOKE_PATH, EmulatedFunction, FunctionSpec, function_error
from tools.local.image_tree import build_base_dir, lambda_python
from tools.local.invoke import keepwarm_environment

pytestmark = pytest.mark.integration

SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make sam-build` into a directory of its own; what make test guarantees is asserted, not skipped on."""
    assert os.access(SAM, os.X_OK), f"{SAM} is missing: `make setup` installs the pinned SAM CLI"
    lambda_python()     # raises, saying how to fix it, when no Python 3.12 is found
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    # A make above us (make test) must not lend this one its jobserver; -o: no setup from here.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "--no-print-directory", "-o", ".stamps/sam-venv", "sam-build",
                          f"SAM_BUILD_DIR={build_dir}"], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and "Build Succeeded" in out.stdout, out.stdout + out.stderr
    return build_dir


def built_template(build_dir: Path) -> dict[str, Any]:
    return cfn_yaml.load(str(build_dir / "template.yaml"))


def test_one_sam_build_of_keepwarm_builds_its_layer_too(build_dir: Path) -> None:
    # GIVEN `make sam-build`, one `sam build KeepWarmFunction` (the fixture ran it)
    resources = built_template(build_dir)["Resources"]
    keepwarm, layer = resources["KeepWarmFunction"]["Properties"], resources["RuntimeLayer"]["Properties"]
    # THEN both zip parts were built, and the built template points at what was built
    assert sorted(p.name for p in build_dir.iterdir() if p.is_dir()) == ["KeepWarmFunction", "RuntimeLayer"]
    assert (keepwarm["CodeUri"], keepwarm["Runtime"], keepwarm["Layers"]) == \
        ("KeepWarmFunction", "python3.12", [{"Ref": "RuntimeLayer"}])
    assert layer["ContentUri"] == "RuntimeLayer"
    # AND they hold the sources: the function's code with its package, and the shared core under python/
    for source, built in ((REPO_ROOT / "keepwarm", build_dir / "KeepWarmFunction"),
                          (REPO_ROOT / "layers" / "shared" / "lambda_shared",
                           build_dir / "RuntimeLayer" / "python" / "lambda_shared")):
        modules = sorted(p.relative_to(source) for p in source.rglob("*.py"))
        assert modules and modules == sorted(p.relative_to(built) for p in built.rglob("*.py"))
        assert all((built / m).read_bytes() == (source / m).read_bytes() for m in modules)
    # AND no inference code: the layer is the core alone
    assert not list((build_dir / "RuntimeLayer").rglob("inference_runtime"))


def test_the_built_keepwarm_pings_both_tiers_under_the_emulator(build_dir: Path, artifact_dir: Path) -> None:
    # GIVEN the built function as Lambda runs it: its code at the task root, the built layer's
    # python/ as /opt/python, the Lambda runtime's own packages, and no venv
    resources = built_template(build_dir)["Resources"]
    properties = resources["KeepWarmFunction"]["Properties"]
    layer_dir = build_dir / resources["RuntimeLayer"]["Properties"]["ContentUri"] / "python"
    spec = FunctionSpec("KeepWarmFunction", build_dir / properties["CodeUri"], properties["Handler"],
                        memory_mb=properties["MemorySize"], python_path=(layer_dir, build_base_dir()),
                        python=lambda_python(), isolated=True)
    # AND both tiers in a local deployment, keep-warm asked for the template's default counts
    with LocalDeployment(max_environments=2, prewarm_premium=False) as deployment:
        env = keepwarm_environment(deployment, standard=2, premium=1)
        with EmulatedFunction(spec, env=env) as keepwarm:
            # WHEN the schedule's event arrives through the Lambda Invoke API
            connection = http.client.HTTPConnection("127.0.0.1", keepwarm.port, timeout=120)
            connection.request("POST", INVOKE_PATH, body=json.dumps(load_event("keepwarm-schedule.json")),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            status, payload = response.status, response.read()
            connection.close()
            logs = keepwarm.logs()
    # THEN it answers 200, and every ping of each tier was answered, cold, by its own environment
    assert status == 200 and function_error(payload) is None, (status, payload, logs)
    tiers = json.loads(payload)["tiers"]
    assert {tier: (t["requested"], t["answered"], t["distinct_instances"], t["cold"], t["errors"])
            for tier, t in tiers.items()} == {"standard": (2, 2, 2, 2, []), "premium": (1, 1, 1, 1, [])}, logs


def test_the_built_function_imports_the_built_layer_and_nothing_of_this_machine(build_dir: Path) -> None:
    # GIVEN the interpreter and environment the emulator gives the built function
    resources = built_template(build_dir)["Resources"]
    code_dir = build_dir / resources["KeepWarmFunction"]["Properties"]["CodeUri"]
    layer_dir = build_dir / "RuntimeLayer" / "python"
    base_dir = build_base_dir()
    spec = FunctionSpec("KeepWarmFunction", code_dir, "app.handler", python_path=(layer_dir, base_dir),
                        python=lambda_python(), isolated=True)
    probe = ("import importlib.util, json\n"
             "names = ['lambda_shared', 'warming', 'inference_runtime', 'boto3', 'awslambdaric',"
             " 'aws_lambda_powertools', 'numpy']\n"
             "print(json.dumps({n: (s.origin if (s := importlib.util.find_spec(n)) else None) for n in names}))\n")
    # WHEN it looks for its packages from its task root
    out = subprocess.run([spec.python or "python-not-set", "-c", probe], cwd=code_dir,
                         env=EmulatedFunction(spec).environment(), capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    # THEN the shared core comes from the built layer, keep-warm's package from its code, boto3 from
    # the runtime, and nothing it does not ship (the inference runtime, Powertools, numpy) can be
    # imported by accident
    assert Path(found["lambda_shared"]).is_relative_to(layer_dir)
    assert Path(found["warming"]).is_relative_to(code_dir)
    assert found["inference_runtime"] is None
    assert Path(found["boto3"]).is_relative_to(base_dir) and Path(found["awslambdaric"]).is_relative_to(base_dir)
    assert found["aws_lambda_powertools"] is None and found["numpy"] is None
