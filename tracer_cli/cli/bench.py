"""`tracer bench`: the built-in suite of small desktop tasks, run through `tracer batch` in
sandboxes with the model and settings given, and scored (tracer_cli/bench does the work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tracer_cli.cli.batch import RayAddress, Retries, common_args, exit_code, run_batch
from tracer_cli.cli.console import err, guard, out, stdout
from tracer_cli.cli.options import Replan, SpeculativeSteps, model_options


def _fmt(value: Any, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


@model_options
def bench_command(
    names: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--tasks", help="Comma-separated task names (default: all; see --list).")] = None,
    repeat: Annotated[int, typer.Option("--repeat", min=1, max=100, help="Run each task this often.")] = 1,
    parallel: Annotated[int, typer.Option("--parallel", "-j", min=1, max=64,
                                          help="Tasks at once, each in its own sandbox.")] = 1,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, max=100,
                                           help="Steps each task may take.")] = 12,
    out_dir: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Folder for the tasks' output and summary.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON summary instead.")] = False,
    listing: Annotated[bool, typer.Option("--list", help="List the tasks and exit.")] = False,
    ray: RayAddress = None, retries: Retries = 0,
    replan: Replan = None, speculative_steps: SpeculativeSteps = None,
    model_flags: dict[str, Any] | None = None,
) -> None:
    """Score a model (or a quantisation, or settings) on small desktop tasks in sandboxes:
    success rate, model calls and seconds per task and per step, and grounding error (pixels
    from each click to the centre of the widget the task needed clicked).

    Exit codes: 0 the bench ran (whatever the score), 2 bad options, 130 interrupted.
    """
    from tracer_cli.bench import suite

    with guard():
        if listing:
            for name, task in suite.catalogue().items():
                out.print(f"{name:14} {escape(task)}")
            return
        chosen = [n.strip() for n in names.split(",") if n.strip()] if names else None
        tasks = suite.tasks(chosen, repeat, max_steps)
        common = common_args(model_flags, replan, speculative_steps)
        summary = run_batch(tasks, parallel, out_dir, common, quiet=True, kind="bench", ray=ray,
                            retries=retries,
                            extra=lambda batch: {"bench": suite.score(list(batch.results.values()))})
        if as_json:
            stdout().write(json.dumps(summary) + "\n")
        else:
            show(summary)
        code = exit_code(summary)
        raise typer.Exit(code if code == 130 else 0)


def show(summary: dict[str, Any]) -> None:
    bench = summary["bench"]
    table = Table(title="Bench", title_justify="left")
    for col in ("task", "result", "steps", "model calls", "seconds", "s/step", "presses",
                "grounding error (px)"):
        table.add_column(col)
    for row in bench["per_task"]:
        table.add_row(escape(row["task"]), "[green]success[/]" if row["success"] else "[red]failed[/]",
                      str(row["steps"]), str(row["model_calls"]), f"{row['seconds']:.1f}",
                      _fmt(row["seconds_per_step"]), str(row["presses"]),
                      _fmt(row["grounding_error_mean"]))
    out.print(table)
    spread = bench["grounding_error"]
    errors = Table(title="Grounding error: pixels from each press to the intended widget's centre",
                   title_justify="left")
    for col in ("presses", "mean", "median", "p90", "max", "within 5 px", "within 20 px"):
        errors.add_column(col)
    errors.add_row(str(spread["presses"]), *(_fmt(spread.get(k)) for k in
                                             ("mean", "median", "p90", "max", "within_5px", "within_20px")))
    out.print(errors)
    out.print(f"success: {bench['success_rate']:.1%} of {bench['tasks_run']} tasks; "
              f"{bench['model_calls_per_task']} model calls and {bench['seconds_per_task']} s per task; "
              f"{_fmt(bench['run_seconds_per_step'])} s and {_fmt(bench['model_calls_per_step'])} "
              f"model calls per step; wall time {summary['seconds']:.1f} s with "
              + (f"--ray {summary['ray']['address']}" if summary.get("ray") else
                 f"--parallel {summary['parallel']}"))
    if summary.get("folder"):
        err.print(f"summary: {summary['folder']}/summary.json", soft_wrap=True)
