"""`tracer logs`: list runs, show one, export an agent run as a macro. Thin, like cli.py.

``tracer logs RUN`` is short for ``tracer logs show RUN``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from tracer_cli import paths
from tracer_cli.cli.console import (
    HEAD_ROWS,
    TAIL_ROWS,
    counted,
    elide,
    err,
    guard,
    out,
    progress_bar,
    stdout,
)
from tracer_cli.errors import ConfigError, StorageError


class _RunOrCommand(TyperGroup):
    """A first word that is not a subcommand names a run: `tracer logs last` = `show last`."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_RunOrCommand, invoke_without_command=True,
                  help="List recorded runs (`tracer logs`), show one (`tracer logs RUN`), make "
                  "its HTML report (`tracer logs report RUN`), turn an agent run into a macro "
                  "(`tracer logs export-macro RUN OUT.yaml`), or remove old ones (`tracer logs "
                  "prune`). RUN is a run id, a unique prefix of one, or 'last'.")


@app.callback()
def list_all(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0,
                                       help="The newest N runs (0: all).")] = 20,
    kind: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--kind", help="Only runs of this kind: do, plan, run, mcp (the MCP server's calls, "
        "left out by default) or all.")] = None,
) -> None:
    """List recorded runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from tracer_cli.agent.runlog import list_runs

    with guard():
        root = paths.runs_dir()
        runs = list(reversed(list_runs(root)))  # the ids start with the time: newest first
        chosen = [r for r in runs if kind == "all" or (r.meta.get("kind") == kind if kind else
                                                       r.meta.get("kind") != "mcp")]
        shown = chosen[:limit] if limit else chosen
        if as_json:
            stdout().write(json.dumps([{**r.meta, "status": r.status} for r in shown]) + "\n")
            return
        if not runs:
            err.print(f"no runs yet in {root}")
            return
        out.print(_runs_table(shown))
        left = len(chosen) - len(shown)
        mcp = sum(1 for r in runs if r.meta.get("kind") == "mcp") if not kind else 0
        notes = ([f"{left} older (--limit 0 shows all)"] if left else []) + \
            ([f"{mcp} MCP tool calls (--kind mcp)"] if mcp else [])
        if notes:
            err.print(f"not shown: {'; '.join(notes)}; runs in {root}", soft_wrap=True)


def _runs_table(runs: list[Any]) -> Table:
    """One row a run; the id whole (it is what a user copies; it starts with when the run
    started), then what fits of status, steps, time taken and the task."""
    from rich import box

    columns = [("id", "left"), ("status", "left"), ("steps", "right"), ("took", "right")]
    rows = [(r.id, _status(r.status), str(r.meta.get("steps", len(r.steps()))),
             _took(r.meta.get("seconds")), escape(" ".join(str(r.meta.get("task", "")).split())))
            for r in runs]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, (name, _) in enumerate(columns)]
    while len(widths) > 1 and sum(widths) + 2 * (len(widths) - 1) > out.width:
        widths.pop()  # the last columns go first; the id stays whole
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for (name, justify), width in zip(columns, widths, strict=False):
        table.add_column(name, no_wrap=True, justify=justify, min_width=width)  # type: ignore[arg-type]
    left = out.width - sum(widths) - 2 * len(widths) - 1
    with_task = len(widths) == len(columns) and left >= 8
    if with_task:
        table.add_column("task", no_wrap=True, overflow="ellipsis", max_width=left)
    for row in rows:
        table.add_row(*row[:len(widths)], *([row[-1]] if with_task else []))
    return table


def _took(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}"


def _status(status: str) -> str:
    return {"gave_up": "gave up", "interrupted": "stopped"}.get(status, status)


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    path: Annotated[bool, typer.Option("--path", help="Print only the run's directory.")] = False,
    show_all: Annotated[bool, typer.Option(
        "--all", help=f"Every step (else a longer run shows its first {HEAD_ROWS} and "
        f"last {TAIL_ROWS}).")] = False,
) -> None:
    """Show one run step by step."""
    from tracer_cli.agent.runlog import find_run

    with guard():
        summary = find_run(paths.runs_dir(), run)
        if path:
            out.print(str(summary.path), soft_wrap=True)
            return
        steps = summary.steps()
        if as_json:
            stdout().write(json.dumps({"run": {**summary.meta, "status": summary.status},
                                         "steps": steps}) + "\n")
            return
        meta = summary.meta
        out.print(f"[bold]{escape(summary.id)}[/]  {summary.status}  {escape(str(meta.get('task')))}")
        if meta.get("reason") or meta.get("answer"):
            out.print(escape(str(meta.get("answer") or meta.get("reason"))))
        if meta.get("model_calls") is not None:
            out.print(f"model calls {meta['model_calls']} · zoom calls {meta.get('zoom_calls', 0)} · "
                      f"steps from the forecast {meta.get('forecast_steps', 0)}")
        table = Table()
        for col in ("step", "action", "points", "outcome", "model s", "attempts"):
            table.add_column(col)
        if any(s.get("from_forecast") for s in steps):
            out.print("⇢ ran from the forecast, without a model call")
        first, hidden, last = (steps, 0, []) if show_all else elide(steps)
        for s in first:
            table.add_row(*_step_row(s))
        if hidden:
            table.add_row("...", f"{hidden:,} more steps (--all shows them)", "", "", "", "")
        for s in last:
            table.add_row(*_step_row(s))
        out.print(table)
        out.print(f"directory: {summary.path}", soft_wrap=True)


def _step_row(s: dict[str, Any]) -> tuple[str, ...]:
    number = f"{s.get('step')}{' ⇢' if s.get('from_forecast') else ''}"
    return (number, escape(s.get("describe") or _action_text(s.get("action")) or _forecast_text(s)),
            " ".join(f"({x},{y})" for x, y in s.get("points", [])), escape(s.get("outcome", "")),
            f"{s.get('timings', {}).get('model', 0):.2f}", str(len(s.get("attempts", []))))


def _forecast_text(s: dict[str, Any]) -> str:
    """A step that executed nothing (`tracer plan`'s, or one ended before its action) shows the
    forecast it got, rather than an empty row."""
    plan = s.get("plan")
    trajectory = plan.get("trajectory") if isinstance(plan, dict) else None
    if not isinstance(trajectory, list) or not trajectory:
        return ""
    return "forecast: " + "; ".join(
        _action_text(step) for step in trajectory if isinstance(step, dict))


def _action_text(action: dict[str, Any] | None) -> str:
    from tracer_cli.errors import PlanError
    from tracer_cli.plan import parse_step

    try:
        return parse_step(action).describe() if action else ""
    except PlanError:
        return json.dumps(action)


@app.command("export-macro")
def export_macro(
    run: Annotated[str, typer.Argument(help="The agent run: id, unique prefix, or 'last'.")],
    out_file: Annotated[Path, typer.Argument(metavar="OUT.yaml", help="The macro to write.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Export a run that did not end done, and overwrite OUT.yaml.")] = False,
    ocr: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--ocr", help="OCR engine for text anchors: auto, rapidocr or tesseract.")] = None,
) -> None:
    """Turn a successful `tracer do` run into a macro that replays it without the model.

    Each click gets a visual anchor (the text under it, else an image cut from the run's
    screenshot), so the macro still works after a window moved.
    """
    from tracer_cli.agent.runlog import find_run
    from tracer_cli.macro.export import export_run

    with guard():
        from tracer_cli.agent.defaults import effective

        settings = effective({"ocr": ocr} if ocr else {})
        summary = find_run(paths.runs_dir(), run)
        with progress_bar("finding anchors") as progress:
            report = export_run(summary.path, out_file, force=force, ocr=settings.ocr,
                                progress=progress)
        err.print(str(report), soft_wrap=True)


@app.command()
def prune(
    keep: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--keep", min=0, help="Keep only the N newest runs.")] = None,
    older_than: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--older-than", help="Remove runs started longer ago than this: 30d, 12h, 2w, 90m.")] = None,
    max_mb: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--max-mb", min=0, help="Remove the oldest runs until all take at most this many MB.")] = None,
) -> None:
    """Remove old run records and say what was freed. Runs still going are never removed.

    With no option: apply the configured size cap (setting runs_max_mb), as every run does
    when it starts and ends.
    """
    from tracer_cli.agent.retention import human_size, parse_age
    from tracer_cli.agent.retention import prune as prune_runs

    with guard():
        age = parse_age(older_than) if older_than is not None else None
        if keep is None and age is None and max_mb is None:
            from tracer_cli.config import load

            max_mb = load()[0].runs_max_mb or None
        pruned = prune_runs(paths.runs_dir(), keep=keep, older_than=age,
                            max_bytes=None if max_mb is None else max_mb << 20)
        for run_id, size in pruned.removed:
            err.print(f"removed {run_id} ({human_size(size)})", soft_wrap=True)
        out.print(str(pruned))


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'last'.")] = "last",
    out_file: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Where to write the page (default: report.html in the run's directory).")] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open it in the web browser.")] = False,
) -> None:
    """Write one self-contained HTML page of a run (`do`, `plan` or `run`): the screenshots with
    each step's action drawn on them, the forecast, the checks, effects and timings.

    It loads nothing from the network and opens offline anywhere (screenshots are embedded as
    JPEG previews). Like the run record it is readable by you only.
    """
    from tracer_cli.agent.retention import human_size
    from tracer_cli.agent.runlog import find_run
    from tracer_cli.report.render import write_report

    with guard():
        summary = find_run(paths.runs_dir(), run)
        target = out_file or summary.path / "report.html"
        try:
            written = write_report(summary, target)
        except (OSError, StorageError) as exc:
            if out_file is None and isinstance(exc, StorageError):
                raise  # the record's own folder: the disk's problem, said as such
            why = exc.message if isinstance(exc, StorageError) else str(exc)
            raise ConfigError(why if why.startswith("cannot write") else f"cannot write {target}: {why}",
                              "choose another place with --out") from None
        out.print(str(target.resolve()), soft_wrap=True)
        err.print(f"report of {summary.id}: {counted(len(written.cards), 'step')}, "
                  f"{human_size(target.stat().st_size)}", soft_wrap=True)
        if open_it:
            import webbrowser

            if not webbrowser.open(target.resolve().as_uri()):
                err.print("tracer: no web browser found to open it; open the file above yourself")
