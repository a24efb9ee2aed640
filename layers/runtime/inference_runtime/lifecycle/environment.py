"""What this execution environment is: its instance id, init type, and the cold-start flag.

One module-level flag knows whether this environment has served a request yet; it is
flipped exactly once, by ``consume_cold_start``. The instance id names the environment
in responses and logs, so a client (and the keep-warm function) can count distinct
environments. SnapStart restores call ``new_instance`` so every restored copy of one
snapshot gets its own id.
"""

from __future__ import annotations

import os
import threading

from lambda_shared.env import AWS_LAMBDA_INITIALIZATION_TYPE

_lock = threading.Lock()


def _new_id() -> str:
    return os.urandom(6).hex()  # 48 random bits, as uuid4().hex[:12] (without uuid's import)


_instance_id = _new_id()
_cold = True


def instance_id() -> str:
    """The id of this execution environment (new after every SnapStart restore)."""
    return _instance_id


def consume_cold_start() -> bool:
    """True for the first request this environment serves, False ever after."""
    global _cold
    with _lock:
        try:
            return _cold
        finally:
            _cold = False


#: AWS_LAMBDA_INITIALIZATION_TYPE of an init the first request waits for (and when it is unset, locally)
ON_DEMAND = "on-demand"


def init_type() -> str:
    """How Lambda initialised this environment: on-demand, provisioned-concurrency or snap-start."""
    return os.environ.get(AWS_LAMBDA_INITIALIZATION_TYPE) or ON_DEMAND


def new_instance() -> str:
    """Give this environment a fresh identity (after a SnapStart restore): new id, cold again."""
    global _instance_id, _cold
    with _lock:
        _instance_id = _new_id()
        _cold = True
        return _instance_id
