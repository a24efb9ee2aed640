"""Errors the pre-traffic hook raises on its way to a verdict; each becomes a Failed verdict."""

from __future__ import annotations


class PreTrafficError(Exception):
    """Raised when the new version must not take traffic; the base of this package's errors."""


class HookEventError(PreTrafficError):
    """Raised when the invoking event lacks CodeDeploy's DeploymentId or LifecycleEventHookExecutionId."""


class ProvisioningFailedError(PreTrafficError):
    """Raised when Lambda reports the version's provisioned concurrency FAILED."""


class DeadlineError(PreTrafficError):
    """Raised when the version is not ready by the hook's deadline (PRETRAFFIC_TIMEOUT_S, or its own timeout)."""


class CheckFailedError(PreTrafficError):
    """Raised when /warm or the smoke /predict answers wrong: a status, a model, too few environments."""
