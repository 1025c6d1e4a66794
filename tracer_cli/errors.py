"""Typed errors. Each carries the one line a user sees and the exit code the CLI returns."""

from __future__ import annotations

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEEDS_HUMAN = 3  # a step needed the user's confirmation and there was no terminal to ask
EXIT_INTERRUPTED = 130


class TracerError(Exception):
    """An error the user can act on: the message says what is wrong and how to fix it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(TracerError):
    """Bad flags, environment variables or config file."""

    exit_code = EXIT_USAGE


class MacroError(ConfigError):
    """A macro file that cannot be run as written."""


class DisplayError(TracerError):
    """No display, a display we cannot use, or a monitor that does not exist."""

    exit_code = EXIT_USAGE


class DisplayLost(TracerError):
    """The desktop went away during a run (its X server or compositor ended)."""

    exit_code = EXIT_FAILED


class BackendError(TracerError):
    """The planner backend could not be reached or answered with an error."""

    exit_code = EXIT_FAILED


class PlanError(TracerError):
    """A model answer that does not match the plan contract (sent back to the model)."""

    exit_code = EXIT_FAILED


class ActionError(TracerError):
    """An action could not be executed safely (for example a point outside the monitor)."""

    exit_code = EXIT_FAILED


class StorageError(TracerError):
    """A file tracer keeps (a run record, a preview, a report) could not be written: the disk is
    full, read-only or gone."""

    exit_code = EXIT_FAILED


class Interrupted(TracerError):
    """The user stopped the run (the kill switch, tracer stop, Ctrl-C, the corner fail-safe)."""

    exit_code = EXIT_INTERRUPTED


# -- quoting what was given ---------------------------------------------------------------------

QUOTE_CHARS = 60  # an error cites at most this much of a value it was given


def cut(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` as an error may cite it: its first ``limit`` characters, and how long it was
    when that is not all of it."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """A value an error cites, quoted (repr) and cut like ``cut``: never a value in full,
    whatever its size (a 1 MB variable stays a short line)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"
