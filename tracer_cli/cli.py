"""The `tracer` command: parses flags, builds the parts, renders results and errors. Thin."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tracer_cli import __version__
from tracer_cli import config as cfg
from tracer_cli.console import DEBUG, err, guard, out
from tracer_cli.errors import ConfigError

if TYPE_CHECKING:
    from tracer_cli.actuator import PyAutoGUIActuator
    from tracer_cli.agent import RunResult
    from tracer_cli.config import Settings
    from tracer_cli.killswitch import KillSwitch, StopRequest
    from tracer_cli.plan import Plan, _Step
    from tracer_cli.screen import Geometry

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


# Options shared by `do` and `plan`. Each defaults to None: unset flags do not override the
# environment or the config file.
Backend = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--backend", "-b", help="Planner backend: llama (a local GGUF model), openai (any "
    "OpenAI-compatible server) or script (plans from a file).")]
BaseUrl = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--base-url", help="URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")]
Model = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--model", "-m", help="llama: a catalogue or registered name, or a .gguf path; openai: the "
    "model's name on the server (default: its only model).")]
Mmproj = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--mmproj", help="The vision projector .gguf, when --model is a path.")]
GpuLayers = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--gpu-layers", help="Layers offloaded to the GPU: a number, all or auto.")]
Threads = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--threads", help="CPU threads for llama.cpp (default: automatic).")]
Context = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--context", help="Context size in tokens (default: the model's).")]
FlashAttn = Annotated[Optional[bool], typer.Option(  # noqa: UP045
    "--flash-attn/--no-flash-attn", help="Flash attention where supported.")]
Grammar = Annotated[Optional[bool], typer.Option(  # noqa: UP045
    "--grammar/--no-grammar", help="Constrain decoding to the plan's JSON schema.")]
GrounderOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--grounder", help="A second model that places each click: a model name, a .gguf path "
    "(with --grounder-mmproj) or a server URL. Default: the planner's own model.")]
GrounderProfile = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--grounder-profile", help="The grounder's profile (default: its model's, else tracer1).")]
GrounderMmproj = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--grounder-mmproj", help="The grounder's vision projector, when --grounder is a path.")]
Script = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--script", help="JSONL file of plans, one per model call (script backend).")]
Profile = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--profile", help="How the model is prompted and read: tracer1, qwen3-vl or ui-tars "
    "(default: the model's).")]
Horizon = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--horizon", "-k", help="Steps the model forecasts per call (default 5).")]
Monitor = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--monitor", help="Monitor to see and act on, mss numbering: 1 = primary.")]
Display = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--display", help="X display to use, e.g. :1 (default: $DISPLAY).")]
MaxPixels = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--max-pixels", help="Pixel budget of the screenshot sent to the model.")]
MaxTokens = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--max-tokens", help="Longest answer accepted from the model (default: the model's or "
    "profile's; thinking models need several thousand).")]
ReqTimeout = Annotated[Optional[float], typer.Option(  # noqa: UP045
    "--request-timeout", help="Seconds to wait for one model answer.")]


def _settings(params: dict[str, Any], **extra: Any) -> Settings:
    """Settings from a command's parameters (those that name a setting) and ``extra``."""
    flags = {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()
             if k in cfg.Settings.model_fields}
    settings = cfg.effective({**flags, **extra})
    if settings.display:
        os.environ["DISPLAY"] = settings.display  # before mss or pyautogui look at it
    return settings


def _planner(settings: Settings):  # type: ignore[no-untyped-def]
    from tracer_cli.backends import create
    from tracer_cli.planner import Planner
    from tracer_cli.profiles import PROFILES

    profile = PROFILES.get(settings.profile)()
    warning = profile.geometry.budget_warning(settings.max_pixels)
    if warning:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if settings.backend == "llama":
        _offer_pull(settings)
    backend = create(settings.backend, settings)
    factor = getattr(backend, "image_factor", None)
    if factor and factor != profile.geometry.factor:
        err.print(f"[yellow]warning:[/] the vision projector works in {factor}-pixel tiles, but "
                  f"profile {profile.name} sends {profile.geometry.family} images (multiples of "
                  f"{profile.geometry.factor}): llama.cpp will resize and pad every screenshot "
                  "and clicks will drift; choose the profile of the model's family with --profile")
    return Planner(backend, profile, settings.answer_retries)


def _offer_pull(settings: Settings) -> None:
    """A catalogue model that is not installed yet: offer to download it when someone can
    answer; otherwise the backend's error names the command that does."""
    from tracer_cli.models import resolve

    spec = resolve(settings.model, settings.mmproj)
    if spec.source != "catalogue" or spec.installed() or not sys.stdin.isatty():
        return
    size = f"{spec.size() / 1e9:.1f} GB" if spec.size() else "several GB"
    if typer.confirm(f"model {spec.name} is not installed. Download it now ({size} from "
                     f"{spec.repo})?", default=False, err=True):
        from tracer_cli.models_cli import pull

        pull(spec.name, force=False, endpoint=None)


def _grounder(settings: Settings, planner: Any):  # type: ignore[no-untyped-def]
    """The planner's own model, or the second model named by --grounder (a server URL, a
    model name or a .gguf path)."""
    from tracer_cli.grounding import Grounder

    if not settings.grounder:
        return Grounder(planner.backend, planner.profile)
    from tracer_cli.backends import create
    from tracer_cli.profiles import PROFILES

    if settings.grounder.startswith(("http://", "https://")):
        own = settings.model_copy(update={"backend": "openai", "base_url": settings.grounder,
                                          "model": settings.grounder_model, "grammar": False})
        profile = settings.grounder_profile or "tracer1"
        budget = settings.max_pixels
    else:
        from tracer_cli.models import resolve

        spec = resolve(settings.grounder, settings.grounder_mmproj)
        own = settings.model_copy(update={"backend": "llama", "model": settings.grounder,
                                          "mmproj": settings.grounder_mmproj, "context": 0,
                                          "grammar": False})
        profile = settings.grounder_profile or spec.profile
        budget = spec.max_pixels
    return Grounder(create(own.backend, own), PROFILES.get(profile)(), always=True,
                    max_pixels=budget)


def _describe_target(step: _Step) -> str:
    for attr in ("target", "text", "reason", "answer"):
        value = getattr(step, attr, None)
        if value:
            return str(value)
    keys = getattr(step, "keys", None)
    return "+".join(keys) if keys else ""


def _plan_table(plan: Plan, geometry: Geometry) -> Table:
    table = Table(title="Forecast", title_justify="left")
    for col in ("#", "action", "target / text", "model point", "screen point"):
        table.add_column(col)
    for n, step in enumerate(plan.trajectory, 1):
        pts = step.points()
        model = " -> ".join(f"({x},{y})" for x, y in pts)
        screen = " -> ".join("({},{})".format(*geometry.to_input(x, y)) for x, y in pts)
        table.add_row(str(n), step.action, escape(_describe_target(step)), model, screen)  # type: ignore[attr-defined]
    return table


@app.command()
def plan(
    task: Annotated[str, typer.Argument(help="What to do, in plain words.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print only the plan as JSON.")] = False,
    out_png: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="Also write the annotated screenshot here.")] = None,
    backend: Backend = None, base_url: BaseUrl = None, model: Model = None,
    mmproj: Mmproj = None, script: Script = None, profile: Profile = None,
    horizon: Horizon = None, monitor: Monitor = None, display: Display = None,
    max_pixels: MaxPixels = None, max_tokens: MaxTokens = None, request_timeout: ReqTimeout = None,
    gpu_layers: GpuLayers = None, threads: Threads = None, context: Context = None,
    flash_attn: FlashAttn = None, grammar: Grammar = None, grounder: GrounderOpt = None,
    grounder_profile: GrounderProfile = None, grounder_mmproj: GrounderMmproj = None,
) -> None:
    """Dry run: forecast the next steps for TASK on the current screen. No input events at all.

    Prints the trajectory as a table and writes the screenshot with numbered markers at each
    predicted point and arrows between them.
    """
    with guard():
        settings = _settings(locals())
        record, geometry, run_dir = _preview(task, settings, quiet=as_json)
        assert record.forecast is not None and record.image is not None  # preview() raises else
        forecast = record.forecast
        from tracer_cli.preview import annotate

        preview = run_dir / "preview.png"
        annotate(record.image, forecast.plan).save(preview)
        if out_png:
            try:
                shutil.copyfile(preview, out_png)
            except OSError as exc:
                raise ConfigError(f"cannot write {out_png}: {exc}") from None
        if as_json:
            sys.stdout.write(forecast.plan.to_json() + "\n")
        else:
            if forecast.plan.thought:
                out.print(f"[bold]Thought:[/] {escape(forecast.plan.thought)}")
            out.print(_plan_table(forecast.plan, geometry))
        err.print(f"preview: {out_png or preview}\nrun record: {run_dir}", soft_wrap=True)


def _preview(task: str, settings: Settings, quiet: bool):  # type: ignore[no-untyped-def]
    from tracer_cli.agent import Agent
    from tracer_cli.runlog import RunLog
    from tracer_cli.screen import MssScreen

    screen = MssScreen(settings.monitor)
    planner = _planner(settings)
    grounder = _grounder(settings, planner)
    log = RunLog(cfg.runs_dir(), "plan", task)
    agent = Agent(screen, planner, None, settings, [log], grounder=grounder)
    try:
        if err.is_terminal and not quiet:
            with err.status("capturing the screen and asking the model..."):
                record = agent.preview(task)
        else:
            record = agent.preview(task)
        return record, screen.geometry, log.dir
    finally:
        screen.close()
        _close(planner, grounder)


def _close(planner: Any, grounder: Any) -> None:
    planner.backend.close()
    if grounder.backend is not planner.backend:
        grounder.backend.close()


def _confirmer(settings: Settings, view: Any):  # type: ignore[no-untyped-def]
    """The prompt that asks before a step. Without a terminal there is none: with
    --confirm always that is an error; with risky, risky steps are skipped (the model is told)."""
    if settings.confirm == "never" or not sys.stdin.isatty():
        if settings.confirm == "always":
            raise ConfigError("cannot ask before each action: standard input is not a terminal",
                              "pass --yes (or --confirm risky) to run without a terminal")
        return None

    def confirm(number: int, step: _Step, points: list[tuple[int, int]], risk: str | None) -> str:
        where = " at " + ", ".join(f"({x},{y})" for x, y in points) if points else ""
        why = f"RISKY: {risk}\n" if risk else ""
        while True:
            answer = view.ask(f"{why}step {number}: {step.describe()}{where} - run it? "
                              "[y]es / [n]o, skip / [q]uit: ")
            if answer in ("y", "yes"):
                return "yes"
            if answer in ("n", "no"):
                return "skip"
            if answer in ("q", "quit"):
                return "stop"

    return confirm


@app.command("do")
def do(
    task: Annotated[str, typer.Argument(help="What to do, in plain words.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Never ask before an action "
                                      "(the same as --confirm never).")] = False,
    confirm: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--confirm", help="Ask before: always (every action), risky (default: steps tracer's "
        "own rules call risky, whatever the model says) or never.")] = None,
    max_steps: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--max-steps", help="Give up after this many actions (default 30).")] = None,
    timeout: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--timeout", help="Give up after this many seconds (default 900).")] = None,
    backend: Backend = None, base_url: BaseUrl = None, model: Model = None,
    mmproj: Mmproj = None, script: Script = None, profile: Profile = None,
    horizon: Horizon = None, monitor: Monitor = None, display: Display = None,
    max_pixels: MaxPixels = None, max_tokens: MaxTokens = None, request_timeout: ReqTimeout = None,
    gpu_layers: GpuLayers = None, threads: Threads = None, context: Context = None,
    flash_attn: FlashAttn = None, grammar: Grammar = None, grounder: GrounderOpt = None,
    grounder_profile: GrounderProfile = None, grounder_mmproj: GrounderMmproj = None,
    kill_hotkey: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--kill-hotkey", help="Global hotkey that stops tracer from anywhere, in pynput syntax "
        "(default <ctrl>+<alt>+<shift>+k; '' turns it off).")] = None,
    replan: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--replan", help="always: ask the model after every step; adaptive (default): run the "
        "next forecast step without a model call while cheap checks say it still holds.")] = None,
    speculative_steps: Annotated[Optional[int], typer.Option(  # noqa: UP045
        "--speculative-steps", help="Adaptive: forecast steps run in a row without a model "
        "call, at most (default 4).")] = None,
) -> None:
    """Carry out TASK on the desktop: forecast, act on the first step, look again, repeat.

    Exit codes: 0 done, 1 failed or gave up, 2 usage or configuration error, 130 interrupted.
    Stop it with the kill hotkey (ctrl+alt+shift+k unless set otherwise), Ctrl-C, or by moving
    the mouse into a corner of the screen.
    """
    with guard():
        settings = _settings(locals(), confirm="never" if yes else confirm)
        result, run_dir = _run_agent(task, settings)
        if result.answer:
            out.print(escape(result.answer))
        err.print(f"run record: {run_dir}", soft_wrap=True)
        if result.status != "done":
            err.print(f"[bold red]tracer: {result.status}:[/] {escape(result.reason)}")
        raise typer.Exit(result.exit_code)


def _run_agent(task: str, settings: Settings) -> tuple[RunResult, Path]:
    from tracer_cli.agent import Agent
    from tracer_cli.runlog import RunLog
    from tracer_cli.screen import MssScreen

    with live_input(settings) as session:
        stop, actuator = session.stop, session.actuator
        planner = _planner(settings)
        screen = MssScreen(settings.monitor, input_size=actuator.size())
        view = _view()
        confirm = _confirmer(settings, view)
        log = RunLog(cfg.runs_dir(), "do", task)
        grounder = _grounder(settings, planner)
        agent = Agent(screen, planner, actuator, settings, [log, view], confirm, stop, grounder)
        session.announce()
        try:
            return agent.run(task), log.dir
        finally:
            screen.close()
            _close(planner, grounder)


def _view():  # type: ignore[no-untyped-def]
    from tracer_cli.panel import LivePanel, LogLines

    return LivePanel(err) if err.is_terminal else LogLines()


@dataclass
class LiveInput:
    stop: StopRequest
    actuator: PyAutoGUIActuator
    switch: KillSwitch | None

    def announce(self) -> None:
        """Tell the user how to stop tracer (once the set-up has worked: errors stay one line)."""
        if self.switch is not None:
            err.print(f"tracer: kill switch armed: press {escape(self.switch.label)} to stop")
            if self.switch.warning:
                err.print(f"tracer: warning: {escape(self.switch.warning)}")


@contextmanager
def live_input(settings: Settings) -> Iterator[LiveInput]:
    """Everything that must surround real input events: the display check, the kill switch
    (armed first, so it works while a model loads), the actuator that obeys it, and signal
    handlers that stop between keys, never in the middle of one."""
    from tracer_cli.actuator import PyAutoGUIActuator
    from tracer_cli.killswitch import KillSwitch, StopRequest
    from tracer_cli.screen import check_display

    check_display()
    stop = StopRequest()
    switch = KillSwitch(settings.kill_hotkey, stop, _wake_main) if settings.kill_hotkey else None
    if switch is not None:
        switch.start()
    try:
        actuator = PyAutoGUIActuator(stop, forbidden=[switch.chord] if switch else [])
    except BaseException:
        if switch is not None:
            switch.close()
        raise

    def stop_signal(signum: int, frame: object) -> None:
        """Ctrl-C, SIGTERM and the kill switch's wake-up end the run alike; never in the middle
        of a key: the actuator stops by itself once that key is sent."""
        stop.request(_STOP_REASONS.get(signum, "interrupted"))
        if not actuator.acting:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield LiveInput(stop, actuator, switch)
    finally:
        if switch is not None:
            switch.close()  # before the handlers go: its wake-up would be a bare Ctrl-C
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_STOP_REASONS = {signal.SIGINT: "interrupted with Ctrl-C", signal.SIGTERM: "terminated by SIGTERM"}


def _wake_main() -> None:
    """The kill switch fired (on its own thread): interrupt whatever the main thread waits for,
    a model answer say, with a SIGINT; the stop it set first says why."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    else:  # Windows: no signals to a thread
        import _thread

        _thread.interrupt_main()


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the effective settings, where each comes from, and where the config file is.

    Precedence: command-line flags, then TRACER_* environment variables, then the config file
    (TOML, one `name = value` per setting), then the defaults.
    """
    with guard():
        path = cfg.config_path()
        settings, sources = cfg.load()
        if as_json:
            sys.stdout.write(json.dumps({"config_file": str(path), "runs": str(cfg.runs_dir()),
                                         "settings": settings.model_dump(),
                                         "sources": sources}) + "\n")
            return
        state = "exists" if path.exists() else "not created yet"
        out.print(f"config file: {path} ({state})", soft_wrap=True)
        out.print(f"run records: {cfg.runs_dir()}", soft_wrap=True)
        out.print(f"API key: {'set' if settings.api_key else 'not set'} "
                  "(TRACER_API_KEY or OPENAI_API_KEY)")
        table = Table()
        for col in ("setting", "value", "from", "environment", "meaning"):
            table.add_column(col)
        for name, field in type(settings).model_fields.items():
            table.add_row(name, escape(repr(getattr(settings, name))), sources[name],
                          cfg.ENV_PREFIX + name.upper(), field.description or "")
        out.print(table)


@app.command()
def doctor(
    load: Annotated[bool, typer.Option(
        "--load", help="Also load the local model into llama.cpp (slow for big models).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    backend: Backend = None, base_url: BaseUrl = None, model: Model = None,
    mmproj: Mmproj = None, script: Script = None, monitor: Monitor = None, display: Display = None,
    profile: Profile = None, max_pixels: MaxPixels = None,
    kill_hotkey: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--kill-hotkey", help="The kill hotkey to check (default: the configured one).")] = None,
) -> None:
    """Check the display, screen capture, input control, the kill hotkey, the config, the run
    records, the image the model gets, and the configured model and backend, and print what to
    fix.

    Exit codes: 0 everything needed works, 1 something needed failed (the table says what to
    fix; a skipped check waits on a failed one, or on --load).
    """
    from tracer_cli import doctor as checks

    with guard():
        results = checks.run(locals(), load=load)
        if as_json:
            sys.stdout.write(checks.to_json(results) + "\n")
        else:
            out.print(checks.table(results))
            out.print(checks.summary(results))
        raise typer.Exit(0 if checks.passed(results) else 1)


def _add_subcommands() -> None:
    import tracer_cli.macro_cli  # noqa: F401 (registers `run` and `record`)
    from tracer_cli.logs_cli import app as logs_app
    from tracer_cli.models_cli import app as models_app

    app.add_typer(logs_app, name="logs")
    app.add_typer(models_app, name="models")


_add_subcommands()


def main() -> None:
    app()
