"""The bench's report draws from a trace recorded by the runtime itself (make report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import InitPhase
from inference_runtime.service import InferenceService
from lambda_shared import emf
from tests.helpers import REPO_ROOT


def test_report_draws_a_png_from_an_init_log_line(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    # GIVEN the init log line a function writes (the shape CloudWatch Logs holds)
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir))
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

    emitted = set(emf.INIT_METRICS) | set(emf.REQUEST_METRICS) | set(emf.PING_METRICS)
    phases = {f"{emf.PHASE_PREFIX}{p}" for p in InitPhase}
    for snapstart in ("false", "true"):
        source = source_template()
        params = parameter_values(source, StandardSnapStart=snapstart)
        template = translate(params)
        evaluate = Evaluator(template, params)
        body = json.loads(evaluate.value(template["Resources"]["ColdStartDashboard"]["Properties"]["DashboardBody"]))
        ours = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])
                if isinstance(m[0], str) and m[0] == params["MetricsNamespace"]]
        names = {m[1] for m in ours}
        restore = {n for n in names if n.endswith("-RestoreDuration")}
        # phases are log fields now: no metric widget may graph one (it would stay empty)
        assert names - restore <= emitted and not names & phases
        assert len(restore) == (snapstart == "true")
        for alarm in ("StandardColdStartAlarm", "PremiumSpilloverAlarm"):
            properties = evaluate.value(template["Resources"][alarm]["Properties"])
            used = {properties["MetricName"]} if "MetricName" in properties else {
                m["MetricStat"]["Metric"]["MetricName"] for m in properties["Metrics"] if "MetricStat" in m}
            assert used - restore <= emitted, alarm


def test_the_init_emf_line_carries_phases_as_fields_the_directive_does_not_name(tiny_artifact_dir: Path) -> None:
    # GIVEN an init's EMF line, parsed as CloudWatch Logs would
    import io

    from inference_runtime.lifecycle.metrics import ColdStartMetrics

    out = io.StringIO()
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=tiny_artifact_dir),
                               metrics=ColdStartMetrics("FastInference", "standard", stream=out))
    service.start()
    (document,) = [json.loads(line) for line in out.getvalue().splitlines()]
    directive = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    # THEN the directive names InitDuration only, and the phases the trace recorded are numbers
    # beside it: fields for Logs Insights, which CloudWatch does not extract as metrics
    assert directive == list(emf.INIT_METRICS)
    recorded = {f"{emf.PHASE_PREFIX}{p.name}" for p in service.trace.phases}
    assert recorded and recorded <= set(document) and not recorded & set(directive)
    assert all(isinstance(document[name], float) for name in recorded)


# --- make bench-gpu where there is no GPU: what it can run here -------------------------

def test_bench_gpu_says_it_skips_without_a_gpu_and_exits_cleanly() -> None:
    out = subprocess.run([sys.executable, "-m", "tools.bench.gpu"], cwd=REPO_ROOT, capture_output=True, text=True)
    check = subprocess.run([sys.executable, "-m", "tools.bench.gpu", "--check"], cwd=REPO_ROOT, capture_output=True,
                           text=True)
    assert out.returncode == 0 and out.stdout.startswith("bench-gpu: skipped: ")
    assert check.returncode == 3 and "make bench-gpu" in check.stdout


def test_bench_gpu_big_model_computes_its_matmul_stack(tmp_path: Path) -> None:
    # GIVEN the benchmark's multi-GB model, made small (width 64, 3 layers)
    import numpy as np
    import onnx
    import onnxruntime as ort

    from tools.bench.gpu import make_big_model

    model = make_big_model(tmp_path, 3 * 64 * 64 * 4 / 2**30, width=64)
    # WHEN ONNX Runtime runs it THEN it is Relu(x @ W) three times, weights in the external file
    weights = [onnx.numpy_helper.to_array(t, base_dir=str(tmp_path)) for t in onnx.load(str(model)).graph.initializer]
    x = np.random.default_rng(1).standard_normal((2, 64), dtype=np.float32)
    expected = x
    for weight in weights:
        expected = np.maximum(expected @ weight, 0)
    (got,) = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert len(weights) == 3 and np.allclose(got, expected, atol=1e-4)
    assert (tmp_path / "model.onnx.data").stat().st_size == 3 * 64 * 64 * 4


def test_bench_gpu_session_probe_runs_both_models_on_the_cpu(tiny_artifact_dir: Path, tmp_path: Path) -> None:
    from tools.bench.gpu import make_big_model

    big = make_big_model(tmp_path, 2 * 32 * 32 * 4 / 2**30, width=32)
    # A tiny encoder with the real one's inputs stands for it: the probe is under test, not the model
    for model, shapes in ((tiny_artifact_dir / "model.onnx", "1x16,4x32"), (big, "1x32,8x32")):
        out = subprocess.run([sys.executable, "-m", "tools.bench.gpu_probe", "session", str(model), "--shapes", shapes,
                              "--cpu"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report["providers"] == ["CPUExecutionProvider"] and report["create_s"] > 0
        assert [(s["batch"], s["width"]) for s in report["shapes"]] == [
            tuple(int(n) for n in shape.split("x")) for shape in shapes.split(",")]
        assert all(s["first_ms"] > 0 and s["stable_ms"] > 0 for s in report["shapes"])
    # AND the big model's outputs are what its weights give for the probe's inputs
    import numpy as np
    import onnx

    weights = [onnx.numpy_helper.to_array(t, base_dir=str(tmp_path)) for t in onnx.load(str(big)).graph.initializer]
    for (batch, width), got in zip(((1, 32), (8, 32)), report["outputs"], strict=True):
        x = np.random.default_rng(0).standard_normal((batch, width), dtype=np.float32)
        for weight in weights:
            x = np.maximum(x @ weight, 0)
        assert abs(float(x.sum()) - got) < 1e-3 * max(1.0, abs(got))
