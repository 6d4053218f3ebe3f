"""Errors raised for bad input: each names the file, the field and what was expected.

Every problem a user can cause with a file or a command-line value is an `InputError` (or a
subclass): `uvts` prints its one-line message and exits with status 2, never a traceback (unless
`--debug`). Values shown in messages are shortened, so a long entry never floods the terminal.
"""

from __future__ import annotations

MAX_SHOWN = 120  # characters of a found value shown in a message


def shorten(value: object, limit: int = MAX_SHOWN) -> str:
    """`repr(value)`, cut to `limit` characters (with an ellipsis and the full length)."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value's repr must never turn an error into a crash
        text = f"<{type(value).__name__}>"
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text):,} characters)"
    return text


class InputError(ValueError):
    """A user-supplied file or value is wrong."""

    def __init__(self, where: str, field: str, expected: str, got: object = None):
        field = str(field) if str(field).strip() else f"{field!r} (an empty name)"
        self.where, self.field, self.expected, self.got = where, field, expected, got
        msg = f"{where}: field '{field}': expected {expected}"
        if got is not None:
            msg += f", got {shorten(got)}"
        super().__init__(msg)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.where, self.field, self.expected, self.got))


class ParameterError(InputError):
    """A model parameter has an unknown name or an invalid value."""


class ScenarioError(InputError):
    """A scenario or intervention file is missing, unreadable or invalid."""


class ExperimentError(InputError):
    """An experiment (sweep) file is missing, unreadable or invalid."""


class CalibrationError(InputError):
    """A calibration file is missing, unreadable or invalid."""


class OutputError(InputError):
    """An output folder cannot be used: another command is writing to it, or it holds files
    this command did not write."""


class UsageError(InputError):
    """A command-line value is wrong (e.g. `--replicates 0`) or the work asked for is too large."""
