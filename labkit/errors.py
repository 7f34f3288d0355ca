"""Exceptions that labkit raises for input a user can fix.

Every message names the value that failed, the accepted values and what to
do next, so the CLI and the widgets can show it as it is, without a
traceback.
"""


class LabkitError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(LabkitError, ValueError):
    """A run configuration value is invalid."""


class DatasetUnavailableError(LabkitError):
    """No source could provide a dataset's files."""


class DatasetFormatError(LabkitError):
    """A dataset file is truncated, corrupt or of an unexpected format."""


class UnknownNameError(LabkitError, KeyError):
    """A dataset, model or optimizer name is not registered."""

    def __str__(self):
        # KeyError quotes its argument; show the message as written.
        return str(self.args[0]) if self.args else ""


class InvalidHyperParameterError(LabkitError, ValueError):
    """An optimizer hyper-parameter is outside its valid range or type."""


class StoreError(LabkitError):
    """The results store cannot be opened or does not hold a record."""
