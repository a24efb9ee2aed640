"""Cold-start observability: EMF lines, the warm-up protocol, SnapStart hooks, init types."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from inference_runtime.api.routes import build_handler
from inference_runtime.config import RuntimeConfig
from inference_runtime.lifecycle import InitPhase, PhaseTrace, consume_cold_start, instance_id, new_instance
from inference_runtime.lifecycle.metrics import ColdStartMetrics
from inference_runtime.lifecycle.snapstart import after_restore, before_snapshot, on_restore, register_hooks
from inference_runtime.loading.warmup import iterations_for, synthetic_batch
from inference_runtime.service import InferenceService
from lambda_shared import emf
from lambda_shared.settings import ConfigError
from tests.helpers import body, load_event
from tests.tiny_models import tiny_artifact


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model built by the real exporter, in place of the real one (unit tests stay small)."""
    return tiny_artifact(tmp_path_factory.mktemp("tiny"))


def emf_lines(text: str) -> list[dict[str, Any]]:
    """Every CloudWatch Embedded Metric Format document printed to stdout."""
    documents = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_names(document: dict[str, Any]) -> set[str]:
    return {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


@pytest.fixture(scope="module")
def service(artifact_dir: Path) -> InferenceService:
    config = RuntimeConfig.from_env({}, artifact_dir=artifact_dir, warmup_batch_sizes=(1, 2),
                                    warmup_sequence_lengths=(8, 32), warmup_iterations=3)
    loaded = InferenceService(config, metrics=ColdStartMetrics("FastInferenceTest", "standard"))
    loaded.start()
    return loaded


def test_init_emits_one_emf_document_with_every_phase_as_a_property_not_a_metric(
        artifact_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "inference-standard")
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_dir, tier="premium"),
                               metrics=ColdStartMetrics("FastInferenceTest", "premium"))
    service.start()
    documents = emf_lines(capsys.readouterr().out)
    assert len(documents) == 1
    (document,) = documents
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "FastInferenceTest"
    assert set(directive["Dimensions"][0]) >= {"function", "tier", "init_type"}
    assert (document["function"], document["tier"], document["init_type"]) == \
        ("inference-standard", "premium", "provisioned-concurrency")
    # THEN the one metric is InitDuration (what tools/cost counts for an init) ...
    assert metric_names(document) == {"InitDuration"} == set(emf.INIT_METRICS)
    assert document["InitDuration"] == [pytest.approx(service.trace.total_ms())]
    assert all(m["Unit"] == "Milliseconds" for m in directive["Metrics"])
    # ... and every phase is a top-level number the directive does not name: a log field
    # Logs Insights reads, no metric CloudWatch extracts
    for phase in (InitPhase.READ_MANIFEST, InitPhase.FETCH_ARTIFACT, InitPhase.IMPORT_BACKEND,
                  InitPhase.CREATE_SESSION, InitPhase.LOAD_TOKENIZER, InitPhase.WARMUP):
        durations = [p.duration_ms for p in service.trace.phases if p.name == phase]
        assert document[f"InitPhase_{phase}"] == pytest.approx(sum(durations), abs=1e-3)
    assert not [m for m in directive["Metrics"] if m["Name"].startswith(emf.PHASE_PREFIX)]


def test_a_phase_recorded_twice_is_one_summed_property(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a trace where a retried load recorded fetch_artifact twice
    trace = PhaseTrace()
    trace.record(InitPhase.FETCH_ARTIFACT, 0.0, 10.0)
    trace.record(InitPhase.FETCH_ARTIFACT, 12.0, 5.5)
    trace.record(InitPhase.WARMUP, 20.0, 3.0)
    # WHEN the init is emitted
    ColdStartMetrics("FastInferenceTest", "standard").emit_init(trace, ready=True)
    (document,) = emf_lines(capsys.readouterr().out)
    # THEN the field holds their sum, one number, and still no metric carries it
    assert document["InitPhase_fetch_artifact"] == 15.5 and document["InitPhase_warmup"] == 3.0
    assert metric_names(document) == {"InitDuration"} and document["InitDuration"] == [23.0]


def test_an_emf_property_may_not_shadow_a_metric_or_a_dimension() -> None:
    dimensions = emf.emf_dimensions(service=None, function="f", tier="standard", init_type="on-demand")
    metrics = [(emf.INIT_DURATION, emf.MILLISECONDS, 1.0)]
    for name in (emf.INIT_DURATION, "tier"):
        with pytest.raises(ValueError, match=name):
            emf.emf_document("N", dimensions, metrics, properties={name: 2.0})


def test_each_request_emits_latency_and_the_first_a_cold_start(service: InferenceService,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a fresh environment
    new_instance()
    handler = build_handler(service)
    capsys.readouterr()
    # WHEN a user request, a keep-warm ping and a bad request arrive
    handler(load_event("predict.json"), None)
    handler(load_event("warm.json"), None)
    handler(load_event("bad-request-route.json"), None)
    first, second, third = emf_lines(capsys.readouterr().out)
    # THEN the first user request is counted cold, with what its user waited for
    assert metric_names(first) == {"RequestLatency", "ColdStart", "ColdRequestLatency"}
    assert first["ColdStart"] == [1.0] and first["ColdRequestLatency"] == first["RequestLatency"]
    # AND the ping stays out of the latency users see: it is counted as a ping
    assert metric_names(second) == {"KeepWarmPing"}
    assert metric_names(third) == {"RequestLatency"}
    assert (first["route"], second["route"], third["route"]) == ("/predict", "/warm", "other")
    assert (first["status"], third["status"]) == (200, 404)
    assert first["RequestLatency"][0] > 0


def test_a_ping_that_finds_a_cold_environment_is_not_a_users_cold_start(
        service: InferenceService, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a fresh environment
    new_instance()
    handler = build_handler(service)
    capsys.readouterr()
    # WHEN keep-warm's ping is its first invocation, then a user request follows
    handler(load_event("warm.json"), None)
    handler(load_event("predict.json"), None)
    ping, request = emf_lines(capsys.readouterr().out)
    # THEN the ping is a cold ping, and the user's request is warm
    assert metric_names(ping) == {"KeepWarmPing", "KeepWarmColdPing"}
    assert metric_names(request) == {"RequestLatency"}


def test_warmup_runs_every_shape_and_records_first_and_stable(service: InferenceService) -> None:
    shapes = [(r["batch_size"], r["sequence_length"]) for r in service.warmup_results]
    assert shapes == [(1, 8), (1, 32), (2, 8), (2, 32)]
    for result in service.warmup_results:
        assert result["first_ms"] > 0 and result["stable_ms"] > 0
    warmup = next(p for p in service.trace.phases if p.name == "warmup")
    assert warmup.attributes["shapes"] == service.warmup_results


@pytest.mark.parametrize("length", [2, 8, 32, 40])   # up to the tiny model's 40 positions
def test_synthetic_inputs_have_exactly_the_asked_length(service: InferenceService, length: int) -> None:
    (text,) = synthetic_batch(1, length)
    assert service.load().count_tokens(text) == length


def test_health_is_ready_only_after_warmup(artifact_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an init off the request path, where warm-up runs by default (iterations_for)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    service = InferenceService(RuntimeConfig.from_env({}, artifact_dir=artifact_dir, preload_model=False))
    handler = build_handler(service)
    assert handler(load_event("health.json"), None)["statusCode"] == 503
    service.load()
    assert "warmup" in [p.name for p in service.trace.phases]
    assert handler(load_event("health.json"), None)["statusCode"] == 200


def test_snapstart_restore_gives_a_new_identity_and_fresh_state(service: InferenceService,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an environment that served a request before its snapshot
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    before_snapshot(service)
    assert service.ready
    consume_cold_start()
    snapshot_id = instance_id()
    random.seed(1234)
    expected_if_not_reseeded = random.random()
    random.seed(1234)
    refreshed: list[str] = []
    on_restore(lambda: refreshed.append("clients"))
    # WHEN a copy is restored from the snapshot
    after_restore(service)
    # THEN it has its own id, is cold again, has fresh randomness and fresh clients
    assert instance_id() != snapshot_id
    assert random.random() != expected_if_not_reseeded
    assert refreshed == ["clients"]
    handler = build_handler(service)
    warm = body(handler(load_event("warm.json"), None))
    assert warm["first_invocation"] is True and warm["init_type"] == "snap-start"
    assert warm["init"]["restored_from_snapshot"] is True
    assert "after_restore_hooks" in warm["init"]["phases"]


def test_an_s3_source_registers_its_fresh_client_as_restore_work(tmp_path: Path) -> None:
    from inference_runtime.cache import S3Source, source_for
    from inference_runtime.registry import ModelEntry

    # GIVEN the source an s3:// registry entry picks, with a client created before the snapshot
    config = RuntimeConfig.from_env({}, artifact_dir=tmp_path, cache_dir=tmp_path / "cache")
    source = source_for(ModelEntry("m", "s3://bucket/models/m/1/", "0" * 64, "1"), config)
    assert isinstance(source, S3Source)
    source._client = object()
    # WHEN a copy is restored THEN the source dropped it: the next request makes its own
    after_restore(_Restorable())
    assert source._client is None


class _Restorable:
    """The little the hooks need of a service, without loading a model."""

    def __init__(self) -> None:
        self.trace = PhaseTrace()

    def wait_ready(self) -> None: ...

    def load(self) -> None: ...


def test_hooks_register_with_the_lambda_runtime_library(service: InferenceService) -> None:
    import snapshot_restore_py

    before = len(snapshot_restore_py.get_before_snapshot())
    assert register_hooks(service) is True
    assert len(snapshot_restore_py.get_before_snapshot()) == before + 1
    func, args, _ = snapshot_restore_py.get_after_restore()[-1]
    assert func is after_restore and args == (service,)


def test_trace_records_phases_on_one_clock() -> None:
    trace = PhaseTrace()
    with trace.phase("a") as attrs:
        attrs["bytes"] = 3
    with trace.phase("b"):
        pass
    a, b = trace.phases
    assert a.start_ms > 0 and b.start_ms >= a.start_ms + a.duration_ms
    assert trace.to_dict()["phases"][0]["attributes"] == {"bytes": 3}
    assert trace.total_ms() == pytest.approx(b.start_ms + b.duration_ms)


@pytest.mark.parametrize(("initialization_type", "device", "workers", "expected"), [
    ("on-demand", "cpu", 1, 0),                  # init right before the first request: no warm-up
    ("on-demand", "cuda", 1, 1),                 # a GPU's first run costs far more than a run
    ("provisioned-concurrency", "cpu", 1, 1),    # init before any request waits
    ("snap-start", "cpu", 1, 1),                 # before the snapshot
    ("on-demand", "cpu", 8, 1),                  # Managed Instances' worker processes
])
def test_warmup_auto_runs_where_init_is_off_the_request_path(initialization_type: str, device: str, workers: int,
                                                              expected: int) -> None:
    assert iterations_for(None, device=device, initialization_type=initialization_type,
                          worker_processes=workers) == expected
    assert iterations_for(3, device=device, initialization_type=initialization_type, worker_processes=workers) == 3


def test_warmup_iterations_is_auto_unless_set() -> None:
    assert RuntimeConfig.from_env({}).warmup_iterations is None
    assert RuntimeConfig.from_env({"WARMUP_ITERATIONS": "auto"}).warmup_iterations is None
    assert RuntimeConfig.from_env({"WARMUP_ITERATIONS": "0"}).warmup_iterations == 0
    with pytest.raises(ConfigError, match="WARMUP_ITERATIONS"):
        RuntimeConfig.from_env({"WARMUP_ITERATIONS": "many"})
