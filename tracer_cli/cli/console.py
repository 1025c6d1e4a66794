"""The two consoles (results on stdout, everything else on stderr) and the error guard."""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.segment import Segment

from tracer_cli.errors import EXIT_INTERRUPTED, TracerError
from tracer_cli.redact import redact


class _Console(Console):
    """A console that takes secrets out of all it writes (redact.py): every print, table, panel
    and live display goes through this one method on its way to the terminal."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return redact(super()._render_buffer(buffer))


# soft_wrap: a message is one line however narrow the terminal (or pipe) is.
err = _Console(stderr=True, highlight=False, soft_wrap=True)
out = _Console(highlight=False, soft_wrap=True)
DEBUG = {"on": bool(os.environ.get("TRACER_DEBUG"))}
# What a command promises on stdout goes to ``stream`` once divert_stdout() has run.
_PROMISED: dict[str, Any] = {}


def stdout() -> TextIO:
    """Where a command writes what it promises on stdout (its results, its events)."""
    return _PROMISED.get("stream") or sys.stdout


def quiet_threads() -> None:
    """A background thread that dies (a library's listener whose display went away) is one line
    on stderr, not a traceback; the run it served learns of the loss its own way (the desktop
    watch) and ends with one line. ``--debug`` shows the traceback."""
    import threading

    shown = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if DEBUG["on"]:
            shown(args)
            return
        if isinstance(args.exc_value, ConnectionError | OSError) or \
                type(args.exc_value).__name__ == "ConnectionClosedError":
            return  # the display or a socket went away: said once, by whoever watches it
        name = args.thread.name if args.thread is not None else "a thread"
        err.print(f"tracer: warning: {escape(name)} stopped: "
                  f"{escape(type(args.exc_value).__name__)}: {escape(str(args.exc_value))}")

    threading.excepthook = hook


def keep_stdout_for_results() -> None:
    """From the command's start on (``guard``), keep stdout for what it promises (the real
    ``tracer`` process does this; in-process callers such as tests keep their own streams)."""
    _PROMISED["divert"] = True


def divert_stdout() -> None:
    """Keep the process's stdout for what the command promises, and send everything else that
    would land there (a library's print(), such as python-xlib's "no xauthority details"
    warnings, or C-level logging) to stderr: file descriptor 1 and ``sys.stdout`` both point at
    stderr from now on; ``stdout()`` and the ``out`` console write to the real stdout."""
    if "stream" in _PROMISED or not _PROMISED.get("divert"):
        return
    original = sys.stdout
    try:
        original.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no stdout at all: nothing to keep apart
        return
    stream = os.fdopen(saved, "w", encoding=getattr(original, "encoding", None) or "utf-8",
                       errors=getattr(original, "errors", None) or "strict", closefd=False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _PROMISED.update(stream=stream, saved=saved, original=original)
    out.file = stream
    atexit.register(stream.flush)


@contextmanager
def stdout_restored() -> Iterator[None]:
    """The real stdout back on descriptor 1 and ``sys.stdout`` for a while (the MCP SDK's stdio
    transport claims descriptor 1 itself)."""
    saved = _PROMISED.get("saved")
    if saved is None:
        yield
        return
    sys.stderr.flush()
    os.dup2(saved, 1)
    sys.stdout = _PROMISED["original"]
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(2, 1)
        sys.stdout = sys.stderr


HEAD_ROWS, TAIL_ROWS = 20, 5  # a long table shows its first and last rows, "... N more" between
T = TypeVar("T")


def counted(n: int, noun: str) -> str:
    """``1 step``, ``2 steps``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def elide(rows: Sequence[T], head: int = HEAD_ROWS, tail: int = TAIL_ROWS) -> tuple[list[T], int, list[T]]:
    """The first ``head`` and the last ``tail`` of ``rows``, and how many are left out between
    them: what a table prints of a 50,000-step run (all of it would take half a minute)."""
    if len(rows) <= head + tail + 1:
        return list(rows), 0, []
    return list(rows[:head]), len(rows) - head - tail, list(rows[len(rows) - tail:])


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A ``(done, total)`` callback for the core's long loops (finding a macro's anchors) that
    shows a progress bar on stderr, at a terminal only, from its first call to the end."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, console=err, transient=True, disable=not err.is_terminal)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        bar.stop()


@contextmanager
def guard() -> Iterator[None]:
    """Turn our typed errors into one line and an exit code; tracebacks only with --debug.
    From here on stdout holds only what the command promises (``divert_stdout``)."""
    divert_stdout()
    try:
        yield
    except TracerError as exc:
        if DEBUG["on"]:
            raise
        err.print(f"[bold red]tracer: error:[/] {escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("tracer: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


