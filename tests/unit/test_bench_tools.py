"""The bench's report draws from a trace recorded by the runtime itself (make report)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import metrics
from inference_runtime.service import InferenceService
from tests.helpers import REPO_ROOT


def test_report_draws_a_png_from_an_init_log_line(artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN the init log line a function writes (the shape CloudWatch Logs holds)
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_dir))
    service.start()
    log = tmp_path / "init.log"
    log.write_text("START RequestId: x\n" + json.dumps({"event": "init", "trace": service.trace.to_dict()}) + "\n")
    out = tmp_path / "waterfall.png"
    # WHEN make report's command runs on it
    subprocess.run([sys.executable, "-m", "tools.bench.report", str(log), "--out", str(out)], cwd=REPO_ROOT,
                   check=True, capture_output=True)
    # THEN a PNG is written
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dashboard_body_is_json_and_names_the_emitted_metrics() -> None:
    template = cfn_yaml.load(str(REPO_ROOT / "template.yaml"))
    body, variables = template["Resources"]["ColdStartDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = body
    def text(item: object) -> str:
        if isinstance(item, dict):
            sub = item["Fn::Sub"]
            return sub[0] if isinstance(sub, list) else sub
        return str(item)

    for name, value in variables.items():
        if "Fn::Join" in value:
            rendered = rendered.replace(f"${{{name}}}", ",\n".join(text(i) for i in value["Fn::Join"][1]))
    rendered = re.sub(r"\$\{[^}]+\}", "1", rendered)
    widgets = json.loads(rendered)["widgets"]
    names = {m[1] for w in widgets for m in w["properties"]["metrics"] if m[0] != "..."}
    names |= {m[1] for w in widgets for m in w["properties"]["metrics"] if m[0] == "..." and len(m) > 2}
    assert {metrics.INIT_DURATION, metrics.COLD_START, metrics.REQUEST_LATENCY} <= names
    assert f"{metrics.PHASE_PREFIX}create_session" in names
    alarm = template["Resources"]["ColdStartAlarm"]["Properties"]
    assert alarm["MetricName"] == metrics.INIT_DURATION
    assert {d["Name"] for d in alarm["Dimensions"]} == {"service", "function", "tier", "init_type"}
