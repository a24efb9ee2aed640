"""`sam build` proven: `make sam-build` (the pinned SAM CLI, Python 3.12) builds the template's
zip parts, and what it built runs under the Lambda Runtime Interface Emulator as Lambda runs
it: the built function (KeepWarmFunction: app.py and its package ``warming``;
StandardPreTrafficFunction: app.py and its package ``pretraffic``) as the task root, the built
RuntimeLayer's python/ (the shared core, ``lambda_shared``) where Lambda mounts a layer
(/opt/python), and nothing else but Python 3.12 and what the Lambda runtime
provides (awslambdaric, boto3). Built keep-warm pings both tiers of a local deployment through
the Lambda Invoke API; the built hook warms and smoke-tests the standard tier's fleet and reports
to a loopback CodeDeploy. The image functions need Docker: test_image_tree.py stands in for their
build."""

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
#: What `make sam-build` builds: (its folder under the build directory, the function, its sources, its package).
BUILDS = {"keepwarm": ("KeepWarmFunction", REPO_ROOT / "keepwarm", "warming"),
          "pretraffic": ("StandardPreTrafficFunction", REPO_ROOT / "functions" / "pretraffic", "pretraffic")}


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make sam-build` into a directory of its own (one folder per function built); what make test
    guarantees is asserted, not skipped on."""
    assert os.access(SAM, os.X_OK), f"{SAM} is missing: `make setup` installs the pinned SAM CLI"
    lambda_python()     # raises, saying how to fix it, when no Python 3.12 is found
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    # A make above us (make test) must not lend this one its jobserver; -o: no setup from here.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "--no-print-directory", "-o", ".stamps/sam-venv", "sam-build",
                          f"SAM_BUILD_DIR={build_dir}"], cwd=REPO_ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.count("Build Succeeded") == len(BUILDS), out.stdout + out.stderr
    assert sorted(p.name for p in build_dir.iterdir()) == sorted(BUILDS)
    return build_dir


def built_template(build_dir: Path) -> dict[str, Any]:
    return cfn_yaml.load(str(build_dir / "template.yaml"))


def built_spec(build_root: Path, build: str) -> tuple[FunctionSpec, Path, Path]:
    """The built function as Lambda runs it (its code at the task root, the built layer's python/ as
    /opt/python, the Lambda runtime's own packages, no venv); (the spec, its code, its layer)."""
    build_dir = build_root / build
    resources = built_template(build_dir)["Resources"]
    properties = resources[BUILDS[build][0]]["Properties"]
    code_dir = build_dir / properties["CodeUri"]
    layer_dir = build_dir / resources["RuntimeLayer"]["Properties"]["ContentUri"] / "python"
    spec = FunctionSpec(BUILDS[build][0], code_dir, properties["Handler"], memory_mb=properties["MemorySize"],
                        python_path=(layer_dir, build_base_dir()), python=lambda_python(), isolated=True)
    return spec, code_dir, layer_dir


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_one_sam_build_of_a_function_builds_its_layer_too(build_dir: Path, build: str) -> None:
    # GIVEN `make sam-build`: one `sam build <function>` per zip function, each into its own folder
    # (the fixture ran it)
    function, source_dir, _ = BUILDS[build]
    build_dir = build_dir / build
    resources = built_template(build_dir)["Resources"]
    built_function, layer = resources[function]["Properties"], resources["RuntimeLayer"]["Properties"]
    # THEN both zip parts were built, and the built template points at what was built
    assert sorted(p.name for p in build_dir.iterdir() if p.is_dir()) == sorted([function, "RuntimeLayer"])
    assert (built_function["CodeUri"], built_function["Runtime"], built_function["Layers"]) == \
        (function, "python3.12", [{"Ref": "RuntimeLayer"}])
    assert layer["ContentUri"] == "RuntimeLayer"
    # AND they hold the sources: the function's code with its package, and the shared core under python/
    for source, built in ((source_dir, build_dir / function),
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
    spec, _, _ = built_spec(build_dir, "keepwarm")
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


def test_the_built_hook_warms_the_standard_tier_and_reports_under_the_emulator(build_dir: Path,
                                                                              artifact_dir: Path) -> None:
    from tests.integration.test_pretraffic import run_hook

    # GIVEN the built pre-traffic hook as Lambda runs it, and a standard tier with no environment yet
    spec, _, _ = built_spec(build_dir, "pretraffic")
    with LocalDeployment(max_environments=2, prewarm_premium=False) as deployment:
        # WHEN CodeDeploy invokes it for the new version, asking for 2 warm environments
        result, verdicts, logs = run_hook(deployment, warm_count=2, spec=spec)
        inits = deployment.log.events("init", "StandardFunction")
    # THEN CodeDeploy heard Succeeded once, after 2 distinct environments were initialised and named by the verdict
    assert [v["status"] for v in verdicts] == ["Succeeded"], (result, logs)
    assert len({e["environment"] for e in inits}) == 2 and all(e["seq"] <= verdicts[0]["log_seq"] for e in inits)
    assert {e["instance"] for e in inits} == set(result["warm"]["instances"])
    assert result["smoke"]["status"] == 200


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_the_built_function_imports_the_built_layer_and_nothing_of_this_machine(build_dir: Path, build: str) -> None:
    # GIVEN the interpreter and environment the emulator gives the built function
    spec, code_dir, layer_dir = built_spec(build_dir, build)
    base_dir = build_base_dir()
    package = BUILDS[build][2]
    # (the handler's module imported as Lambda's init does, with no setting: what it imports at init is there)
    probe = ("import importlib.util, json, sys\n"
             "import app\n"
             f"names = ['lambda_shared', '{package}', 'inference_runtime', 'boto3', 'awslambdaric',"
             " 'aws_lambda_powertools', 'numpy']\n"
             "found = {n: (s.origin if (s := importlib.util.find_spec(n)) else None) for n in names}\n"
             "found['app'] = app.__file__\n"
             "found['loaded'] = sorted(n for n in sys.modules if n.split('.')[0] == 'inference_runtime')\n"
             "print(json.dumps(found))\n")
    # WHEN it looks for its packages from its task root
    out = subprocess.run([spec.python or "python-not-set", "-c", probe], cwd=code_dir,
                         env=EmulatedFunction(spec).environment(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    # THEN the shared core comes from the built layer, the function's package from its code, boto3 from
    # the runtime, and nothing it does not ship (the inference runtime, Powertools, numpy) can be
    # imported by accident
    assert Path(found["lambda_shared"]).is_relative_to(layer_dir)
    assert Path(found[package]).is_relative_to(code_dir) and Path(found["app"]).is_relative_to(code_dir)
    assert found["inference_runtime"] is None and found["loaded"] == []
    assert Path(found["boto3"]).is_relative_to(base_dir) and Path(found["awslambdaric"]).is_relative_to(base_dir)
    assert found["aws_lambda_powertools"] is None and found["numpy"] is None
