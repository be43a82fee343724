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


class AlreadyRunningError(PipelineError):
    """The same stage is already writing the same files (another run in the same folder); nothing was changed."""

    exit_code = 75


class ResourceError(PipelineError):
    """The machine ran out of memory; nothing was replaced."""

    exit_code = 5


#: errno values of a failed write the user can fix (permissions, space, size limits, read-only disks).
WRITE_ERRNOS = ("EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "EFBIG")


def resource_failure(exc: BaseException, command: str) -> tuple[str, int] | None:
    """The one-line message and exit code of running out of memory or of a failed write, else None.

    Parameters
    ----------
    exc
        What a stage raised.
    command
        The stage, for the message.

    Returns
    -------
    tuple of (str, int) or None
        None for an error that is not one of these (it keeps its traceback: a defect).
    """
    import errno

    kept = "previous outputs are left as they were"
    if isinstance(exc, MemoryError):
        return (f"out of memory ({command}); {kept}. Close other programs, give the machine more memory, or "
                "coarsen the grid (layers/accessibility.yaml: accessibility.resolution_m)", ResourceError.exit_code)
    if isinstance(exc, OSError) and errno.errorcode.get(exc.errno or 0) in WRITE_ERRNOS:
        return (f"cannot write {exc.filename or 'an output'}: {exc.strerror} ({command}); {kept}. Free disk space, "
                "raise the file size limit (ulimit -f) or choose a writable OUT", WriteError.exit_code)
    return None
