"""The local fleet: execution environments with Lambda's lifecycle, one real emulator process per worker.

``Fleet`` runs one function's environments (cold starts up to a limit, 429 beyond it,
idle reclaim and recycling from ``tools.lifecycle_model``, provisioned environments,
replacement of dead ones); ``LifecycleLog`` records every event and sums them up.
"""

from .environment import ON_DEMAND, PROVISIONED, Environment
from .errors import FleetConfigError, ThrottledError
from .events import EVENT_KINDS, LifecycleLog
from .fleet import Fleet, FleetConfig, Invocation, WorkerFactory

__all__ = ["EVENT_KINDS", "ON_DEMAND", "PROVISIONED", "Environment", "Fleet", "FleetConfig", "FleetConfigError",
           "Invocation", "LifecycleLog", "ThrottledError", "WorkerFactory"]
