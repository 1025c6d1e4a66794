"""The two consoles (results on stdout, everything else on stderr) and the error guard."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

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
HEAD_ROWS, TAIL_ROWS = 20, 5  # a long table shows its first and last rows, "... N more" between
T = TypeVar("T")


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
    """Turn our typed errors into one line and an exit code; tracebacks only with --debug."""
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


