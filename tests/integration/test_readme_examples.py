"""The documentation's local examples work as written: every `localhost:8080` curl line and
Python example in README.md and docs/*.md, run against `make serve`'s deployment.

The lines are read from the Markdown itself, so an example that drifts from what the front
door and the functions accept fails here, wherever the example lives.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tools.local.deployment import LocalDeployment

pytestmark = pytest.mark.integration

LOCAL = "localhost:8080"


def markdown_files() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def curl_examples(path: Path) -> list[str]:
    """The local curl commands of a page's bash blocks, continuation lines joined."""
    commands = []
    for block in code_blocks(path, "bash"):
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith("curl ") and LOCAL in command:
                commands.append(command)
    return commands


def python_examples(path: Path) -> list[str]:
    """The page's Python examples that talk to the local front door (the others need a deploy)."""
    return [block for block in code_blocks(path, "python") if LOCAL in block]


def all_examples() -> list[tuple[str, str, str]]:
    """(page, kind, example) for every local example of every page."""
    found = []
    for path in markdown_files():
        name = str(path.relative_to(REPO_ROOT))
        found += [(name, "curl", line) for line in curl_examples(path)]
        found += [(name, "python", block) for block in python_examples(path)]
    return found


def test_the_readme_names_its_local_examples() -> None:
    # The README's API section starts `make serve` and tries the main routes against it.
    readme = REPO_ROOT / "README.md"
    (serve,) = [b for b in code_blocks(readme, "bash") if b.startswith("make serve\n")]
    routes = {re.search(rf"{LOCAL}(/[^ ?']*)", line).group(1)  # type: ignore[union-attr]
              for line in serve.splitlines() if line.startswith("curl ")}
    assert {"/predict", "/v1/embeddings", "/embed", "/warm", "/health", "/openapi.json"} <= routes
    assert len(python_examples(readme)) == 2
    # and the docs' own local examples are found too (api.md's curls, local-fleet.md's make serve)
    pages = {page for page, _, _ in all_examples()}
    assert {"README.md", "docs/api.md", "docs/local-fleet.md"} <= pages


def test_every_local_example_works_as_written(artifact_dir: Path) -> None:
    examples = all_examples()
    # GIVEN `make serve`'s deployment (its port chosen free rather than 8080)
    with LocalDeployment(max_environments=1) as deployment:
        port = deployment.front_door.url.rsplit(":", 1)[1]
        for page, kind, example in examples:
            runnable = example.replace(LOCAL, f"127.0.0.1:{port}")
            if kind == "python":
                # WHEN a Python example runs, as written but for the port THEN it exits 0 and prints
                done = subprocess.run([sys.executable, "-c", runnable], cwd=REPO_ROOT,
                                      capture_output=True, text=True, timeout=120)
                assert done.returncode == 0 and done.stdout.strip(), (page, example, done.stderr[-2000:])
                continue
            # WHEN each curl line runs, exactly as written but for the port
            argv = shlex.split(runnable)
            done = subprocess.run([*argv, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=120)
            body, _, status = done.stdout.rpartition("\n")
            # THEN curl succeeds, the answer is 200 and JSON
            assert done.returncode == 0 and status == "200", (page, example, done.stdout[-500:], done.stderr)
            answer = json.loads(body)
            if "/predict" in example:
                assert len(answer["outputs"][0]) == 384
                assert answer["tier"] == ("premium" if "premium" in example else "standard")
