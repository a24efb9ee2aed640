"""The life of one execution environment: identity, the cold-start flag, the init trace."""

from .environment import consume_cold_start, init_type, instance_id, new_instance
from .trace import Phase, PhaseTrace

__all__ = ["Phase", "PhaseTrace", "consume_cold_start", "init_type", "instance_id", "new_instance"]
