"""The two consoles (results on stdout, everything else on stderr) and the error guard."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from tracer_cli.errors import EXIT_INTERRUPTED, TracerError

# soft_wrap: a message is one line however narrow the terminal (or pipe) is.
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
DEBUG = {"on": bool(os.environ.get("TRACER_DEBUG"))}


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


