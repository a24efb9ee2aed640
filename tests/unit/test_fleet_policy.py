"""The fleet's lifecycle policy, with in-memory workers and a clock the test moves.

The same Fleet the emulator tests run, given a worker factory that makes fakes instead
of emulator processes: what is decided (cold start, throttle, reclaim, recycle,
provisioning, replacement) is tested here exactly and fast; that real processes do the
same is tests/integration/test_fleet_lifecycle.py's job.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from tools.lifecycle_model import IdleReclaim, LifecycleModel
from tools.local.emulator import FUNCTIONS, InvokeError
from tools.local.fleet import Fleet, FleetConfig, FleetConfigError, LifecycleLog, ThrottledError

SPEC = FUNCTIONS["StandardFunction"]
WARM = {"path": "/warm"}
QUICK = LifecycleModel(IdleReclaim(early_probability=1.0, early_s=(2.0, 3.0)), max_age_s=10.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeWorker:
    """A worker that answers at once, or when released, or dies, as the test says."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path, gate: threading.Event | None) -> None:
        self.name, self.env, self.log_path = name, env, log_path
        self.started = self.stopped = False
        self.running = True
        self.payloads: list[bytes] = []
        # Requests other than /warm wait for it; longer than any test's own wait, which bounds a hang.
        self.gate = gate
        self.entered = threading.Event()  # a request other than /warm arrived
        self.answer: tuple[int, bytes] | Exception | None = None
        self.stop_gate: threading.Event | None = None  # when set by the test, stop() waits for it
        self.stopping = threading.Event()

    def start(self) -> FakeWorker:
        self.started = True
        return self

    def post_invocation(self, payload: bytes, timeout_s: float = 0) -> tuple[int, bytes]:
        self.payloads.append(payload)
        if json.loads(payload).get("path") != "/warm":
            self.entered.set()
            if self.gate is not None:
                assert self.gate.wait(60)
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer is not None:
            return self.answer
        body = json.dumps({"instance": self.name, "path": json.loads(payload).get("path")})
        return 200, json.dumps({"statusCode": 200, "body": body}).encode()

    def alive(self) -> bool:
        return self.running and not self.stopped

    def runtime_pids(self) -> list[int]:
        return [1] if self.alive() else []

    def init_report_ms(self) -> list[float]:
        return [123.0]

    def stop(self) -> None:
        self.stopping.set()
        if self.stop_gate is not None:
            assert self.stop_gate.wait(60)
        self.stopped = True


class Factory:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.made: list[FakeWorker] = []
        self.gate = gate

    def __call__(self, environment_id: str, index: int, env: dict[str, str], log_path: Path) -> FakeWorker:
        self.made.append(FakeWorker(f"{environment_id}/{index}", env, log_path, self.gate))
        return self.made[-1]


def in_thread(target: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``target`` on a thread; its result lands in the list."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(target(*args)))
    thread.start()
    return thread, results


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_fleet(tmp_path: Path, clock: Clock, factory: Factory, **config: Any) -> Fleet:
    settings = {"lifecycle": QUICK, "reap_interval_s": 3600.0, **config}  # the test calls reap() itself
    return Fleet(SPEC, FleetConfig(**settings), warm_event=WARM, log=LifecycleLog(clock=clock),
                 run_dir=tmp_path, worker_factory=factory, clock=clock)


def call(fleet: Fleet, path: str = "/predict") -> Any:
    return fleet.invoke_raw(json.dumps({"path": path}).encode())


def test_a_request_beyond_the_limit_is_throttled_at_once_never_queued(tmp_path: Path, clock: Clock) -> None:
    # GIVEN a fleet of at most 2 environments, both busy with a request that has not finished
    gate = threading.Event()
    factory = Factory(gate)
    with make_fleet(tmp_path, clock, factory, max_environments=2) as fleet:
        threads = []
        for index in range(2):
            threads.append(in_thread(call, fleet)[0])
            while len(factory.made) <= index or not factory.made[index].entered.is_set():
                threading.Event().wait(0.005)  # the next request must find this one busy
        # WHEN a third request arrives (on a thread: a fleet that queued it would hang the test)
        third, refused = in_thread(refusal, fleet)
        third.join(timeout=10)
        alive = third.is_alive()
        gate.set()
        for thread in [*threads, third]:
            thread.join()
        # THEN it was refused, in Lambda's words, while both requests still ran (the gate was
        # shut until after it), and no third environment was started
        assert not alive, "the third request waited for a busy environment"
        (error,) = refused
        assert isinstance(error, ThrottledError), error
        assert "Rate Exceeded" in str(error) and error.limit == 2
        (throttle,) = fleet.log.events("throttle")
        ends = [e["seq"] for e in fleet.log.events("invocation")]
        assert len(ends) == 2 and throttle["seq"] < min(ends)
        assert len(factory.made) == 2 and len(fleet.environments) == 2
        # AND once one is idle again, the next request reuses it, warm
        after = call(fleet)
        assert after.cold is False and len(factory.made) == 2
        assert fleet.log.summary()["StandardFunction"]["throttle"] == 1


def refusal(fleet: Fleet) -> Exception | None:
    """The error a request ends with, or None when it was served."""
    try:
        call(fleet)
    except Exception as exc:  # noqa: BLE001 (the test looks at which)
        return exc
    return None


def test_cold_once_per_environment_then_warm_most_recent_first(tmp_path: Path, clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory) as fleet:
        first, second = call(fleet), call(fleet)
    assert (first.cold, second.cold) == (True, False) and first.environment == second.environment
    (init,) = fleet.log.events("init")
    assert init["during"] == "request" and init["init_ms"] == 123.0 and init["instance"] == "standard-001/0"


def test_an_idle_environment_is_reclaimed_at_the_time_drawn_for_it(tmp_path: Path, clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory, seed=7) as fleet:
        call(fleet)
        # The fleet's draw, made again: the seed fixes it, per function.
        expected = QUICK.idle_reclaim.draw(random.Random("7:StandardFunction"))
        # WHEN it has been idle just under the drawn time THEN it is still there
        clock.now += expected - 0.01
        fleet.reap()
        assert len(fleet.environments) == 1 and not factory.made[0].stopped
        # WHEN the drawn time has passed THEN it is reclaimed, its process stopped
        clock.now += 0.02
        fleet.reap()
        assert fleet.environments == [] and factory.made[0].stopped
        (reclaim,) = fleet.log.events("reclaim")
        assert reclaim["drawn_s"] == round(expected, 3) and 2.0 <= reclaim["drawn_s"] <= 3.0
        # AND the next request is a cold start in a new environment
        assert call(fleet).cold is True and len(factory.made) == 2


def test_an_environment_past_its_maximum_age_is_recycled_when_next_idle(tmp_path: Path, clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory) as fleet:
        call(fleet)
        for _ in range(5):  # busy every 1.9 s: never idle long enough to be reclaimed
            clock.now += 1.9
            fleet.reap()
            assert call(fleet).environment == "standard-001"
        # WHEN a request finds it 10.5 s old (the reaper has not passed since)
        clock.now += 1.0
        served = call(fleet)
        # THEN it serves that request, and is recycled as it goes idle
        assert served.environment == "standard-001" and served.cold is False
        fleet.settle()
        assert fleet.environments == [] and factory.made[0].stopped
        (recycle,) = fleet.log.events("recycle")
        assert recycle["age_s"] == 10.5 and fleet.log.events("reclaim") == []
        assert call(fleet).environment == "standard-002"


def test_an_idle_environment_older_than_the_maximum_age_is_recycled_by_the_reaper(tmp_path: Path,
                                                                                  clock: Clock) -> None:
    # GIVEN a model whose idle reclaim comes later than the maximum age
    old_first = LifecycleModel(IdleReclaim(early_probability=1.0, early_s=(20.0, 30.0)), max_age_s=5.0)
    factory = Factory()
    with make_fleet(tmp_path, clock, factory, lifecycle=old_first) as fleet:
        call(fleet)
        # WHEN it idles past its maximum age
        clock.now += 5.5
        fleet.reap()
        # THEN it is recycled, not reclaimed, and its process stopped
        assert [e["event"] for e in fleet.log.events() if e["event"] not in ("init", "invocation")] == [
            "recycle", "ended"]
        assert fleet.environments == [] and factory.made[0].stopped


def test_provisioned_environments_start_before_traffic_and_are_never_reclaimed(tmp_path: Path,
                                                                               clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory, provisioned=2, max_environments=3) as fleet:
        # GIVEN the fleet just started: both initialised by a warm invocation, before any request
        assert [json.loads(p)["path"] for w in factory.made for p in w.payloads] == ["/warm", "/warm"]
        assert [e["during"] for e in fleet.log.events("init")] == ["provisioning", "provisioning"]
        # WHEN they stay idle far past any reclaim time or age
        clock.now += 1000.0
        fleet.reap()
        # THEN both are there, and a request is warm
        assert len(fleet.environments) == 2 and call(fleet).cold is False
        assert fleet.log.events("reclaim") == fleet.log.events("recycle") == []


def test_a_death_mid_invocation_is_a_function_error_and_the_environment_is_replaced(tmp_path: Path,
                                                                                   clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory) as fleet:
        call(fleet)
        factory.made[0].answer = InvokeError("connection reset by peer")
        # WHEN the environment's process is gone mid-invocation
        died = call(fleet)
        # THEN the caller gets Lambda's function error, and the environment is gone
        assert died.function_error == "Unhandled"
        assert json.loads(died.payload)["errorType"] == "Runtime.ExitError"
        fleet.settle()
        assert fleet.environments == [] and factory.made[0].stopped
        (death,) = fleet.log.events("death")
        assert (death["cause"], death["during"]) == ("killed", "invocation")
        # AND the next request gets a new environment
        assert call(fleet).cold is True and len(factory.made) == 2


def test_a_caller_never_waits_for_its_dead_environment_to_stop(tmp_path: Path, clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory) as fleet:
        call(fleet)
        # GIVEN a worker whose process, once dead, takes as long to stop as the test wants
        worker = factory.made[0]
        worker.answer = InvokeError("connection reset by peer")
        worker.stop_gate = threading.Event()
        # WHEN it dies mid-invocation
        request, answers = in_thread(call, fleet)
        request.join(timeout=10)
        answered = not request.is_alive()
        # The fleet stops the process beside the answer, so the stop may begin just after the
        # caller had it; the gate holds the stop until the test releases it.
        assert worker.stopping.wait(10), "the dead environment's process was never stopped"
        answered_while_stopping = answered and not worker.stopped
        worker.stop_gate.set()
        request.join()
        fleet.settle()
        # THEN the caller had its error while the process was still being stopped
        assert answered_while_stopping, "the caller waited for the dead environment's process"
        (died,) = answers
        assert json.loads(died.payload)["errorType"] == "Runtime.ExitError" and worker.stopped
        # AND the log says so in order: the death, the answer, then the environment ended
        events = [e for e in fleet.log.events() if e["seq"] > fleet.log.events("invocation")[0]["seq"]]
        assert [(e["event"], e.get("function_error"), e.get("after")) for e in events] == [
            ("death", None, None), ("invocation", "Unhandled", None), ("ended", None, "death")]


@pytest.mark.parametrize("answer, error_type, cause", [
    ((200, b"Task timed out after 2.00 seconds"), "Sandbox.Timedout", "timeout"),
    ((502, b'{"errorType":"Runtime.ExitError","errorMessage":"Runtime exited with error: signal: killed"}'),
     "Runtime.ExitError", "exit"),
])
def test_what_the_emulator_says_of_a_dead_runtime_is_a_death(tmp_path: Path, clock: Clock, answer: tuple[int, bytes],
                                                             error_type: str, cause: str) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory) as fleet:
        call(fleet)
        factory.made[0].answer = answer
        result = call(fleet)
    assert result.function_error == "Unhandled" and json.loads(result.payload)["errorType"] == error_type
    assert [e["cause"] for e in fleet.log.events("death")] == [cause]


def test_a_dead_provisioned_environment_is_replaced_in_the_background(tmp_path: Path, clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory, provisioned=1, max_environments=2) as fleet:
        # GIVEN the provisioned environment's process dies while idle
        factory.made[0].running = False
        # WHEN the reaper passes
        fleet.reap()
        fleet.settle()
        # THEN the death is logged and a new provisioned environment is initialised in its place
        (death,) = fleet.log.events("death")
        assert (death["environment"], death["during"]) == ("standard-001", "idle")
        assert [e.id for e in fleet.environments] == ["standard-002"]
        assert [e["during"] for e in fleet.log.events("init")] == ["provisioning", "provisioning"]
        assert call(fleet).cold is False


def test_workers_share_their_environments_cache_and_its_concurrency(tmp_path: Path, clock: Clock) -> None:
    gate = threading.Event()
    factory = Factory(gate)
    with make_fleet(tmp_path, clock, factory, workers=2, max_environments=1) as fleet:
        # GIVEN one environment of 2 workers: worker 0 holds a request, worker 1 initialises beside it
        first, _ = in_thread(call, fleet)
        while len(factory.made) < 2 or not factory.made[0].entered.is_set():
            threading.Event().wait(0.005)
        fleet.settle()
        # WHEN a second request arrives THEN worker 1 of the same environment takes it
        second, answers = in_thread(call, fleet)
        assert factory.made[1].entered.wait(5)
        # AND a third is throttled: the environment's concurrency is its 2 workers
        with pytest.raises(ThrottledError):
            call(fleet)
        gate.set()
        first.join()
        second.join()
    (answer,) = answers
    assert (answer.environment, answer.worker, answer.cold) == ("standard-001", 1, False)
    cache_dirs = {w.env["MODEL_CACHE_DIR"] for w in factory.made}
    assert len(factory.made) == 2 and len(cache_dirs) == 1 and "standard-001" in cache_dirs.pop()
    assert [e["during"] for e in fleet.log.events("init")] == ["scale-out", "request"]


@pytest.mark.parametrize("settings, message", [
    ({"max_environments": 0}, "max_environments must be at least 1"),
    ({"provisioned": 3, "max_environments": 2}, "provisioned must be between 0 and max_environments (2)"),
    ({"workers": 0}, "workers per environment must be between 1 and 16"),
])
def test_bad_settings_are_refused_with_what_to_fix(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(FleetConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FleetConfig(**settings)


def test_provisioning_needs_a_warm_event(tmp_path: Path) -> None:
    with pytest.raises(FleetConfigError, match="warm_event"):
        Fleet(SPEC, FleetConfig(provisioned=1), run_dir=tmp_path)


def test_the_summary_counts_every_event(tmp_path: Path, clock: Clock) -> None:
    factory = Factory()
    with make_fleet(tmp_path, clock, factory, provisioned=1, max_environments=2) as fleet:
        call(fleet)
        clock.now += 100
        fleet.reap()
    summary = fleet.summary()
    # Every event numbered in the order it was recorded, from 1, none skipped
    assert [e["seq"] for e in fleet.log.events()] == list(range(1, len(fleet.log.events()) + 1))
    assert summary["init"] == 1 and summary["cold_starts"] == 0 and summary["stop"] == 1
    assert summary["environments_started"] == 1 and summary["peak_environments"] == 1
    assert summary["live_environments"] == 0 and summary["init_ms_median"] == 123.0
