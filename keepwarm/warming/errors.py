"""Errors raised while keep-warm decides how many environments to ping."""

from __future__ import annotations

from lambda_shared.settings import ConfigError


class PrewarmError(Exception):
    """Raised when a pre-warming decision cannot be made; the base of this package's errors."""


class PolicyConfigError(PrewarmError, ConfigError):
    """Raised when a policy name is unknown or one of its parameters is out of range."""


class HistoryError(PrewarmError):
    """Raised when a tier's invocation history cannot be read from CloudWatch, or makes no sense."""
