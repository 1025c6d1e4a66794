"""`tracer node start`: make this machine a node of a Ray cluster that runs `tracer batch --ray`
tasks (tracer_cli/batch/node.py checks the machine and builds the `ray start` command; this
prints and runs it)."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Annotated, Optional

import typer
from rich.markup import escape

from tracer_cli.cli.console import err, guard

app = typer.Typer(help="This machine as a node of a Ray cluster running tracer batches "
                  "(tracer batch --ray).", no_args_is_help=True)


@app.command("start")
def start(
    displays: Annotated[int, typer.Option("--displays", "-n", min=1, max=256,
                                          help="Sandboxes this node runs at once (its display slots).")] = 2,
    address: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--address", help="The head node to join, HOST:PORT (default: start a head here).")] = None,
    resources: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--resources", help="More custom resources it offers, as JSON: '{\"gpu-box\": 1}' "
        "(tasks ask for them with \"resources\").")] = None,
    name: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--name", help="The node's name in the batch summary (default: its address).")] = None,
    port: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--port", min=1, max=65535, help="A head's port (Ray's default 6379).")] = None,
    cpus: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--cpus", min=0, help="CPUs it offers Ray (tasks take none; default: Ray counts them).")] = None,
    block: Annotated[bool, typer.Option(
        "--block", help="Stay in the foreground; Ctrl-C stops the node.")] = False,
) -> None:
    """Check that this machine can run sandboxes (Xvfb, openbox, Ray) and start Ray here with
    N display slots: a head node, or one joining --address. Stop it with `ray stop`.

    Exit codes: 0 started, 2 something is missing (the line says what to install), else
    `ray start`'s own.
    """
    from tracer_cli.batch import node

    with guard():
        version = node.check()
        argv = node.start_argv(displays, address, node.parse_resources(resources), name=name,
                               port=port, cpus=cpus, block=block)
        role = f"joining {address}" if address else "as a head node"
        err.print(f"tracer: starting a Ray node {escape(role)} with {displays} display slots "
                  f"(tracer {version}): {escape(shlex.join(argv))}", soft_wrap=True)
        from tracer_cli.batch.cluster import token_auth

        code = subprocess.call(argv, env=token_auth(dict(os.environ)))
        raise typer.Exit(code)
