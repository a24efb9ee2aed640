"""Errors raised while reading, writing or verifying a model artifact."""


class ArtifactError(Exception):
    """Raised when a model artifact cannot be used; the base of this package's errors."""


class ManifestError(ArtifactError):
    """Raised when a manifest is missing, unreadable, or does not describe a usable artifact."""


class IntegrityError(ArtifactError):
    """Raised when a file's size or sha256 differs from what the manifest records."""
