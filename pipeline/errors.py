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
