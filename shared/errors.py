"""Known, user-facing errors: each carries one line that names the file and the fix."""


class RestoreError(Exception):
    """Base class of errors a CLI turns into one red line and an exit code."""

    exit_code = 1


class ImageReadError(RestoreError):
    """An image file is missing, truncated, corrupt, too large or not an image."""


class ImageWriteError(RestoreError):
    """An image cannot be written in the requested format."""


class ConfigError(RestoreError):
    """A config file or value is malformed or has unknown keys."""


class CacheError(RestoreError):
    """A cache is missing, incomplete, corrupt, or was built by something else."""


class SplitError(RestoreError):
    """A split name is unknown, or its data root is missing or in the wrong layout."""
