"""Errors raised while getting model files through the cache tiers."""

from ..artifact import ArtifactError


class CacheError(ArtifactError):
    """Raised when a model file cannot be had from any tier; the base of this package's errors."""


class FetchError(CacheError):
    """Raised when the remote store cannot be reached or keeps failing after the retries."""


class CacheCapacityError(CacheError):
    """Raised when /tmp (or the configured cache size) cannot hold a file the model needs."""
