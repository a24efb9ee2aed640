"""The bench's report draws from a trace recorded by the runtime itself (make report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import InitPhase, metrics
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


def test_dashboard_and_alarms_name_only_metrics_the_code_emits() -> None:
    from tests.cfn import Evaluator, parameter_values, source_template, translate

    emitted = {metrics.INIT_DURATION, metrics.COLD_START, metrics.REQUEST_LATENCY, metrics.COLD_REQUEST_LATENCY,
               metrics.KEEP_WARM_PING, metrics.KEEP_WARM_COLD_PING}
    for snapstart in ("false", "true"):
        source = source_template()
        params = parameter_values(source, StandardSnapStart=snapstart)
        template = translate(params)
        evaluate = Evaluator(template, params)
        body = json.loads(evaluate.value(template["Resources"]["ColdStartDashboard"]["Properties"]["DashboardBody"]))
        ours = [m for w in body["widgets"] for m in w["properties"]["metrics"]
                if isinstance(m[0], str) and m[0] == params["MetricsNamespace"]]
        names = {m[1] for m in ours}
        restore = {n for n in names if n.endswith("-RestoreDuration")}
        assert names - restore <= emitted | {f"{metrics.PHASE_PREFIX}{p}" for p in InitPhase}
        assert len(restore) == (snapstart == "true")
        for alarm in ("StandardColdStartAlarm", "PremiumSpilloverAlarm"):
            properties = evaluate.value(template["Resources"][alarm]["Properties"])
            used = {properties["MetricName"]} if "MetricName" in properties else {
                m["MetricStat"]["Metric"]["MetricName"] for m in properties["Metrics"] if "MetricStat" in m}
            assert used - restore <= emitted, alarm
