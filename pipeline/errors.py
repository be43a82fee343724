"""Errors a user can act on. The CLI prints them as one line and exits non-zero, no traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a problem with the input, the configuration or the environment."""

    exit_code = 2


class ConfigError(PipelineError):
    """The study configuration (``layers/*.yaml``) is invalid."""


class DataMissingError(PipelineError):
    """A source file is not in the data directory."""

    exit_code = 3


class DataError(PipelineError):
    """A source file exists but cannot be used (corrupt, wrong CRS, missing column, ...)."""

    exit_code = 4


class WriteError(PipelineError):
    """An output cannot be written (read-only folder, disk full, file size limit); nothing was replaced."""

    exit_code = 6


class ResourceError(PipelineError):
    """The machine ran out of memory; nothing was replaced."""

    exit_code = 5


#: errno values of a failed write the user can fix (permissions, space, size limits, read-only disks).
WRITE_ERRNOS = ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EFBIG")
