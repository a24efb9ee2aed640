"""SnapStart-like environments: forked from one initialised process, each restored as its own.

The standard tier's fleet initialises one zygote when it starts, then starts every
environment's runtime by forking it (tools/local/fleet/forking.py). What SnapStart
promises must hold: every restored environment has its own identity and says it was
restored, it serves the same model as an ordinary environment, and none outlives its
emulator.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tools.local.deployment import LocalDeployment, TierOptions
from tools.local.fleet.forking import SnapStartFleet
from tools.local.processes import children_of

pytestmark = pytest.mark.integration

TEXTS = ["SnapStart restores a snapshot", "each copy is its own environment"]


def warm(fleet: Any, hold_ms: int = 0) -> dict[str, Any]:
    event = {"httpMethod": "GET", "path": "/warm", "headers": {}, "body": None, "isBase64Encoded": False,
             "queryStringParameters": {"hold_ms": str(hold_ms)} if hold_ms else {}}
    return json.loads(fleet.invoke(event)["body"])


def predict(fleet: Any) -> np.ndarray:
    event = {"httpMethod": "POST", "path": "/predict", "headers": {"content-type": "application/json"},
             "body": json.dumps({"inputs": TEXTS}), "isBase64Encoded": False, "queryStringParameters": {}}
    return np.asarray(json.loads(fleet.invoke(event)["body"])["outputs"])


def wait_for(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "did not happen in time"
        time.sleep(0.05)


def test_forked_environments_are_restored_each_with_its_own_identity(artifact_dir: Path) -> None:
    with LocalDeployment(standard=TierOptions(max_environments=2, snapstart=True),
                         premium=TierOptions(max_environments=1)) as deployment:
        fleet = deployment.fleets["standard"]
        assert isinstance(fleet, SnapStartFleet)
        zygote = fleet._zygote
        assert zygote is not None
        # GIVEN the snapshot, initialised once before any request, single-threaded but for the
        # one thread onnxruntime starts when imported
        (snapshot,) = deployment.log.events("init", "StandardFunction")
        assert (snapshot["environment"], snapshot["during"]) == ("snapshot", "snapshot")
        assert fleet.snapshot["python_threads"] == 1 and fleet.snapshot["os_threads"] <= 2
        snapshot_instance = _snapshot_instance(fleet)
        # WHEN two requests at once start two environments from it (the second sent once the
        # first holds its environment, so that it cannot be served by the first one's)
        answers: list[dict[str, Any]] = []
        threads = [threading.Thread(target=lambda: answers.append(warm(fleet, 2000))) for _ in range(2)]
        threads[0].start()
        wait_for(lambda: any(s.busy for e in fleet.environments for s in e.slots))
        threads[1].start()
        for thread in threads:
            thread.join()
        forked = [c for c in children_of(zygote.pid)]
        # THEN each was restored, cold, with an identity of its own (not the snapshot's)
        assert [a["init_type"] for a in answers] == ["snap-start", "snap-start"]
        assert all(a["first_invocation"] and a["init"]["restored_from_snapshot"] for a in answers)
        instances = {a["instance"] for a in answers}
        assert len(instances) == 2 and snapshot_instance not in instances
        assert len(forked) == 2
        # AND a restored environment computes what an ordinary one does
        restored, ordinary = predict(fleet), predict(deployment.fleets["premium"])
        cosine = (restored * ordinary).sum(axis=1) / (np.linalg.norm(restored, axis=1) * np.linalg.norm(ordinary,
                                                                                                       axis=1))
        assert restored.shape == (2, 384) and cosine.min() >= 0.99999
        # WHEN one environment's emulator is killed outright
        environment = fleet.environments[0]
        emulator = environment.slots[0].worker._process  # type: ignore[attr-defined]
        os.killpg(emulator.pid, signal.SIGKILL)
        # THEN its forked runtime ends too (none outlives its environment)
        wait_for(lambda: len(children_of(zygote.pid)) == 1)
    # AND when the fleet stops, the zygote and every forked runtime are gone
    wait_for(lambda: zygote.poll() is not None)
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in forked)


def _snapshot_instance(fleet: SnapStartFleet) -> str:
    log = (fleet.run_dir / "snapshot" / "zygote.log").read_text()
    (line,) = [json.loads(x) for x in log.splitlines() if '"event":"before_snapshot"' in x]
    return str(line["instance"])


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("Z", "X")
    except OSError:
        return True
