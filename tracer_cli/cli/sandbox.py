"""`tracer sandbox start | list | stop | exec`: private desktops for tracer to work in
(tracer_cli/desktop/sandbox.py does the work; this parses and prints)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tracer_cli.cli.console import err, guard, out, stdout
from tracer_cli.errors import ConfigError

if TYPE_CHECKING:
    from tracer_cli.desktop.sandbox import Sandbox

app = typer.Typer(help="Private desktops (Xvfb, or Xephyr with --watch) for tracer to work in "
                  "while you keep your own mouse and keyboard.", no_args_is_help=True)

Size = Annotated[str, typer.Option("--size", help="The sandbox screen, WIDTHxHEIGHT.")]
Apps = Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
    "--app", help="A program to start in it (repeatable), e.g. --app 'xterm -T notes'.")]
Watch = Annotated[bool, typer.Option(
    "--watch", help="Show it in a window (Xephyr) on your own display.")]


@app.command("start")
def start(
    size: Size = "1280x800", watch: Watch = False, apps: Apps = None,
    name: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--name", help="Its name (default sb1, sb2, ...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """Start a sandbox desktop with a window manager and the given programs; it runs until
    `tracer sandbox stop NAME`. Point tracer at it with --display (printed)."""
    from tracer_cli.desktop import sandbox

    with guard():
        box = sandbox.start(size=size, watch=watch, apps=apps or [], name=name)
        if as_json:
            import json

            stdout().write(json.dumps({"name": box.name, "display": box.display,
                                         "xauthority": box.xauthority}) + "\n")
            return
        out.print(f"{box.name} {box.display}")
        err.print(f"sandbox {box.name} on display {box.display} ({box.width}x{box.height}"
                  f"{', shown in a window' if watch else ''}); act in it with: "
                  f"tracer do --display {box.display} ...; or run a program: tracer sandbox exec "
                  f"{box.name} CMD; stop it: tracer sandbox stop {box.name}", soft_wrap=True)


@app.command("list")
def list_sandboxes(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The sandboxes running now."""
    from tracer_cli.desktop import sandbox

    with guard():
        boxes = sandbox.listing()
        if as_json:
            import json

            stdout().write(json.dumps([{"name": b.name, "display": b.display, "pid": b.pgid,
                                          "size": f"{b.width}x{b.height}", "watch": b.watch,
                                          "groups": [b.pgid, *b.groups],
                                          "apps": b.apps} for b in boxes]) + "\n")
            return
        if not boxes:
            err.print("no sandboxes running (start one: tracer sandbox start)")
            return
        table = Table()
        for col in ("name", "display", "size", "pid", "up", "apps"):
            table.add_column(col)
        for b in boxes:
            table.add_row(b.name, b.display, f"{b.width}x{b.height}", str(b.pgid),
                          f"{time.time() - b.started:.0f}s", escape(", ".join(b.apps)))
        out.print(table)


@app.command("stop")
def stop(name: Annotated[str, typer.Argument(help="The sandbox (see tracer sandbox list).")]) -> None:
    """Stop a sandbox and every program in it."""
    from tracer_cli.desktop import sandbox

    with guard():
        sandbox.load(name).stop()
        err.print(f"sandbox {name} stopped")


@app.command("exec", context_settings={"allow_interspersed_args": False})
def exec_command(
    name: Annotated[str, typer.Argument(help="The sandbox.")],
    command: Annotated[list[str], typer.Argument(help="The program and its arguments.")],
    detach: Annotated[bool, typer.Option(
        "--detach", "-d", help="Leave it running (it ends with the sandbox).")] = False,
) -> None:
    """Run a program in a sandbox; without --detach wait for it and exit with its exit code."""
    from tracer_cli.desktop import sandbox

    with guard():
        if command[:1] == ["--"]:  # `exec NAME -- CMD ...`: the separator is not the program
            command = command[1:]
        if not command:
            raise ConfigError("no program to run", f"give one: tracer sandbox exec {name} -- CMD")
        box = sandbox.load(name)
        if not box.alive():
            box.stop()
            raise ConfigError(f"sandbox {name} has ended", "start a new one: tracer sandbox start")
        if detach:
            proc = box.exec(command)
            err.print(f"started {escape(command[0])} (pid {proc.pid}) in sandbox {name}")
            return
        try:
            done = subprocess.run(command, env=box.env(), stdout=stdout())  # its output is ours
        except FileNotFoundError:
            raise ConfigError(f"program {command[0]!r} not found",
                              "give a command on PATH or a full path") from None
        raise typer.Exit(done.returncode)


@contextmanager
def run_sandbox(size: str, apps: list[str], watch: bool = False) -> Iterator[Sandbox]:
    """A temporary sandbox for one `tracer do`, removed afterwards; says where it runs."""
    from tracer_cli.desktop import sandbox

    if err.is_terminal:
        with err.status("starting a sandbox desktop..."):
            box = sandbox.start(size=size, apps=apps, watch=watch, temporary=True)
    else:
        box = sandbox.start(size=size, apps=apps, watch=watch, temporary=True)
    try:
        err.print(f"tracer: working in sandbox {box.name} ({box.display}, {box.width}x{box.height})")
        yield box
    finally:
        box.stop()
