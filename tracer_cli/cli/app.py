"""The `tracer` command and its `plan`, `do`, `config` and `doctor` commands: parse flags, wire
the parts (cli/wiring.py), render results and errors. Thin. `run`, `record`, `logs` and `models`
live in their own modules and are added here."""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tracer_cli import __version__
from tracer_cli.cli.console import DEBUG, err, guard, out, stdout
from tracer_cli.cli.options import (  # typer reads these names from this module
    Backend,
    BaseUrl,
    Confirm,
    Display,
    Events,
    InSandbox,
    KillHotkey,
    MaxPixels,
    MaxSteps,
    Mmproj,
    Model,
    Monitor,
    PauseHotkey,
    Profile,
    Replan,
    SandboxApps,
    SandboxSize,
    Script,
    SpeculativeSteps,
    Timeout,
    Wait,
    Yes,
    check_events,
    model_options,
)
from tracer_cli.cli.options import Platform as PlatformOpt
from tracer_cli.cli.wiring import (
    close_models,
    close_record,
    confirmer,
    live_input,
    make_models,
    make_view,
    open_record,
    settings_from,
)
from tracer_cli.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from tracer_cli.agent.runloop import RunResult
    from tracer_cli.config import Settings
    from tracer_cli.desktop.screen import Geometry
    from tracer_cli.plan import BaseStep, Plan

app = typer.Typer(
    name="tracer",
    help="A desktop agent that forecasts its next few actions with a vision-language model and "
    "executes them one at a time, re-planning after each.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def _version(value: bool) -> None:
    if value:
        out.print(f"tracer {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 (typer needs Optional here)
        "--version", callback=_version, is_eager=True, help="Print the version.")] = None,
) -> None:
    if debug:
        DEBUG["on"] = True
        os.environ["TRACER_DEBUG"] = "1"  # for the parts that read it (llama.cpp's logging)


def _describe_target(step: BaseStep) -> str:
    for attr in ("target", "text", "reason", "answer"):
        value = getattr(step, attr, None)
        if value:
            return str(value)
    keys = getattr(step, "keys", None)
    return "+".join(keys) if keys else ""


def _plan_table(plan: Plan, geometry: Geometry,
                hits: list[dict[str, Any] | None] | None = None) -> Table:
    """The forecast as a table; with ``hits`` (a desktop with an accessibility tree), the
    element each step would hit."""
    from tracer_cli.desktop.elements import label

    table = Table(title="Forecast", title_justify="left")
    for col in ("#", "action", "target / text", "model point", "screen point"):
        table.add_column(col)
    if hits is not None:
        table.add_column("element")
    for n, step in enumerate(plan.trajectory, 1):
        pts = step.points()
        model = " -> ".join(f"({x},{y})" for x, y in pts)
        screen = " -> ".join("({},{})".format(*geometry.to_input(x, y)) for x, y in pts)
        row = [str(n), step.action, escape(_describe_target(step)), model, screen]  # type: ignore[attr-defined]
        if hits is not None:
            row.append(escape(label(hits[n - 1])) or "-")
        table.add_row(*row)
    return table


def _plan_json(plan: Plan, hits: list[dict[str, Any] | None] | None) -> dict[str, Any]:
    """The plan as contract JSON; with ``hits``, each step with the element it would hit
    (``element``: a field the contract keeps as a note, so the JSON still parses as a plan)."""
    out = plan.to_dict()
    for step, hit in zip(out["trajectory"], hits or [], strict=False):
        if hit is not None:
            step["element"] = hit
    return out


@app.command()
@model_options
def plan(
    task: Annotated[str, typer.Argument(help="What to do, in plain words.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print only the plan as JSON.")] = False,
    out_png: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Also write the annotated screenshot here.")] = None,
    events: Events = None,
    model_flags: dict[str, Any] | None = None,
) -> None:
    """Dry run: forecast the next steps for TASK on the current screen. No input events at all.

    Prints the trajectory as a table and writes the screenshot with numbered markers at each
    predicted point and arrows between them. TASK "-" reads the task from standard input.
    """
    with guard():
        streaming = check_events(events)
        if streaming and as_json:
            raise ConfigError("--json and --events both write to stdout", "choose one of them")
        task = task_text(task)
        settings = settings_from(model_flags or {})
        record, geometry, run_dir = _preview(task, settings, quiet=as_json or streaming,
                                             events=streaming)
        assert record.forecast is not None and record.image is not None  # preview() raises else
        forecast = record.forecast
        from tracer_cli import private
        from tracer_cli.cli.preview import annotate

        preview = run_dir / "preview.png"
        private.save_image(annotate(record.image, forecast.plan), preview)
        if out_png:
            try:
                private.copy_file(preview, out_png)
            except (OSError, StorageError) as exc:
                raise ConfigError(exc.message if isinstance(exc, StorageError) else
                                  f"cannot write {out_png}: {exc}",
                                  "choose another place with --out") from None
        if as_json:
            stdout().write(json.dumps(_plan_json(forecast.plan, record.hits), ensure_ascii=False)
                           + "\n")
        elif not streaming:
            if forecast.plan.thought:
                out.print(f"[bold]Thought:[/] {escape(forecast.plan.thought)}")
            for goal in forecast.plan.subgoals:
                mark = "[x] " if goal.done else "[ ] "
                out.print(f"[bold]Sub-goal:[/] {escape(mark + goal.goal)}")
            out.print(_plan_table(forecast.plan, geometry, record.hits))
        err.print(f"preview: {out_png or preview}", soft_wrap=True)
        close_record(settings, run_dir)


def task_text(task: str) -> str:
    """The task as given, or read from standard input when it is "-"."""
    if task != "-":
        return task
    if sys.stdin.isatty():
        raise ConfigError("TASK is - but standard input is a terminal",
                          "pipe the task in: echo 'open the settings' | tracer do -")
    text = sys.stdin.read().strip()
    if not text:
        raise ConfigError("TASK is - but standard input was empty",
                          "pipe the task in: echo 'open the settings' | tracer do -")
    return text


def _preview(task: str, settings: Settings, quiet: bool, events: bool = False):  # type: ignore[no-untyped-def]
    from tracer_cli.agent.loop import Agent

    planner, grounder = make_models(settings)
    try:
        from tracer_cli.desktop.elements import open_elements
        from tracer_cli.desktop.hands import desktops

        platform = desktops(settings)[0]
        screen = platform.open_screen(settings.monitor)
    except BaseException:
        close_models(planner, grounder)
        raise
    elements = open_elements(platform)  # names the element each step would hit
    log = open_record(settings, "plan", task)
    listeners: list[Any] = [log]
    if events:
        from tracer_cli.agent.events import EventStream

        listeners.append(EventStream(stdout(), "plan", run_dir=log.dir))
    agent = Agent(screen, planner, None, settings, listeners, grounder=grounder, elements=elements)
    try:
        if err.is_terminal and not quiet:
            with err.status("capturing the screen and asking the model..."):
                record = agent.preview(task)
        else:
            record = agent.preview(task)
        return record, screen.geometry, log.dir
    finally:
        elements.close()
        screen.close()
        close_models(planner, grounder)


@app.command("do", short_help="Carry out TASK on the desktop: forecast, act, look again, until done.")
@model_options
def do(
    task: Annotated[str, typer.Argument(help="What to do, in plain words.")],
    yes: Yes = False, confirm: Confirm = None, max_steps: MaxSteps = None, timeout: Timeout = None,
    kill_hotkey: KillHotkey = None, pause_hotkey: PauseHotkey = None, replan: Replan = None,
    speculative_steps: SpeculativeSteps = None, events: Events = None,
    sandbox: InSandbox = False, apps: SandboxApps = None, sandbox_size: SandboxSize = "1280x800",
    wait: Wait = False, model_flags: dict[str, Any] | None = None,
) -> None:
    """Carry out TASK ("-": from stdin) on the desktop: forecast, act, look again. Exit codes: 0
    done, 1 failed, 2 usage, 3 needed a human, 130 stopped (kill hotkey, Ctrl-C, a corner)."""
    with guard():
        streaming = check_events(events)
        task = task_text(task)
        settings = settings_from({
            **(model_flags or {}), "confirm": "never" if yes else confirm, "max_steps": max_steps,
            "timeout": timeout, "kill_hotkey": kill_hotkey, "pause_hotkey": pause_hotkey,
            "replan": replan, "speculative_steps": speculative_steps})
        if sandbox or apps:
            result, run_dir = _run_in_sandbox(task, settings, sandbox_size, apps or [],
                                              bool(model_flags and model_flags.get("display")),
                                              streaming, wait)
        else:
            result, run_dir = _run_agent(task, settings, None, streaming, wait)
        if result.answer and not streaming:
            out.print(escape(result.answer))
        if result.status != "done":
            err.print(f"[bold red]tracer: {result.said}:[/] {escape(result.reason)}")
            if result.needed_human:
                err.print(f"tracer: a step needed a human: {escape(result.needed_human)}")
        close_record(settings, run_dir)
        raise typer.Exit(result.exit_code)


def _run_in_sandbox(task: str, settings: Settings, size: str, apps: list[str],
                    display_given: bool, events: bool = False,
                    wait: bool = False) -> tuple[RunResult, Path]:
    from tracer_cli.cli.sandbox import run_sandbox

    if display_given:
        raise ConfigError("--sandbox and --display both say where to act",
                          "give one: --sandbox for a new private desktop, --display for a running one")
    with run_sandbox(size, apps) as box:
        return _run_agent(task, settings, box, events, wait)


def _run_agent(task: str, settings: Settings, sandbox: Any = None, events: bool = False,
               wait: bool = False) -> tuple[RunResult, Path]:
    from tracer_cli.agent.loop import Agent
    from tracer_cli.desktop.elements import open_elements

    with live_input(settings, sandbox, f"tracer do {short(task)!r}", wait) as session:
        planner, grounder = make_models(settings)
        elements = open_elements(session.platform)
        try:
            view = make_view()
            confirm = confirmer(settings, view)
            log = open_record(settings, "do", task)
            listeners: list[Any] = [log, view]
            if events:
                from tracer_cli.agent.events import EventStream

                listeners.append(EventStream(stdout(), "do", run_dir=log.dir))
            agent = Agent(session.screen, planner, session.actuator, settings, listeners, confirm,
                          session.stop, grounder, elements)
            session.announce(view)
            return agent.run(task), log.dir
        finally:
            elements.close()
            close_models(planner, grounder)


def short(text: str, limit: int = 60) -> str:
    """A task as a line names it."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@app.command()
def doctor(
    load: Annotated[bool, typer.Option(
        "--load", help="Also load the local model into llama.cpp (slow for big models).")] = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Load and try everything: the OCR engine reads a line, the model loads.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    backend: Backend = None, base_url: BaseUrl = None, model: Model = None,
    mmproj: Mmproj = None, script: Script = None, monitor: Monitor = None, display: Display = None,
    platform: PlatformOpt = None, profile: Profile = None, max_pixels: MaxPixels = None,
    kill_hotkey: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--kill-hotkey", help="The kill hotkey to check (default: the configured one).")] = None,
) -> None:
    """Check that everything a run needs works, and say what to fix.

    The desktop (platform, display, screen capture, input control), the kill and pause hotkeys
    and `tracer stop`, the config, the run records, the image the model gets, and the
    configured model and backend.

    Exit codes: 0 everything needed works, 1 something needed failed (the table says what to
    fix; a skipped check waits on a failed one, or on --load).
    """
    from tracer_cli.cli import doctor as checks

    with guard():
        flags = {"backend": backend, "base_url": base_url, "model": model, "mmproj": mmproj,
                 "script": script, "monitor": monitor, "display": display, "platform": platform,
                 "profile": profile,
                 "max_pixels": max_pixels, "kill_hotkey": kill_hotkey}
        results = checks.run(flags, load=load, full=full)
        if as_json:
            stdout().write(checks.to_json(results) + "\n")
        else:
            out.print(checks.table(results, out.width))
            out.print(checks.summary(results))
        raise typer.Exit(0 if checks.passed(results) else 1)


def _control(command: str, pid: int | None) -> None:
    from tracer_cli.desktop.control import send
    from tracer_cli.errors import TracerError

    answers = send(command, pid)
    if not answers:
        which = f"with pid {pid}" if pid is not None else "of yours"
        raise TracerError(f"no tracer run {which} is going", "nothing to do")
    for owner, answer in answers:
        out.print(f"{owner}: {escape(answer)}")


Pid = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--pid", help="Only the run of this process (default: every run of yours).")]


@app.command("stop", short_help="Stop every running tracer of yours, as the kill hotkey does.")
def stop_command(pid: Pid = None) -> None:
    """Stop every running tracer of yours (do, run, mcp) between two keys, as the kill hotkey
    does. Where no global hotkey can be heard (Wayland), bind this command to a key in your
    desktop's keyboard settings. Exit codes: 0 stopped, 1 nothing was running."""
    with guard():
        _control("stop", pid)


@app.command("pause", short_help="Pause every running tracer of yours; again to hand back.")
def pause_command(pid: Pid = None) -> None:
    """Pause every running tracer of yours so you can take the mouse; again to hand back (as the
    pause hotkey does). Bind it to a key in your desktop's settings. Exit codes: 0 done, 1
    nothing was running."""
    with guard():
        _control("pause", pid)


def _add_subcommands() -> None:
    from tracer_cli.cli import macros
    from tracer_cli.cli.batch import batch_command
    from tracer_cli.cli.bench import bench_command
    from tracer_cli.cli.config import app as config_app
    from tracer_cli.cli.logs import app as logs_app
    from tracer_cli.cli.mcp import mcp_server
    from tracer_cli.cli.models import app as models_app
    from tracer_cli.cli.node import app as node_app
    from tracer_cli.cli.sandbox import app as sandbox_app
    from tracer_cli.cli.setup import app as setup_app

    app.command("run")(macros.run_macro)
    app.command("record")(macros.record_macro)
    app.command("mcp", short_help="Serve tracer's tools to MCP clients (Claude, VS Code, Cursor, ...).")(
        mcp_server)
    app.command("batch")(batch_command)
    app.command("bench", short_help="Score a model or settings on small desktop tasks in sandboxes.")(
        bench_command)
    app.add_typer(config_app, name="config")
    app.add_typer(logs_app, name="logs")
    app.add_typer(models_app, name="models")
    app.add_typer(node_app, name="node")
    app.add_typer(sandbox_app, name="sandbox")
    app.add_typer(setup_app, name="setup")


_add_subcommands()


def _tidy_help(command: Any) -> None:
    """In every command's help: a flag takes no value, so its row shows none (not ``<bool>``),
    --help's own included; a required argument is written in the usage line as click writes it
    (``TASK``, not typer's ``{task}``, which reads as if the braces were to be typed); a command
    listed in its group's help is summed up in one line (its docstring's first paragraph,
    without the source's line breaks); and every paragraph of the help is rewrapped to the
    terminal (typer keeps a docstring's own line breaks after the first paragraph, which at 80
    columns cut a sentence into a long line and a stub: "markers at each" / "predicted point")."""
    if getattr(command, "help", None):
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(
            p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False):
            param.metavar = ""
        if getattr(param, "param_type_name", "") == "argument" and param.metavar is None:
            param.metavar = param.name.upper()  # as typed: usage, table and errors alike
        if getattr(param, "required", False) and hasattr(param, "_usage_display_name"):
            param._usage_display_name = lambda p=param: p.metavar + ("..." if p.nargs != 1 else "")
    if hasattr(command, "get_help_option"):
        help_option = command.get_help_option

        def quiet_help_option(ctx: Any, make: Any = help_option) -> Any:
            option = make(ctx)
            if option is not None:
                option.metavar = ""
            return option

        command.get_help_option = quiet_help_option
    if not getattr(command, "short_help", None) and getattr(command, "help", None):
        command.short_help = " ".join(command.help.split("\n\n")[0].split())
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)


def _take_sigint() -> None:
    """Ctrl-C (SIGINT) stops tracer from its first instant, also where it was started with
    SIGINT ignored (a script's `tracer do ... &`, which bash starts so) or blocked (a Ray
    worker's child): Python would leave it so until the run installs its own handler, and a
    SIGINT while a sandbox or the model started was lost, the run going on to its end."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def main() -> None:
    from tracer_cli.cli.console import keep_stdout_for_results, quiet_threads

    _take_sigint()
    keep_stdout_for_results()
    quiet_threads()
    command = typer.main.get_command(app)
    _tidy_help(command)
    command(prog_name="tracer")
