"""Errors raised while choosing how many environments keep-warm pings."""

from __future__ import annotations


class PrewarmError(Exception):
    """Raised when a pre-warming decision cannot be made; the base of this package's errors."""


class PolicyConfigError(PrewarmError, ValueError):
    """Raised when a policy name is unknown or one of its parameters is out of range."""


class HistoryError(PrewarmError):
    """Raised when a tier's invocation history cannot be read from CloudWatch, or makes no sense."""
