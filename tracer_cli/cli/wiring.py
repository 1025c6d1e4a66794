"""Wiring a run: settings from a command's flags, the planner and the grounder, the confirmation
prompt, the live view, and everything that must surround real input events."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tracer_cli.cli.console import DEBUG, err
from tracer_cli.desktop.killswitch import SIGNAL_REASONS
from tracer_cli.errors import ConfigError

if TYPE_CHECKING:
    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import PyAutoGUIActuator
    from tracer_cli.desktop.killswitch import KillSwitch, PauseRequest, PauseSwitch, StopRequest
    from tracer_cli.desktop.sandbox import Sandbox
    from tracer_cli.plan import BaseStep


def settings_from(flags: dict[str, Any]) -> Settings:
    """The settings of a run from the flags a command passes explicitly (setting name -> value;
    None: not given), over the environment and the config file."""
    from tracer_cli.agent.defaults import effective

    settings = effective({k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()})
    if settings.display:
        os.environ["DISPLAY"] = settings.display  # before mss or pyautogui look at it
        from tracer_cli.desktop.sandbox import find

        box = find(settings.display)
        if box is not None:  # a sandbox's display: its cookie lets tracer in
            os.environ["XAUTHORITY"] = box.xauthority
    return settings


def make_planner(settings: Settings):  # type: ignore[no-untyped-def]
    from tracer_cli.agent.backends import create
    from tracer_cli.agent.defaults import zooms_on_cpu_budget
    from tracer_cli.agent.planner import Planner
    from tracer_cli.agent.profiles import PROFILES

    profile = PROFILES.get(settings.profile)()
    warning = profile.geometry.budget_warning(settings.max_pixels, settings.zoom)
    if warning and not zooms_on_cpu_budget(settings):
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    if settings.backend == "llama":
        _offer_pull(settings)
    backend = create(settings.backend, settings)
    cpu = getattr(backend, "cpu", None)
    if cpu is not None and DEBUG["on"]:
        err.print(f"tracer: debug: {escape(cpu.describe())}")
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
        from tracer_cli.cli.models import pull

        pull(spec.name, force=False, endpoint=None)


def make_grounder(settings: Settings, planner: Any):  # type: ignore[no-untyped-def]
    """The planner's own model, or the second model named by --grounder (a server URL, a
    model name or a .gguf path)."""
    from tracer_cli.agent.grounding import Grounder

    if not settings.grounder:
        return Grounder(planner.backend, planner.profile)
    from tracer_cli.agent.backends import create
    from tracer_cli.agent.profiles import PROFILES

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


def make_models(settings: Settings) -> tuple[Any, Any]:
    """The planner and the grounder; a grounder that cannot be made closes the planner's model
    again (and nothing has been recorded yet: the run record is made after both)."""
    planner = make_planner(settings)
    try:
        return planner, make_grounder(settings, planner)
    except BaseException:
        planner.backend.close()
        raise


def close_models(planner: Any, grounder: Any) -> None:
    planner.backend.close()
    if grounder.backend is not planner.backend:
        grounder.backend.close()


def confirmer(settings: Settings, view: Any):  # type: ignore[no-untyped-def]
    """The prompt that asks before a step. Without a terminal there is none: with
    --confirm always that is an error; with risky, risky steps are skipped (the model is told)."""
    if settings.confirm == "never" or not sys.stdin.isatty():
        if settings.confirm == "always":
            raise ConfigError("cannot ask before each action: standard input is not a terminal",
                              "pass --yes (or --confirm risky) to run without a terminal")
        return None

    def confirm(number: int, step: BaseStep, points: list[tuple[int, int]], risk: str | None) -> str:
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


def make_view():  # type: ignore[no-untyped-def]
    from tracer_cli.cli.panel import LivePanel, LogLines

    return LivePanel(err) if err.is_terminal else LogLines()


@dataclass
class LiveInput:
    stop: StopRequest
    actuator: PyAutoGUIActuator
    switch: KillSwitch | None
    pause_switch: PauseSwitch | None = None

    @property
    def resume_hint(self) -> str:
        if self.pause_switch is None:
            return ""
        hint = f"press {self.pause_switch.label} to hand back"
        if sys.stdin.isatty():
            hint += " (a line typed here is a note for the model; an empty line hands back too)"
        return hint

    def announce(self, view: Any = None) -> None:
        """Tell the user how to stop and pause tracer (once the set-up has worked: errors stay
        one line); ``view`` learns how to resume."""
        if self.switch is not None:
            err.print(f"tracer: kill switch armed: press {escape(self.switch.label)} to stop")
            if self.switch.warning:
                err.print(f"tracer: warning: {escape(self.switch.warning)}")
        if self.pause_switch is not None:
            err.print(f"tracer: pause hotkey armed: press {escape(self.pause_switch.label)} to "
                      "pause and take the mouse, again to hand back")
            if view is not None:
                view.resume_hint = self.resume_hint
                self.pause_switch.on_toggle = view.pause_toggled


def _hotkeys(settings: Settings, stop: StopRequest) -> tuple[KillSwitch | None, PauseSwitch | None]:
    """The kill switch and the pause hotkey, checked apart and armed (kill first)."""
    from tracer_cli.desktop.killswitch import KillSwitch, PauseRequest, PauseSwitch, check_apart

    switch = KillSwitch(settings.kill_hotkey, stop, _wake_main) if settings.kill_hotkey else None
    pause = PauseSwitch(settings.pause_hotkey, PauseRequest()) if settings.pause_hotkey else None
    if switch is not None and pause is not None:
        check_apart(switch.chord, pause.chord, settings.pause_hotkey)
    armed = []
    try:
        for hotkey in (switch, pause):
            if hotkey is not None:
                hotkey.start()
                armed.append(hotkey)
    except BaseException:
        for hotkey in armed:
            hotkey.close()
        raise
    return switch, pause


def _read_notes(pause: PauseRequest, done: threading.Event) -> None:
    """While the run is paused, lines typed at the terminal are the note for the model; an
    empty line hands back (a thread; only with a terminal). Reads the descriptor itself: a
    buffered reader would keep a second line where select() cannot see it."""
    import select

    fd, pending = sys.stdin.fileno(), b""
    while not done.is_set():
        if not pause.requested.wait(0.2):
            continue
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready or not pause.requested.is_set():
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending and pause.requested.is_set():
            line, pending = pending.split(b"\n", 1)
            text = line.decode(errors="replace").strip()
            if text:
                pause.add_note(text)
            else:
                pause.resume()


@contextmanager
def live_input(settings: Settings, sandbox: Sandbox | None = None) -> Iterator[LiveInput]:
    """Everything that must surround real input events: the display check, the kill switch
    (armed first, so it works while a model loads), the actuator that obeys it, and signal
    handlers that stop between keys, never in the middle of one.

    With a ``sandbox`` the kill switch listens on the user's own display (when there is one)
    while the screen and the actuator, made after this, use the sandbox's; a sandbox that ends
    stops the run."""
    from tracer_cli.desktop.actuator import PyAutoGUIActuator
    from tracer_cli.desktop.killswitch import StopRequest
    from tracer_cli.desktop.screen import check_display

    if sandbox is None:
        check_display()
    stop = StopRequest()
    listen = sandbox is None or bool(os.environ.get("DISPLAY"))  # the hotkeys: the user's display
    if settings.kill_hotkey and not listen:
        err.print("tracer: no display of yours to listen on for the kill hotkey: Ctrl-C stops "
                  "the run")
    switch, pause_switch = _hotkeys(settings, stop) if listen else (None, None)
    forbidden = {}
    if switch is not None:
        forbidden[switch.chord] = "kill hotkey"
    if pause_switch is not None:
        forbidden[pause_switch.chord] = "pause hotkey"
    try:
        restore = enter_sandbox(sandbox, stop) if sandbox is not None else None
    except BaseException:
        for hotkey in (switch, pause_switch):
            if hotkey is not None:
                hotkey.close()
        raise
    try:
        actuator = PyAutoGUIActuator(stop, forbidden=forbidden,
                                     pause=pause_switch.pause if pause_switch else None)
    except BaseException:
        for hotkey in (switch, pause_switch):
            if hotkey is not None:
                hotkey.close()
        if restore is not None:
            restore()
        raise

    def stop_signal(signum: int, frame: object) -> None:
        """Ctrl-C, SIGTERM and the kill switch's wake-up end the run alike; never in the middle
        of a key: the actuator stops by itself once that key is sent."""
        stop.request(SIGNAL_REASONS.get(signum, "interrupted"))
        if not actuator.acting:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    done = threading.Event()
    if pause_switch is not None and sys.stdin.isatty() and os.name == "posix":
        threading.Thread(target=_read_notes, args=(pause_switch.pause, done), daemon=True).start()
    try:
        yield LiveInput(stop, actuator, switch, pause_switch)
    finally:
        done.set()
        if pause_switch is not None:
            pause_switch.close()
        if switch is not None:
            switch.close()  # before the handlers go: its wake-up would be a bare Ctrl-C
        if restore is not None:
            restore()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def enter_sandbox(sandbox: Sandbox, stop: StopRequest) -> Callable[[], None]:
    """Point this process's X connections made from now on at the sandbox, and watch it: when
    it ends, the run stops with one line that says so. Returns what undoes both."""
    from tracer_cli.desktop.sandbox import watch

    previous = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
    os.environ.update(sandbox.env({}))

    def ended() -> None:
        stop.request(str(sandbox.ended()))
        _wake_main()

    watcher = watch(sandbox, ended)

    def restore() -> None:
        watcher.set()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    return restore


def _wake_main() -> None:
    """The kill switch fired (on its own thread): interrupt whatever the main thread waits for,
    a model answer say, with a SIGINT; the stop it set first says why."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
    else:  # Windows: no signals to a thread
        import _thread

        _thread.interrupt_main()



def open_record(settings: Settings, kind: str, task: str, cls: Any = None) -> Any:
    """A new run record (``cls``: RunLog or a subclass), after the size cap made room."""
    from tracer_cli import paths
    from tracer_cli.agent.runlog import RunLog

    bound_records(settings)
    return (cls or RunLog)(paths.runs_dir(), kind, task)


def bound_records(settings: Settings, current: Path | None = None) -> None:
    """Keep all run records under the runs_max_mb cap (oldest go first; ``current`` and runs
    still going stay), saying what was freed."""
    if not settings.runs_max_mb:
        return
    from tracer_cli import paths
    from tracer_cli.agent.retention import prune

    spare = frozenset({current}) if current else frozenset()
    pruned = prune(paths.runs_dir(), max_bytes=settings.runs_max_mb << 20, spare=spare)
    if pruned.removed:
        err.print(f"tracer: run records over the {settings.runs_max_mb} MB cap (setting "
                  f"runs_max_mb): {pruned}", soft_wrap=True)


def close_record(settings: Settings, run_dir: Path) -> None:
    """After a run: the cap again, then the last line, which says how to look at the run."""
    bound_records(settings, run_dir)
    err.print(f"run record: {run_dir}\nreport: tracer logs report {run_dir.name} --open",
              soft_wrap=True)
