"""The inference image without Docker: functions/inference/Dockerfile's runtime stage carried
out into a file tree (tools/local/image_tree.py), and the function run from that tree alone
under the Lambda Runtime Interface Emulator, with Python 3.12 and what the Lambda base image
provides (awslambdaric, boto3) as its only other packages."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, body, load_event
from tools.local.emulator import EmulatedFunction
from tools.local.image_tree import DOCKERFILE, ImageTree, ImageTreeError, build_image_tree, plan_runtime_stage

pytestmark = pytest.mark.integration

EMBEDDING_DIM = 384   # all-MiniLM-L6-v2


@pytest.fixture(scope="module")
def tree(artifact_dir: Path) -> ImageTree:
    return build_image_tree(artifact_dir=artifact_dir)


def test_the_function_answers_predict_from_the_image_tree(tree: ImageTree) -> None:
    # GIVEN the runtime stage's files, started as the image's CMD says, isolated from every venv
    spec = tree.function_spec("StandardFunction")
    event = load_event("predict.json")
    with EmulatedFunction(spec) as function:
        # WHEN events/predict.json arrives
        result = function.invoke(event)
        logs = function.logs()
    # THEN it answers 200 with one real, L2-normalised embedding per input, from the tree's model
    assert result["statusCode"] == 200, logs
    answer = body(result)
    inputs = json.loads(event["body"])["inputs"]
    assert len(answer["outputs"]) == len(inputs)
    for vector in answer["outputs"]:
        assert len(vector) == EMBEDDING_DIM and all(isinstance(x, float) for x in vector)
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-4)
    assert answer["outputs"][0] != answer["outputs"][1]
    assert answer["model"] == "all-MiniLM-L6-v2" and answer["cold_start"] is True
    assert spec.environment["MODEL_ARTIFACT_DIR"] == str(tree.task_root / "model")


def test_the_function_sees_only_the_tree_and_the_base_image(tree: ImageTree) -> None:
    # GIVEN the interpreter and environment the emulator gives the function
    spec = tree.function_spec("StandardFunction")
    env = EmulatedFunction(spec).environment()
    probe = (
        "import importlib.util, json, sys\n"
        "names = ['onnxruntime', 'numpy', 'tokenizers', 'aws_lambda_powertools', 'inference_runtime',"
        " 'lambda_shared', 'warming', 'awslambdaric', 'boto3', 'torch', 'transformers', 'sentence_transformers',"
        " 'huggingface_hub']\n"
        "found = {n: (s.origin if (s := importlib.util.find_spec(n)) else None) for n in names}\n"
        "print(json.dumps({'found': found, 'path': sys.path}))\n")
    # WHEN it looks for its packages, from the task root as the runtime does (python -m)
    out = subprocess.run([spec.python or "python-not-set", "-c", probe], cwd=tree.task_root, env=env,
                         capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    # THEN the runtime's come from the tree, the base image's from the base dir, nothing from a venv
    found = seen["found"]
    for name in ("onnxruntime", "numpy", "tokenizers", "inference_runtime", "lambda_shared"):
        assert found[name] and Path(found[name]).is_relative_to(tree.task_root), (name, found[name])
    for name in ("awslambdaric", "boto3"):
        assert found[name] and Path(found[name]).is_relative_to(tree.base_dir), (name, found[name])
    # AND nothing the runtime does not use: no torch, and no Powertools (api/router.py says why)
    for name in ("torch", "transformers", "sentence_transformers", "huggingface_hub", "aws_lambda_powertools",
                 "warming"):
        assert found[name] is None, (name, found[name])
    assert not [p for p in seen["path"] if ".venv" in p or p.startswith(str(REPO_ROOT / "layers"))]


def test_the_tree_holds_no_torch_or_transformers(tree: ImageTree) -> None:
    # GIVEN the runtime stage's files; WHEN we list the packages installed at the task root
    top_level = {path.name.lower() for path in tree.task_root.iterdir()}
    installed = {path.name.lower().split("-")[0] for path in tree.root.rglob("*.dist-info")}
    # THEN the export stage's heavy libraries stayed out of the image (onnxruntime's own
    # onnxruntime/transformers helpers are not Hugging Face transformers)
    for heavy in ("torch", "transformers", "sentence_transformers", "huggingface_hub", "safetensors"):
        assert heavy not in top_level and f"{heavy}.py" not in top_level
        assert heavy not in installed
    assert {"onnxruntime", "tokenizers", "numpy"} <= installed
    assert (tree.task_root / "model" / "manifest.json").is_file()
    assert (tree.task_root / "app.py").is_file() and tree.handler == "app.handler"
    assert list((tree.task_root / "__pycache__").glob("app.cpython-312.pyc"))    # compileall ran


@pytest.mark.parametrize("change, message", [
    (("--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64", ""), "platform"),
    (("CMD [\"app.handler\"]", "HEALTHCHECK NONE\nCMD [\"app.handler\"]"), "does not understand HEALTHCHECK"),
    (("COPY functions/inference/app.py", "COPY functions/inference/Dockerfile"), "excluded by .dockerignore"),
    (("&& rm /tmp/requirements.txt", "; rm /tmp/requirements.txt"), "joined by && only"),
])
def test_a_dockerfile_change_the_stand_in_cannot_follow_is_an_error(
        artifact_dir: Path, tmp_path: Path, change: tuple[str, str], message: str) -> None:
    # GIVEN the Dockerfile with one change
    old, new = change
    text = DOCKERFILE.read_text()
    assert old in text
    changed = tmp_path / "Dockerfile"
    changed.write_text(text.replace(old, new))
    # WHEN the stand-in reads it, THEN it refuses, saying why, rather than build something else
    with pytest.raises(ImageTreeError, match=message):
        plan_runtime_stage(changed, REPO_ROOT, artifact_dir)


def test_the_tree_holds_the_runtime_and_the_core_but_no_keep_warm_code(tree: ImageTree) -> None:
    # GIVEN the runtime stage's Python files, as paths under the task root
    files = {path.relative_to(tree.task_root).as_posix() for path in tree.task_root.rglob("*.py")}
    ours = {f for f in files if f.startswith(("inference_runtime/", "lambda_shared/"))}
    # THEN the runtime and the shared core are there, file for file as in the repository
    for package, source in (("inference_runtime", REPO_ROOT / "layers" / "runtime" / "inference_runtime"),
                            ("lambda_shared", REPO_ROOT / "layers" / "shared" / "lambda_shared")):
        expected = {f"{package}/{p.relative_to(source).as_posix()}" for p in source.rglob("*.py")}
        assert expected and expected == {f for f in ours if f.startswith(f"{package}/")}
    # AND nothing of keep-warm: no pre-warming policies, no CloudWatch reader, no keep-warm handler
    keep_warm = {p.relative_to(REPO_ROOT / "keepwarm").as_posix() for p in (REPO_ROOT / "keepwarm").rglob("*.py")}
    assert "warming/policy.py" in keep_warm
    assert not [f for f in files if "prewarm" in f or f.startswith("warming/") or "keepwarm" in f]
    assert not (files & keep_warm - {"app.py"}) and (tree.task_root / "app.py").read_bytes() == \
        (REPO_ROOT / "functions" / "inference" / "app.py").read_bytes()
