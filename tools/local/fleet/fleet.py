"""A fleet of execution environments for one function, with Lambda's lifecycle.

What Lambda does with a function's execution environments, done with real emulator
processes (each worker is one Runtime Interface Emulator running the function):

- an invocation takes an idle environment, the most recently used first; finding none,
  it gets a new one and pays its init (a cold start), up to ``max_environments``; beyond
  that it fails at once with ``ThrottledError`` (Lambda's 429), never waiting in a queue
  that would hide the cold starts it stands for;
- an on-demand environment that has been idle for a time drawn from the lifecycle model
  (``tools.lifecycle_model``, seeded) is reclaimed, and one older than the model's maximum
  age is recycled once it is idle: the next request starts a new one, cold;
- ``provisioned`` environments are initialised before traffic (``start()``), are never
  reclaimed, and are replaced in the background when they die; requests beyond them
  spill over to on-demand environments, as with provisioned concurrency;
- a worker that dies mid-invocation (its process killed, a crash, a timeout) gives its
  caller a function error at once (``Runtime.ExitError``, ``Sandbox.Timedout``) and retires
  its environment: it takes no more requests, and is stopped when its other workers are idle;
- a caller never waits for processes to stop: what its invocation retires (a dead worker, a
  recycled environment) is stopped in the background once it has its answer (``ended``);
- every event goes to the ``LifecycleLog``, numbered in the order it happened (``seq``).

Times are on the fleet's clock: pass a model already ``scaled()`` by the time-compression
factor. A reaper thread applies reclaim, recycle and the provisioned count between requests.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.lifecycle_model import DEFAULT_LIFECYCLE, LifecycleModel

from ..emulator import FunctionSpec, InvokeError, decode_result
from .environment import ON_DEMAND, PROVISIONED, READY, RETIRING, STARTING, STOPPED, Environment, Slot, Worker
from .errors import FleetConfigError, ThrottledError
from .events import LifecycleLog
from .outcome import Outcome, classify, unreachable

#: Makes the worker for (environment id, worker index, environment variables, log file).
WorkerFactory = Callable[[str, int, dict[str, str], Path], Worker]
MAX_WORKERS = 16


@dataclass(frozen=True)
class FleetConfig:
    """How many environments one function may have, how many are provisioned, and their lifecycle."""

    max_environments: int = 4
    provisioned: int = 0
    workers: int = 1
    lifecycle: LifecycleModel = DEFAULT_LIFECYCLE
    seed: int = 0
    #: Seconds between the reaper's passes; None: a tenth of the shortest idle time, 0.05 to 1 s.
    reap_interval_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_environments < 1:
            raise FleetConfigError(f"max_environments must be at least 1, got {self.max_environments}")
        if not 0 <= self.provisioned <= self.max_environments:
            raise FleetConfigError(f"provisioned must be between 0 and max_environments ({self.max_environments}), "
                                   f"got {self.provisioned}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise FleetConfigError(f"workers per environment must be between 1 and {MAX_WORKERS}, got {self.workers}")

    @property
    def concurrency(self) -> int:
        return self.max_environments * self.workers

    def reap_interval(self) -> float:
        if self.reap_interval_s is not None:
            return self.reap_interval_s
        return min(1.0, max(0.05, self.lifecycle.idle_reclaim.shortest_s / 10))


@dataclass(frozen=True)
class Invocation:
    """One invocation's answer: the payload, Lambda's function-error marker, and where it ran."""

    payload: bytes
    function_error: str | None
    environment: str
    worker: int
    cold: bool
    duration_ms: float


class Fleet:
    """The execution environments of one function; see the module's docstring."""

    def __init__(self, spec: FunctionSpec, config: FleetConfig | None = None, *,
                 env: dict[str, str] | None = None, warm_event: dict[str, Any] | None = None,
                 log: LifecycleLog | None = None, run_dir: Path | None = None,
                 worker_factory: WorkerFactory | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.config = config or FleetConfig()
        if (self.config.provisioned or self.config.workers > 1) and warm_event is None:
            raise FleetConfigError(f"{spec.logical_id}: provisioned environments and workers > 1 are initialised "
                                   "by a warm invocation; give the fleet a warm_event")
        self.name = spec.logical_id
        self.log = log or LifecycleLog(clock=clock)
        self._env = dict(env or {})
        self._warm_payload = json.dumps(warm_event).encode() if warm_event is not None else b""
        self._own_run_dir = run_dir is None
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix=f"fleet-{self.name}-"))
        self._factory = worker_factory or self._emulator_worker
        self._clock = clock
        # Seeded, to draw the same reclaim times run after run: a simulation, not a secret.
        self._rng = random.Random(f"{self.config.seed}:{self.name}")  # nosec B311
        self._invoke_timeout_s = spec.timeout_s + 30.0  # the emulator times the function out first
        self._lock = threading.Lock()
        self._environments: list[Environment] = []
        self._counter = 0
        self._peak = 0
        self._stopped = False
        self._reaper_stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self._background: list[threading.Thread] = []
        self._observers: list[Callable[[Invocation, str], None]] = []

    def add_observer(self, observer: Callable[[Invocation, str], None]) -> None:
        """Call ``observer(invocation, during)`` after every invocation (tests and tools watch with it)."""
        self._observers.append(observer)

    # --- the worker processes ---------------------------------------------------------
    def _emulator_worker(self, environment_id: str, index: int, env: dict[str, str], log_path: Path) -> Worker:
        from ..emulator import EmulatedFunction

        return EmulatedFunction(self.spec, env=env, log_path=log_path)

    def _environment_variables(self, environment: Environment) -> dict[str, str]:
        # Each environment has its own /tmp, shared by its workers (as on LMI), unless the
        # caller chose one cache for all. Workers of one environment share one model server
        # there (MODEL_SERVER=shared, docs/workers.md), as the GPU tier's do, unless the caller
        # says otherwise; it ends when the environment's /tmp is removed with it.
        shared = {"MODEL_SERVER": "shared"} if self.config.workers > 1 else {}
        return {"MODEL_CACHE_DIR": str(environment.cache_dir), **shared, **self._env}

    # --- lifecycle of the fleet ---------------------------------------------------------
    def start(self) -> Fleet:
        """Initialise the provisioned environments (before any traffic), then start the reaper."""
        with self._lock:
            environments = [self._new_environment(PROVISIONED) for _ in range(self.config.provisioned)]
        threads = [threading.Thread(target=self._replace, args=(e,), daemon=True) for e in environments]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ready = [e for e in self.environments if e.kind == PROVISIONED and e.state == READY]
        if len(ready) < self.config.provisioned:
            deaths = self.log.events("death", self.name)
            self.stop()
            reason = deaths[-1].get("error") or deaths[-1].get("cause") if deaths else "unknown"
            raise InvokeError(f"{self.name}: {len(ready)} of {self.config.provisioned} provisioned environments "
                              f"initialised ({reason}); see the workers' logs under {self.run_dir}")
        self._reaper = threading.Thread(target=self._reap_forever, name=f"reaper-{self.name}", daemon=True)
        self._reaper.start()
        return self

    def stop(self) -> None:
        self._reaper_stop.set()
        if self._reaper is not None:
            self._reaper.join()
        with self._lock:
            self._stopped = True
            environments = [e for e in self._environments if e.live]
            for environment in environments:
                environment.state = STOPPED
                self.log.record("stop", self.name, environment.id, kind=environment.kind)
            self._environments = []
        self._stop_workers([w for e in environments for w in e.workers()], environments)
        self.settle(timeout_s=10)
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait (at most ``timeout_s``) for the work the fleet does in the background: workers that
        initialise beside a request, replacements, retired environments being stopped."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            pending = list(self._background)
        for thread in pending:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _in_background(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._background = [t for t in self._background if t.is_alive()]
            self._background.append(thread)
            # Started under the lock, so settle() never finds a thread it cannot join yet.
            thread.start()

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- invocations -----------------------------------------------------------------
    def invoke_raw(self, payload: bytes) -> Invocation:
        """Run one invocation on an idle environment, or a new one; ThrottledError at the limit."""
        slot: Slot | None = None
        with self._lock:
            if self._stopped:
                raise InvokeError(f"{self.name}: the fleet is stopped")
            taken = self._take_idle_slot()
            if taken is not None:
                environment, slot = taken
            elif self._live_count() >= self.config.max_environments:
                self.log.record("throttle", self.name, "-", limit=self.config.max_environments,
                                workers=self.config.workers)
                raise ThrottledError(self.name, self.config.max_environments, self.config.workers)
            else:
                environment = self._new_environment(ON_DEMAND)
        if slot is None:
            slot = self._start_environment(environment, True)
            assert slot is not None  # nosec B101 (a request's environment reserves its first worker)
        return self._run(environment, slot, payload, during="request")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke with ``event``; return the function's result, or raise InvokeError if it failed."""
        return decode_result(self.name, self.invoke_raw(json.dumps(event).encode()).payload)

    def _take_idle_slot(self) -> tuple[Environment, Slot] | None:
        ready = [e for e in self._environments if e.state == READY and e.idle_slot() is not None]
        if not ready:
            return None
        # Most recently used first: traffic stays on warm environments, the others idle out.
        environment = max(ready, key=lambda e: e.last_used)
        slot = environment.idle_slot()
        assert slot is not None  # nosec B101
        slot.busy = True
        environment.idle_since = environment.reclaim_at = environment.reclaim_drawn_s = None
        return environment, slot

    def _live_count(self) -> int:
        return sum(1 for e in self._environments if e.live)

    def _new_environment(self, kind: str) -> Environment:
        """A placeholder that holds its place under the limit while its processes start (lock held)."""
        self._counter += 1
        environment_id = f"{self.name.removesuffix('Function').lower()}-{self._counter:03d}"
        environment = Environment(environment_id, kind, self._clock(),
                                  self.run_dir / environment_id / "tmp" / "model-cache")
        self._environments.append(environment)
        self._peak = max(self._peak, self._live_count())
        return environment

    def _start_environment(self, environment: Environment, for_request: bool) -> Slot | None:
        """Start the environment's workers; the first serves the request, the others initialise now."""
        environment.cache_dir.mkdir(parents=True, exist_ok=True)
        variables = self._environment_variables(environment)
        workers: list[Worker] = []
        try:
            for index in range(self.config.workers):
                log_path = self.run_dir / environment.id / f"worker-{index}.log"
                workers.append(self._factory(environment.id, index, variables, log_path))
                workers[-1].start()
        except Exception as exc:
            with self._lock:
                environment.state = STOPPED
                self._environments = [e for e in self._environments if e is not environment]
                self.log.record("death", self.name, environment.id, kind=environment.kind, cause="start failed",
                                during="start", error=str(exc)[:500])
            self._stop_workers(workers, [environment])
            raise InvokeError(f"{self.name}: environment {environment.id} could not start: {exc}") from exc
        with self._lock:
            environment.slots = [Slot(index, worker) for index, worker in enumerate(workers)]
            if environment.state == STARTING:
                environment.state = READY
            stopped = environment.state == STOPPED  # the fleet stopped while it started
        if stopped:
            self._stop_workers(workers, [])
            raise InvokeError(f"{self.name}: the fleet is stopped")
        reserved = environment.slots[0] if for_request else None
        during = "scale-out" if for_request else ("provisioning" if environment.kind == PROVISIONED else "start")
        initialising = [threading.Thread(target=self._run, args=(environment, slot, self._warm_payload),
                                         kwargs={"during": during}, daemon=True)
                        for slot in environment.slots if slot is not reserved]
        for thread in initialising:
            thread.start()
        if for_request:
            with self._lock:
                self._background.extend(initialising)
        else:
            for thread in initialising:
                thread.join()
        return reserved

    def _run(self, environment: Environment, slot: Slot, payload: bytes, *, during: str) -> Invocation:
        cold = not slot.initialised
        started = time.perf_counter()
        try:
            status, body = slot.worker.post_invocation(payload, self._invoke_timeout_s)
            outcome = classify(status, body, function=self.name)
        except InvokeError as exc:
            outcome = unreachable(self.name, str(exc))
        duration_ms = (time.perf_counter() - started) * 1000
        if cold and outcome.death is None:
            reported = slot.worker.init_report_ms()
            self.log.record("init", self.name, environment.id, kind=environment.kind, worker=slot.index,
                            during=during, init_ms=round(reported[-1] if reported else duration_ms, 1),
                            first_invocation_ms=round(duration_ms, 1), instance=_instance(outcome.payload))
        to_stop, ended = self._release(environment, slot, outcome)
        invocation = Invocation(outcome.payload, outcome.function_error, environment.id, slot.index, cold, duration_ms)
        for observer in self._observers:
            observer(invocation, during)
        # The answer is ready: logged now, before anything it leaves behind is stopped, so the
        # log shows that no caller waits for a dead or recycled environment's processes (a
        # graceful stop may take seconds, which Lambda's callers never wait for).
        self.log.record("invocation", self.name, environment.id, kind=environment.kind, worker=slot.index,
                        during=during, cold=cold, function_error=outcome.function_error,
                        duration_ms=round(duration_ms, 1))
        if to_stop:
            self._in_background(self._retire, environment, to_stop, ended)
        return invocation

    def _release(self, environment: Environment, slot: Slot, outcome: Outcome) -> tuple[list[Worker], str | None]:
        """Free the slot; return the workers to stop, and why the environment ended if it did (else None)."""
        to_stop: list[Worker] = []
        ended: str | None = None
        with self._lock:
            now = self._clock()
            slot.busy = False
            slot.initialised = True
            environment.invocations += 1
            environment.last_used = now
            if outcome.death is not None:
                slot.dead = True
                to_stop.append(slot.worker)
                if environment.state != RETIRING and environment.state != STOPPED:
                    environment.state = RETIRING
                    self.log.record("death", self.name, environment.id, kind=environment.kind, worker=slot.index,
                                    cause=outcome.death, during="invocation",
                                    age_s=round(now - environment.created_at, 3))
            if environment.state == RETIRING and environment.fully_idle:
                to_stop.extend(s.worker for s in environment.slots if not s.dead)
                self._remove(environment)
                ended = "death"
            elif environment.state == READY and environment.fully_idle:
                recycled = self._became_idle(environment, now)
                if recycled:
                    to_stop.extend(recycled)
                    ended = "recycle"
        return to_stop, ended

    def _retire(self, environment: Environment, workers: list[Worker], ended: str | None) -> None:
        """Stop workers taken out of service; log ``ended`` once the last of an environment's has stopped."""
        self._stop_workers(workers, [environment] if environment.state == STOPPED else [])
        if ended is not None:
            self.log.record("ended", self.name, environment.id, kind=environment.kind, after=ended)

    def _became_idle(self, environment: Environment, now: float) -> list[Worker]:
        """Recycle an old on-demand environment, or draw how long it may stay idle (lock held)."""
        environment.idle_since = now
        if environment.kind != ON_DEMAND:
            return []  # provisioned environments stay initialised
        recycle = self._recycle_details(environment, now)
        if recycle is not None:
            self.log.record("recycle", self.name, environment.id, kind=environment.kind, **recycle)
            self._remove(environment)
            return environment.workers()
        environment.reclaim_drawn_s = self.config.lifecycle.idle_reclaim.draw(self._rng)
        environment.reclaim_at = now + environment.reclaim_drawn_s
        return []

    def _remove(self, environment: Environment) -> None:
        environment.state = STOPPED
        self._environments = [e for e in self._environments if e is not environment]

    # --- the reaper ------------------------------------------------------------------------
    def _reap_forever(self) -> None:
        while not self._reaper_stop.wait(self.config.reap_interval()):
            self.reap()

    def reap(self) -> None:
        """One pass: reclaim idle environments past their time, recycle old ones, notice deaths,
        and start replacements up to the provisioned count."""
        retired: list[tuple[Environment, str]] = []
        with self._lock:
            if self._stopped:
                return
            now = self._clock()
            for environment in list(self._environments):
                if environment.state != READY or not environment.fully_idle:
                    continue
                event = self._idle_event(environment, now)
                if event is not None:
                    kind, details = event
                    self.log.record(kind, self.name, environment.id, kind=environment.kind, **details)
                    self._remove(environment)
                    retired.append((environment, kind))
            live_provisioned = sum(1 for e in self._environments if e.kind == PROVISIONED and e.state in
                                   (STARTING, READY))
            room = self.config.max_environments - self._live_count()
            replacements = [self._new_environment(PROVISIONED)
                            for _ in range(max(0, min(self.config.provisioned - live_provisioned, room)))]
        for environment, kind in retired:
            self._retire(environment, environment.workers(), kind)
        for environment in replacements:
            self._in_background(self._replace, environment)

    def _idle_event(self, environment: Environment, now: float) -> tuple[str, dict[str, Any]] | None:
        # An initialised worker has its runtime process; the emulator alone would start a new
        # runtime on the next invocation, a cold start in an environment that looks warm.
        if not all(s.worker.alive() and (not s.initialised or s.worker.runtime_pids()) for s in environment.slots):
            return "death", {"cause": "exited while idle", "during": "idle"}
        if environment.kind != ON_DEMAND:
            return None
        if environment.reclaim_at is not None and now >= environment.reclaim_at:
            idle = now - (environment.idle_since or now)
            return "reclaim", {"idle_s": round(idle, 3), "drawn_s": round(environment.reclaim_drawn_s or 0, 3),
                               "invocations": environment.invocations}
        recycle = self._recycle_details(environment, now)
        return None if recycle is None else ("recycle", recycle)

    def _recycle_details(self, environment: Environment, now: float) -> dict[str, Any] | None:
        """What the log says of recycling ``environment`` now, or None while it is younger than the maximum age."""
        age = now - environment.created_at
        if age < self.config.lifecycle.max_age_s:
            return None
        return {"age_s": round(age, 3), "max_age_s": self.config.lifecycle.max_age_s,
                "invocations": environment.invocations}

    def _replace(self, environment: Environment) -> None:
        try:
            self._start_environment(environment, False)
        except InvokeError:
            pass  # logged as a death at start; the next pass tries again

    def _stop_workers(self, workers: list[Worker], environments: list[Environment]) -> None:
        threads = [threading.Thread(target=w.stop, daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for environment in environments:
            if environment.state == STOPPED:
                # Lambda discards an environment's /tmp with it; its workers' logs stay.
                shutil.rmtree(environment.cache_dir.parent, ignore_errors=True)

    # --- what is there ---------------------------------------------------------------------
    @property
    def environments(self) -> list[Environment]:
        with self._lock:
            return [e for e in self._environments if e.live]

    def summary(self) -> dict[str, Any]:
        """The lifecycle log's counts for this function, and how many environments it has now and at most."""
        with self._lock:
            live = [e for e in self._environments if e.live]
            state = {"live_environments": len(live),
                     "provisioned_live": sum(1 for e in live if e.kind == PROVISIONED),
                     "peak_environments": self._peak,
                     "max_environments": self.config.max_environments, "workers": self.config.workers,
                     "provisioned": self.config.provisioned}
        return {**state, **self.log.summary().get(self.name, {})}


def _instance(payload: bytes) -> str | None:
    """The instance id the inference function reports in its answer, when there is one."""
    try:
        result = json.loads(payload)
        return json.loads(result["body"]).get("instance")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
