"""The README's local examples work as written: its `make serve` curl lines, run with curl.

The lines are read from the README itself, so an example that drifts from what the
front door and the functions accept fails here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tools.local.deployment import LocalDeployment

pytestmark = pytest.mark.integration


def readme_serve_examples() -> list[str]:
    """The curl lines of the README's `make serve` code block."""
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    (serve,) = [b for b in blocks if b.startswith("make serve\n")]
    return [line for line in serve.splitlines() if line.startswith("curl ")]


def test_the_readme_names_its_local_examples() -> None:
    examples = readme_serve_examples()
    assert len(examples) >= 4 and all("localhost:8080" in line for line in examples)


def test_the_readme_curl_lines_work_as_written(artifact_dir: Path) -> None:
    # GIVEN `make serve`'s deployment (its port chosen free rather than 8080)
    with LocalDeployment(max_environments=1) as deployment:
        port = deployment.front_door.url.rsplit(":", 1)[1]
        for line in readme_serve_examples():
            # WHEN each README line runs, exactly as written but for the port
            argv = shlex.split(line.replace("localhost:8080", f"127.0.0.1:{port}"))
            done = subprocess.run([*argv, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=120)
            body, _, status = done.stdout.rpartition("\n")
            # THEN curl succeeds, the answer is 200 and JSON
            assert done.returncode == 0 and status == "200", (line, done.stdout, done.stderr)
            answer = json.loads(body)
            if "/predict" in line:
                assert len(answer["outputs"][0]) == 384
                assert answer["tier"] == ("premium" if "premium" in line else "standard")
