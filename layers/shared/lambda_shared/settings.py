"""One way to resolve a setting: an explicit argument, then the environment variable, then the default.

Each function builds its own settings object from these (``inference_runtime.config``,
``keepwarm/warming/settings.py``) and validates every value when it is created, so a typo
in a template parameter fails init with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .tiers import DEFAULT_TIER, TIER_NAMES


class ConfigError(ValueError):
    """Raised when an environment variable holds a value the function cannot use."""


def resolve(name: str, explicit: object | None = None, default: str | None = None,
            environ: Mapping[str, str] | None = None) -> str | None:
    """Explicit argument, then environment variable, then default (an empty variable counts as unset)."""
    if explicit is not None:
        return str(explicit)
    env = os.environ if environ is None else environ
    value = env.get(name)
    return value if value not in (None, "") else default


def resolve_int(name: str, explicit: int | None, default: int, *, minimum: int, maximum: int,
                environ: Mapping[str, str] | None = None) -> int:
    raw = resolve(name, explicit, str(default), environ)
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is out of range; use {minimum}..{maximum}")
    return value


def resolve_bool(name: str, explicit: bool | None, default: bool,
                 environ: Mapping[str, str] | None = None) -> bool:
    raw = resolve(name, None if explicit is None else str(explicit).lower(), str(default).lower(), environ)
    lowered = str(raw).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def resolve_choice(name: str, explicit: object | None, default: str, choices: tuple[str, ...],
                   environ: Mapping[str, str] | None = None) -> str:
    value = str(resolve(name, explicit, default, environ)).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def resolve_tier(name: str, explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """A tier name from the tier table (lambda_shared.tiers)."""
    tier = str(resolve(name, explicit, DEFAULT_TIER, environ)).strip().lower()
    if tier not in TIER_NAMES:
        raise ConfigError(f"{name}={tier!r} is not a tier; use one of {', '.join(TIER_NAMES)}")
    return tier


def resolve_int_list(name: str, explicit: object | None, default: tuple[int, ...], *, minimum: int,
                     maximum: int, environ: Mapping[str, str] | None = None) -> tuple[int, ...]:
    """A comma-separated list of integers, e.g. WARMUP_BATCH_SIZES=1,8."""
    if isinstance(explicit, (tuple, list)):
        raw = ",".join(str(v) for v in explicit)
    else:
        raw = str(resolve(name, explicit, ",".join(map(str, default)), environ))
    try:
        values = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a comma-separated list of integers") from exc
    if not all(minimum <= v <= maximum for v in values):
        raise ConfigError(f"{name}={raw!r}: every value must be in {minimum}..{maximum}")
    return values


def resolve_json_object(name: str, explicit: object | None = None,
                        environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A JSON object of string values (numbers and booleans are written as ONNX Runtime reads them)."""
    import json

    if isinstance(explicit, Mapping):
        given: object = dict(explicit)
    else:
        raw = resolve(name, explicit, None, environ)
        if raw is None:
            return {}
        try:
            given = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} is not JSON ({exc}); give an object such as "
                              '{"arena_extend_strategy": "kNextPowerOfTwo"}') from exc
    if not isinstance(given, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(given).__name__}")
    return {str(key): str(value).lower() if isinstance(value, bool) else str(value) for key, value in given.items()}
