"""`python -m tools.local.replay` end to end: a window of the real trace through the front door.

A small fleet (3 standard environments, 1 provisioned premium: 4 in all) and a short
window keep it to ~20 s. The test holds the tool to its word: every planned request has
exactly one record, the table, the JSON and the plot agree, the trace's attribution is in
the report, and the exit status says whether anything failed. Whether this machine
serves the window without a throttle is the default run's business, not this test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT
from tools.local.replay.trace import DEFAULT_TRACE, load_trace, plan

pytestmark = pytest.mark.integration

WINDOW = ["--start", "1900", "--duration", "40", "--compression", "2", "--seed", "5"]
SMALL_FLEET = ["--standard-max-environments", "3", "--premium-max-environments", "1", "--premium-provisioned", "1"]


def test_a_replay_accounts_for_every_request_and_reports_it(artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN the plan the tool will make for this window
    planned = plan(load_trace(DEFAULT_TRACE), start_s=1900, duration_s=40, compression=2, max_tokens=64, seed=5)
    # WHEN the replay runs
    done = subprocess.run([sys.executable, "-m", "tools.local.replay", *WINDOW, *SMALL_FLEET, "--out", str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    results = json.loads((tmp_path / "results.json").read_text())
    requests = results["requests"]
    # THEN every planned request was sent once and has its record, answered or not
    assert [r["index"] for r in requests] == [r.index for r in planned]
    assert [r["tier"] for r in requests] == [r.tier for r in planned]
    everything = results["tiers"]["all"]
    assert everything["requests"] == len(planned) and everything["lost"] == 0
    assert everything["answered"] == len(planned)
    # AND the figures are those of the records
    ok = [r for r in requests if r["status"] == 200]
    assert everything["errors"] == len(planned) - len(ok)
    assert everything["cold_starts"] == sum(1 for r in ok if r["cold_start"])
    assert everything["environments_used"] == len({r["instance"] for r in ok})
    assert all(r["status"] in (200, 503) for r in requests), "only throttles may fail here"
    # The premium tier's one environment was provisioned: never a cold start there
    assert results["tiers"]["premium"]["cold_starts"] == 0 and results["fleet"]["premium"]["provisioned"] == 1
    assert results["tiers"]["standard"]["cold_starts"] >= 1 and results["fleet"]["standard"]["cold_starts"] >= 1
    # AND the report, the plot and the exit status say the same
    report = (tmp_path / "results.md").read_text()
    assert "CC-BY 4.0" in report and "AzurePublicDataset" in report
    assert f"| all | {len(planned)} | {len(planned)} | 0 | {everything['errors']} |" in report
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert done.returncode == (1 if everything["errors"] else 0), done.stderr
    lifecycle = [json.loads(line) for line in (tmp_path / "lifecycle.jsonl").read_text().splitlines()]
    assert {e["event"] for e in lifecycle} >= {"init", "stop"}
