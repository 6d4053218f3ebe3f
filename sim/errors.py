"""Errors raised for bad input: each names the file, the field and what was expected."""

from __future__ import annotations


class InputError(ValueError):
    """A user-supplied file or value is wrong."""

    def __init__(self, where: str, field: str, expected: str, got: object = None):
        self.where, self.field, self.expected, self.got = where, field, expected, got
        msg = f"{where}: field '{field}': expected {expected}"
        if got is not None:
            msg += f", got {got!r}"
        super().__init__(msg)


class ParameterError(InputError):
    """A model parameter has an unknown name or an invalid value."""


class ScenarioError(InputError):
    """A scenario file is missing, unreadable or invalid."""
