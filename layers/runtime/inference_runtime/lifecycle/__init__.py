"""The life of one execution environment: identity, the cold-start flag, the init trace."""

from .environment import consume_cold_start, init_type, instance_id, new_instance
from .phases import InitPhase, RestorePhase
from .trace import Phase, PhaseTrace

__all__ = [
    "InitPhase", "Phase", "PhaseTrace", "RestorePhase",
    "consume_cold_start", "init_type", "instance_id", "new_instance",
]
