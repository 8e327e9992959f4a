"""Errors meant for the user: each one is shown as a single line."""


class FPError(Exception):
    """Base class of errors that the CLI prints as one line (exit code 2)."""


class MediaError(FPError):
    """A media file cannot be read, is empty, truncated or has no usable stream."""


class IndexStoreError(FPError):
    """The index folder is missing, locked, corrupt or was built differently."""


class ConfigError(FPError, ValueError):
    """A setting of the wrong type or outside its bounds (`fp.config.Config`)."""


class ConfigMismatchError(IndexStoreError):
    """A query or an update uses a configuration other than the index's."""


class Cancelled(FPError):
    """A match was stopped before it finished (a service request past its time limit)."""
