"""`sam deploy --guided` on defaults: the pinned SAM CLI's real prompts, driven as a terminal would.

GIVEN the template and the pinned SAM CLI (.venv-sam), in a pseudo-terminal (pexpect), WHEN a new
user presses Enter at every prompt but VpcId and SubnetIds, THEN SAM gets past every parameter
prompt to where it would call AWS, and the values it collected pass the template's Rules.

Nothing reaches AWS: fake credentials, a fake region, the instance metadata service off, and every
endpoint a closed port on loopback, so SAM stops at its first call ("Looking for resources needed
for deployment") with a connection error. It writes samconfig.toml only after that call succeeds,
so the test reads what it would write from the prompts' answers instead (the values SAM would put
in parameter_overrides).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
from pathlib import Path

import pexpect
import pytest

from tests.cfn import Evaluator, source_template, translate
from tests.helpers import REPO_ROOT

SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
TYPED = {"VpcId": "vpc-0123456789abcdef0", "SubnetIds": "subnet-0aaa,subnet-0bbb"}
PROMPT = re.compile(r"Parameter (\w+)\x1b\[0m \[([^\n]*?)\]: |Parameter (\w+)\x1b\[0m: ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not SAM.exists(), reason="the pinned SAM CLI (.venv-sam) is missing: make setup")]


def _closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_guided_deploy_on_defaults_asks_only_for_the_network(tmp_path: Path) -> None:
    # GIVEN the template alone in an empty folder (no samconfig.toml: a first deploy)
    shutil.copy(REPO_ROOT / "template.yaml", tmp_path / "template.yaml")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {**os.environ, "HOME": str(tmp_path / "home"), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint, "AWS_MAX_ATTEMPTS": "1",
           "SAM_CLI_TELEMETRY": "0", "TERM": "dumb"}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        env.pop(name, None)
    child = pexpect.spawn(str(SAM), ["deploy", "--guided", "--template", "template.yaml"], cwd=str(tmp_path),
                          env=env, encoding="utf-8", timeout=60, dimensions=(50, 500))
    transcript: list[str] = []
    answered: dict[str, str] = {}
    hidden: list[str] = []
    # WHEN Enter is pressed at every prompt but VpcId and SubnetIds
    patterns = [r"Parameter \w+\x1b\[0m(?: \[[^\n]*?\])?: ", r"\]: ", r"\[[yY]/[nN]\]: ",
                "Looking for resources needed for deployment", pexpect.EOF, pexpect.TIMEOUT]
    while True:
        index = child.expect(patterns)
        transcript.append(str(child.before) + (child.after if isinstance(child.after, str) else ""))
        if index == 0:
            match = PROMPT.search(child.after)
            assert match is not None, child.after
            name = match[1] or match[3]
            if match[3]:
                hidden.append(name)    # a prompt with no default (SAM's NoEcho prompt has none)
            assert name not in answered, f"SAM asked for {name} twice: an empty answer was refused"
            answer = TYPED.get(name, "")
            answered[name] = answer or (match[2] or "")
            child.sendline(answer)
        elif index in (1, 2):
            child.sendline("")
        else:
            break
    child.expect([pexpect.EOF, pexpect.TIMEOUT])
    transcript.append(str(child.before))
    child.close()
    output = ANSI.sub("", "".join(transcript))
    sys.stdout.write(output)

    # THEN SAM asked for every parameter once, each with a default but the two typed ones,
    assert index == 3, f"SAM stopped before its first AWS call:\n{output[-2000:]}"
    template = source_template()
    assert list(answered) == list(template["Parameters"])
    assert hidden == [] and "hide_input" not in output
    # got past every prompt to its first call to AWS, and stopped there (nothing reached AWS),
    assert "Looking for resources needed for deployment" in output
    assert "Could not connect to the endpoint URL" in output
    assert not (tmp_path / "samconfig.toml").exists()
    # and the values it collected pass the Rules and translate.
    assert {k: answered[k] for k in TYPED} == TYPED
    params = dict(answered)
    translated = translate(params)
    assert Evaluator(translated, params).rules_refusing() == []
