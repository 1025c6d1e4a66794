"""`tracer run` and `tracer record`: macros from the command line. Thin, like cli.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from tracer_cli.cli import options as opt  # typer reads the opt.* annotations here
from tracer_cli.cli import wiring
from tracer_cli.cli.console import elide, err, guard, out, progress_bar, stdout
from tracer_cli.errors import ConfigError, StorageError, quote

if TYPE_CHECKING:
    from tracer_cli.agent.runloop import RunResult
    from tracer_cli.config import Settings
    from tracer_cli.desktop.elements import Elements
    from tracer_cli.desktop.screen import Screens
    from tracer_cli.macro.load import Instance


def _variables(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--var {quote(pair)} is not KEY=VALUE", "write it as --var name=Ada")
        values[key.strip()] = value
    return values


@opt.model_options
def run_macro(
    macro_file: Annotated[Optional[Path], typer.Argument(  # noqa: UP045
        metavar="MACRO", help="The macro file (YAML).")] = None,
    var: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--var", help="Set a variable: --var name=Ada (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show where each step would act on the current screen (an annotated "
        "PNG), with no input event at all.")] = False,
    out_png: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", "-o", help="With --dry-run: also write the annotated screenshot here.")] = None,
    schema: Annotated[bool, typer.Option(
        "--schema", help="Print the JSON schema of macro files and exit.")] = False,
    yes: opt.Yes = False, confirm: opt.Confirm = None, ocr: opt.Ocr = None,
    kill_hotkey: opt.KillHotkey = None, pause_hotkey: opt.PauseHotkey = None,
    events: opt.Events = None, wait: opt.Wait = False,
    model_flags: dict[str, Any] | None = None,
) -> None:
    """Run a macro: click texts and images found on the live screen, type, wait, check.

    Stops at the first failing step (file:line, screenshot in the run record); `do:` steps use
    the model options. Exit codes: 0 done, 1 failed, 2 bad input, 3 needed a human, 130 stopped.
    """
    with guard():
        streaming = opt.check_events(events)
        if schema:
            from tracer_cli.macro.load import json_schema

            stdout().write(json.dumps(json_schema(), indent=2) + "\n")
            return
        if macro_file is None:
            raise ConfigError("no macro file given", "tracer run MACRO.yaml (see examples/macros/)")
        from tracer_cli.macro.load import load, unroll

        macro = load(macro_file)
        steps = unroll(macro, _variables(var or []))
        settings = wiring.settings_from({**(model_flags or {}), "confirm": "never" if yes else confirm,
                                  "ocr": ocr, "kill_hotkey": kill_hotkey,
                                  "pause_hotkey": pause_hotkey})
        if dry_run:
            if streaming:
                raise ConfigError("--events needs a run; --dry-run runs nothing",
                                  "leave out --events, or --dry-run")
            _dry_run(macro.name, steps, settings, out_png)
            return
        result, run_dir = _run(macro.name, steps, settings, streaming, wait)
        if result.status != "done":
            err.print(f"[bold red]tracer: {result.said}:[/] {escape(result.reason)}")
        wiring.close_record(settings, run_dir)
        raise typer.Exit(result.exit_code)


def _run(title: str, steps: list[Instance], settings: Settings,
         events: bool = False, wait: bool = False) -> tuple[RunResult, Path]:
    from tracer_cli.macro.run import Finder, MacroLog, MacroRunner, macro_step_line

    with wiring.live_input(settings, what=f"tracer run {title!r}", wait=wait) as session:
        from tracer_cli.desktop.elements import open_elements
        from tracer_cli.desktop.screen import Screens

        screens = Screens(session.platform.open_screen, session.actuator.size(), session.screen)
        elements = open_elements(session.platform)
        try:
            view = wiring.make_view()
            log = wiring.open_record(settings, "run", title, MacroLog)
            subtask = _SubTask(settings, session, screens, view, elements)
            listeners: list[Any] = [log, view]
            if events:
                from tracer_cli.agent.events import EventStream

                listeners.append(EventStream(stdout(), "run", macro_step_line, log.dir))
            runner = MacroRunner(steps, screens, session.actuator, Finder(settings.ocr, elements),
                                 settings, listeners, wiring.confirmer(settings, view), session.stop,
                                 subtask)
            session.announce(view)
            try:
                return runner.run(title), log.dir
            finally:
                subtask.close()
        finally:
            elements.close()
            screens.close()


class _SubTask:
    """Runs a macro's `do:` steps with the agent, on the same screen, actuator and kill switch.
    The model is loaded at the first such step and kept for the next ones."""

    def __init__(self, settings: Settings, session: Any, screens: Screens, view: Any,
                 elements: Elements | None = None) -> None:
        self.settings, self.session, self.screens, self.view = settings, session, screens, view
        self.elements = elements  # the accessibility tree, shared with the macro's steps
        self.planner: Any = None
        self.grounder: Any = None

    def __call__(self, task: str, max_steps: int) -> RunResult:
        from tracer_cli.agent.loop import Agent
        from tracer_cli.cli.panel import LivePanel

        if self.planner is None:
            self.planner, self.grounder = wiring.make_models(self.settings)
        settings = self.settings.model_copy(update={"max_steps": max_steps})
        view = wiring.make_view()
        view.resume_hint = self.session.resume_hint
        log = wiring.open_record(settings, "do", task)
        agent = Agent(self.screens(settings.monitor), self.planner, self.session.actuator, settings,
                      [log, view], wiring.confirmer(settings, view), self.session.stop, self.grounder,
                      self.elements)
        paused = isinstance(self.view, LivePanel)
        if paused:
            self.view.live.stop()
        try:
            return agent.run(task)
        finally:
            if paused:
                self.view.live.start()

    def close(self) -> None:
        if self.planner is not None:
            wiring.close_models(self.planner, self.grounder)


def _dry_run(title: str, steps: list[Instance], settings: Settings, out_png: Path | None) -> None:
    from tracer_cli import private
    from tracer_cli.cli.preview import draw_marks
    from tracer_cli.desktop.elements import open_elements
    from tracer_cli.desktop.hands import desktops
    from tracer_cli.desktop.screen import Screens
    from tracer_cli.macro.run import Finder, MacroRunner
    from tracer_cli.vision.marks import keys_label

    platform = desktops(settings)[0]
    screens = Screens(platform.open_screen, None)
    elements = open_elements(platform)
    try:
        screens(settings.monitor)
        runner = MacroRunner(steps, screens, None, Finder(settings.ocr, elements), settings)
        log = wiring.open_record(settings, "run", title)
        if err.is_terminal:
            with err.status("looking for every step's text and image on the screen..."):
                planned, shots = runner.preview()
        else:
            planned, shots = runner.preview()
    finally:
        elements.close()
        screens.close()
    images = {}
    for monitor, shot in shots.items():
        marks = [p.points if p.monitor == monitor else [] for p in planned]
        boxes = [p.box if p.monitor == monitor else None for p in planned]
        keys = [keys_label(p.instance.step.model_dump(mode="json", by_alias=True)) for p in planned]
        legend = [f"{p.number}. {p.instance.describe()}" for p in planned
                  if p.points and p.monitor == monitor]
        name = "preview.png" if monitor == settings.monitor else f"preview-monitor{monitor}.png"
        log.save_image(draw_marks(shot, marks, legend[:30], keys, boxes), name, compress_level=6)
        images[monitor] = log.dir / name
    for p in planned:
        log.write_step({"step": p.number, "where": str(p.instance.where),
                        "describe": p.instance.describe(), "monitor": p.monitor,
                        "points": [list(x) for x in p.points], "outcome": p.status})
    found = sum(1 for p in planned if p.points)
    pointers = sum(1 for p in planned if p.pointer)
    log.finish("planned", f"dry run: {found} of {pointers} targets found on the current screen",
               steps=len(planned))
    table = Table(title=f"Dry run: {title}", title_justify="left")
    for col in ("#", "line", "step", "on the current screen"):
        table.add_column(col)
    first, hidden, last = elide(planned)
    for p in first:
        table.add_row(str(p.number), str(p.instance.where.line), escape(p.instance.describe()),
                      escape(p.status))
    if hidden:
        table.add_row("...", "", f"{hidden:,} more steps", "")
    for p in last:
        table.add_row(str(p.number), str(p.instance.where.line), escape(p.instance.describe()),
                      escape(p.status))
    out.print(table)
    main = images.get(settings.monitor)
    if out_png and main:
        try:
            private.copy_file(main, out_png)
        except (OSError, StorageError) as exc:
            raise ConfigError(exc.message if isinstance(exc, StorageError) else
                              f"cannot write {out_png}: {exc}", "choose another place with --out") from None
    err.print(f"{found} of {pointers} pointer targets found on the current screen; nothing was "
              f"executed\npreview: {out_png or main}", soft_wrap=True)
    if hidden:
        err.print(f"all {len(planned):,} steps: tracer logs {log.dir.name} --all", soft_wrap=True)
    wiring.close_record(settings, log.dir)


def record_macro(
    out_file: Annotated[Path, typer.Argument(metavar="OUT.yaml", help="The macro to write.")],
    stop_hotkey: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--stop-hotkey", help="Chord that ends the recording, in pynput syntax (default: the "
        "kill hotkey, <ctrl>+<alt>+<shift>+k). Ctrl-C in this terminal also ends it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT.yaml.")] = False,
    monitor: opt.Monitor = None, display: opt.Display = None, platform: opt.Platform = None,
    ocr: opt.Ocr = None,
) -> None:
    """Record your own mouse and keyboard as a macro, until the stop hotkey or Ctrl-C.

    Typing becomes `type` steps, chords `hotkey` steps; every click keeps its point and a visual
    anchor (the text under the pointer, else a small picture cut around it, saved next to the
    macro), so the macro replays with `tracer run` even after the window moved. Whatever was
    recorded is saved, however the recording ends.
    """
    from tracer_cli.macro.record import record

    with guard():
        settings = wiring.settings_from({"monitor": monitor, "display": display, "ocr": ocr,
                                         "platform": platform})
        from tracer_cli.desktop.hands import desktops

        desktop, _ = desktops(settings)  # a sandbox's too: shown with --watch, it takes input
        with progress_bar("finding anchors") as progress:
            result = record(out_file, desktop, settings, stop_hotkey, settings.monitor, force=force,
                            on_ready=lambda message: err.print(f"tracer: {escape(message)}"),
                            progress=progress)
        for warning in result.warnings:
            err.print(f"tracer: warning: {escape(warning)}")
        err.print(f"tracer: {escape(str(result))}", soft_wrap=True)
        raise typer.Exit(0 if result.path is not None else 1)
