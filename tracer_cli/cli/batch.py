"""`tracer batch TASKS.jsonl --parallel N`: many tasks, each in its own sandbox, with live
progress and a summary (tracer_cli/batch does the work; this parses and prints)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tracer_cli.cli.console import counted, err, guard, out, stdout
from tracer_cli.cli.options import MODEL_OPTIONS, Replan, SpeculativeSteps, model_options
from tracer_cli.errors import EXIT_INTERRUPTED, ConfigError

if TYPE_CHECKING:
    from tracer_cli.batch.runner import Batch, TaskResult
    from tracer_cli.batch.tasks import BatchTask

# The `tracer do` options a task may set in its "options".
TASK_OPTIONS = (set(MODEL_OPTIONS) - {"display", "monitor"}) | {"replan", "speculative_steps"}

Parallel = Annotated[int, typer.Option("--parallel", "-j", min=1, max=64,
                                       help="Tasks at once, each in its own sandbox.")]
Out = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--out", "-o", help="Folder for each task's output and summary.json (default: under the "
    "tracer data directory).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the JSON summary instead of the table.")]
RayAddress = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--ray", metavar="local|auto|ADDRESS",
    help="Run the tasks on a Ray cluster, each on a node with a free display slot: 'auto' the "
    "cluster this machine belongs to, HOST:PORT its head, 'local' a Ray instance started here "
    "with --parallel slots. Needs pip install 'tracer-cli\\[ray]'.")]
Retries = Annotated[int, typer.Option(
    "--retries", min=0, max=10, help="With --ray: run a task again this often when its worker or "
    "node dies (default 0: a task that may have acted is never re-run unasked).")]


@model_options
def batch_command(
    tasks_file: Annotated[Path, typer.Argument(help="JSON Lines: one task per line.")],
    parallel: Parallel = 1, out_dir: Out = None, as_json: AsJson = False,
    ray: RayAddress = None, retries: Retries = 0,
    replan: Replan = None, speculative_steps: SpeculativeSteps = None,
    model_flags: dict[str, Any] | None = None,
) -> None:
    """Run the tasks of TASKS_FILE, each in its own sandbox desktop, N at a time.

    Each line: {"task": "...", "apps": ["cmd", ...], "check": "cmd", "max_steps": 10,
    "options": {"model": "...", ...}, "id": "name", "size": "1280x800", "timeout": 300}; only
    "task" is needed. A task succeeds when its check exits 0 (without a check: when tracer
    does). With --ray, a task may also say "resources": {"NAME": AMOUNT} it needs of a node.
    Exit codes: 0 all succeeded, 1 some did not, 2 a bad file (or a task no node can run, or Ray
    missing), 130 interrupted (what finished is kept in the summary).
    """
    from tracer_cli.batch import tasks as batch_tasks

    with guard():
        tasks = batch_tasks.load(tasks_file, TASK_OPTIONS)
        common = common_args(model_flags, replan, speculative_steps)
        summary = run_batch(tasks, parallel, out_dir, common, quiet=as_json, ray=ray,
                            retries=retries)
        if as_json:
            stdout().write(json.dumps(summary) + "\n")
        raise typer.Exit(exit_code(summary))


def common_args(model_flags: dict[str, Any] | None, replan: str | None,
                speculative_steps: int | None) -> list[str]:
    """The `tracer do` options given to batch or bench, for every task's run."""
    from tracer_cli.batch.tasks import option_args

    flags = {**(model_flags or {}), "replan": replan, "speculative_steps": speculative_steps}
    return option_args({k: v for k, v in flags.items() if v is not None and k in TASK_OPTIONS})


def exit_code(summary: dict[str, Any]) -> int:
    if summary["interrupted"]:
        return EXIT_INTERRUPTED
    return 0 if summary["succeeded"] == summary["total"] else 1


def default_out(kind: str) -> Path:
    from tracer_cli import paths

    return paths.data_dir() / kind / time.strftime("%Y%m%d-%H%M%S")


def run_batch(tasks: list[BatchTask], parallel: int, out_dir: Path | None, common: list[str],
              quiet: bool = False, kind: str = "batches",
              extra: Any = None, ray: str | None = None, retries: int = 0) -> dict[str, Any]:
    """Run the tasks with live progress (on a Ray cluster with ``ray``: its address, "auto" or
    "local"); print the table (unless quiet) and write summary.json. ``extra(batch)`` adds
    fields to the summary (the bench's scores)."""
    folder = out_dir or default_out(kind)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"the output folder {folder} is not empty", "give a new --out folder")
    if ray is None:
        from tracer_cli.batch.runner import Batch

        view = LiveRows(len(tasks))
        return _run(Batch(tasks, folder, parallel, common, view), view, quiet, extra,
                    f"--parallel {parallel}")
    from tracer_cli.batch import cluster

    cluster.import_ray()  # the install line before anything starts
    if ray == "local":
        err.print(f"tracer: starting a local Ray instance with {counted(parallel, 'display slot')} "
                  "(no dashboard; it stops with the batch)")
    on = cluster.connect(ray, displays=parallel)
    try:
        cluster.check_placement(tasks, on.nodes)
        if ray != "local":
            err.print(f"tracer: on the Ray cluster at {escape(ray)}: {counted(len(on.nodes), 'node')}, "
                      f"{counted(on.displays, 'display slot')}", soft_wrap=True)
        view = LiveRows(len(tasks))
        batch = cluster.ClusterBatch(tasks, folder, on, common, view, retries=retries)
        return _run(batch, view, quiet, extra, f"--ray {ray} ({counted(on.displays, 'display slot')}"
                    f"{f', --retries {retries}' if retries else ''})")
    finally:
        cluster.disconnect(on)


def _run(batch: Batch, view: LiveRows, quiet: bool, extra: Any, how: str) -> dict[str, Any]:
    from tracer_cli.batch.runner import write_summary

    folder = batch.out
    switch = kill_switch(batch)
    from tracer_cli.desktop.control import ControlSocket

    control = ControlSocket(batch.stop, None, {"what": "tracer batch"})  # tracer stop
    try:
        control.start()
    except OSError:
        pass
    view.start()
    try:
        batch.run()
    finally:
        view.stop()
        control.close()
        if switch is not None:
            switch.close()
    summary = write_summary(batch, folder / "summary.json", extra(batch) if extra else None)
    if not quiet:
        out.print(results_table(batch))
        ok = summary["succeeded"]
        err.print(f"tracer: {ok}/{summary['total']} succeeded in {summary['seconds']:.1f}s with "
                  f"{how}{' (interrupted)' if batch.stopped else ''}; "
                  f"summary: {folder / 'summary.json'}", soft_wrap=True)
    return summary


def kill_switch(batch: Batch) -> Any:
    """The kill hotkey on the user's own desktop (when there is one) stops the whole batch; the
    runs themselves listen for none (they act in sandboxes)."""
    from tracer_cli.cli.wiring import settings_from
    from tracer_cli.desktop.platform import choose
    from tracer_cli.errors import TracerError

    settings = settings_from({})
    if not settings.kill_hotkey:
        return None
    try:
        switch = choose(settings.platform).kill_switch(settings.kill_hotkey, threading.Event(),
                                                       batch.stop)
        switch.start()
    except TracerError as exc:
        err.print(f"tracer: warning: {escape(str(exc))}; Ctrl-C or tracer stop stops the batch",
                  soft_wrap=True)
        return None
    err.print(f"tracer: kill switch armed: press {escape(switch.label)} to stop the batch")
    return switch


def results_table(batch: Batch) -> Table:
    table = Table(title="Batch", title_justify="left")
    results = [batch.results[t.id] for t in batch.tasks]
    on_nodes = any(r.node for r in results)
    for col in ("task", "result", "steps", "model calls", "forecast steps", "seconds", "exit",
                *(("node",) if on_nodes else ()), "why"):
        table.add_column(col)
    for r in results:
        verdict = ("[green]success[/]" if r.success else
                   "[yellow]skipped[/]" if r.status == "skipped" else "[red]failed[/]")
        why = "" if r.success else (r.reason or (f"check exited {r.check_exit_code}"
                                                 if r.check_exit_code else r.status))
        table.add_row(escape(r.id), verdict, str(r.steps), str(r.model_calls), str(r.forecast_steps),
                      f"{r.seconds:.1f}", "" if r.exit_code is None else str(r.exit_code),
                      *((escape(r.node),) if on_nodes else ()), escape(why[:80]))
    return table


class LiveRows:
    """The batch's listener: a Rich Live table with one row per running task at a terminal;
    one line per finished task otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.rows: dict[str, tuple[float, str]] = {}
        self.finished: list[TaskResult] = []
        self._lock = threading.Lock()
        self._live: Any = None

    def start(self) -> None:
        if err.is_terminal:
            from rich.live import Live

            self._live = Live(get_renderable=self._render, console=err, refresh_per_second=4,
                              transient=True)
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()

    def started(self, task: BatchTask) -> None:
        with self._lock:
            self.rows[task.id] = (time.monotonic(), "starting")

    def progress(self, task: BatchTask, text: str) -> None:
        with self._lock:
            begun = self.rows.get(task.id, (time.monotonic(), ""))[0]
            self.rows[task.id] = (begun, text)

    def ended(self, task: BatchTask, result: TaskResult) -> None:
        with self._lock:
            self.rows.pop(task.id, None)
            self.finished.append(result)
            done = len(self.finished)
        word = "success" if result.success else "failed"
        line = (f"tracer: [{done}/{self.total}] {task.id}: {word} ({result.steps} steps, "
                f"{result.seconds:.1f}s{f', on {result.node}' if result.node else ''})")
        if self._live is not None:
            self._live.console.print(escape(line))
        else:
            err.print(escape(line))

    def _render(self) -> Table:
        table = Table(title=f"{len(self.finished)}/{self.total} finished, "
                      f"{sum(r.success for r in self.finished)} succeeded", title_justify="left")
        for col in ("task", "seconds", "now"):
            table.add_column(col)
        with self._lock:
            rows = list(self.rows.items())
        for ident, (begun, text) in rows:
            table.add_row(escape(ident), f"{time.monotonic() - begun:.0f}", escape(text[:90]))
        return table
