"""Wiring a run: settings from a command's flags, the planner and the grounder, the confirmation
prompt, the live view, and everything that must surround real input events."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from tracer_cli.cli.console import DEBUG, err, progress_bar
from tracer_cli.desktop.killswitch import SIGNAL_REASONS
from tracer_cli.errors import ConfigError

# Libraries a signal must not raise inside (see _StopSignals).
SIGNAL_UNSAFE = ("Xlib.",)

if TYPE_CHECKING:
    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import LiveActuator
    from tracer_cli.desktop.hands import Switches
    from tracer_cli.desktop.killswitch import PauseRequest, StopRequest
    from tracer_cli.desktop.platform import Platform
    from tracer_cli.desktop.sandbox import Sandbox
    from tracer_cli.desktop.screen import Screen
    from tracer_cli.plan import BaseStep


def settings_from(flags: dict[str, Any]) -> Settings:
    """The settings of a run from the flags a command passes explicitly (setting name -> value;
    None: not given), over the environment and the config file."""
    from tracer_cli.agent.defaults import effective

    return effective({k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()})


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
        _refuse_gguf(profile, f"--base-url http://HOST:PORT/v1 --profile {profile.name}")
        _offer_pull(settings)
        settings = _cpu_projector(settings)
    backend = create(settings.backend, settings)
    cpu = getattr(backend, "cpu", None)
    if cpu is not None and DEBUG["on"]:
        err.print(f"tracer: debug: {escape(cpu.describe())}")
    _warn_tiles(backend, profile, "--profile")
    return Planner(backend, profile, settings.answer_retries)


def _cpu_projector(settings: Settings) -> Settings:
    """Where a llama model runs on the CPU: the Q8_0 copy of its F16 projector in place of it,
    made the first time (a few seconds, a progress bar at a terminal; see
    agent/backends/projector.py). A copy that cannot be written (a full disk) is a warning:
    the run goes on with the F16 file."""
    if settings.backend != "llama" or not settings.projector_q8:
        return settings
    from tracer_cli.agent.backends import projector
    from tracer_cli.agent.backends.llama import gpu_layers
    from tracer_cli.errors import TracerError
    from tracer_cli.models import require_installed, resolve

    try:
        if gpu_layers(settings.gpu_layers) != 0:
            return settings
        _, mmproj = require_installed(resolve(settings.model, settings.mmproj))
    except (TracerError, ImportError):
        return settings  # the backend says what is wrong, in its own words
    if not projector.is_f16_projector(mmproj):
        return settings
    try:
        with progress_bar("the projector's Q8_0 copy for this CPU (once)") as progress:
            copy = projector.cpu_copy(mmproj, progress)
    except (OSError, ValueError) as exc:
        err.print(f"[yellow]warning:[/] cannot write the vision projector's Q8_0 copy "
                  f"({escape(getattr(exc, 'strerror', None) or str(exc))}): the encoder runs on "
                  f"{escape(mmproj.name)} (--no-projector-q8 stops trying)", soft_wrap=True)
        return settings
    if DEBUG["on"]:
        err.print(f"tracer: debug: the vision encoder runs on {escape(str(copy))}", soft_wrap=True)
    return settings.model_copy(update={"mmproj": str(copy)})


def _refuse_gguf(profile: Any, instead: str) -> None:
    """A family llama.cpp cannot run (its profile says why): refused before anything loads."""
    reason = getattr(profile, "no_gguf", "")
    if reason:
        raise ConfigError(f"profile {profile.name} needs a model server, not a .gguf: {reason}",
                          f"serve the model with vLLM and pass {instead}")


def _warn_tiles(backend: Any, profile: Any, flag: str) -> None:
    """A local model whose projector's tiles are not the profile's family's."""
    factor = getattr(backend, "image_factor", None)
    if factor and factor != profile.geometry.factor:
        err.print(f"[yellow]warning:[/] the vision projector works in {factor}-pixel tiles, but "
                  f"profile {profile.name} sends {profile.geometry.family} images (multiples of "
                  f"{profile.geometry.factor}): llama.cpp will resize and pad every screenshot "
                  f"and clicks will drift; choose the profile of the model's family with {flag}")


def _offer_pull(settings: Settings) -> None:
    """A catalogue model that is not installed yet: offer to download it when someone can
    answer (and did not say no before); otherwise the backend's error names the command that
    does."""
    from tracer_cli.cli.models import NotDownloaded, download, offer
    from tracer_cli.models import resolve

    spec = resolve(settings.model, settings.mmproj)
    if spec.source != "catalogue" or spec.installed() or not sys.stdin.isatty():
        return
    err.print(f"model {spec.name} is not installed.")
    try:
        offer(spec)
    except NotDownloaded as exc:
        err.print(f"tracer: {escape(exc.message)}")
        return
    download(spec)


def _grounder_parts(settings: Settings) -> tuple[Settings, Any, int]:
    """The --grounder model's settings, profile and image budget, without loading anything
    (a family llama.cpp cannot run is refused here)."""
    from tracer_cli.agent.profiles import PROFILES

    if settings.grounder.startswith(("http://", "https://")):
        own = settings.model_copy(update={"backend": "openai", "base_url": settings.grounder,
                                          "model": settings.grounder_model, "grammar": False})
        return own, PROFILES.get(settings.grounder_profile or "tracer1")(), settings.max_pixels
    from tracer_cli.models import resolve

    spec = resolve(settings.grounder, settings.grounder_mmproj)
    own = settings.model_copy(update={"backend": "llama", "model": settings.grounder,
                                      "mmproj": settings.grounder_mmproj, "context": 0,
                                      "grammar": False})
    profile = PROFILES.get(settings.grounder_profile or spec.profile)()
    _refuse_gguf(profile, f"--grounder http://HOST:PORT/v1 --grounder-profile {profile.name}")
    return own, profile, spec.max_pixels


def make_grounder(settings: Settings, planner: Any):  # type: ignore[no-untyped-def]
    """The planner's own model, or the second model named by --grounder (a server URL, a
    model name or a .gguf path)."""
    from tracer_cli.agent.grounding import Grounder

    if not settings.grounder:
        return Grounder(planner.backend, planner.profile)
    from tracer_cli.agent.backends import create

    own, profile, budget = _grounder_parts(settings)
    backend = create(own.backend, _cpu_projector(own))
    _warn_tiles(backend, profile, "--grounder-profile")
    return Grounder(backend, profile, always=True, max_pixels=budget)


def make_models(settings: Settings) -> tuple[Any, Any]:
    """The planner and the grounder; a grounder that cannot be made closes the planner's model
    again (and nothing has been recorded yet: the run record is made after both). A grounder
    that can be refused without loading it is refused before the planner loads."""
    if settings.grounder:
        _grounder_parts(settings)
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
    """What a run acts with: the stop request, the actuator and screen of the desktop acted on
    (``platform``), and the user's switches."""

    stop: StopRequest
    actuator: LiveActuator
    screen: Screen
    switches: Switches
    platform: Platform

    @property
    def pause(self) -> PauseRequest:
        return self.switches.pause

    @property
    def resume_hint(self) -> str:
        switch = self.switches.pause_switch
        how = [f"press {switch.label}"] if switch is not None else []
        if self.switches.control is not None:
            how.append("run tracer pause")
        if not how:
            return ""
        hint = f"{how[0]} to hand back" + (f" (or {how[1]})" if len(how) > 1 else "")
        if sys.stdin.isatty():
            hint += " (a line typed here is a note for the model; an empty line hands back too)"
        return hint

    def announce(self, view: Any = None) -> None:
        """Tell the user how to stop and pause tracer (once the set-up has worked: errors stay
        one line); ``view`` learns how to resume."""
        kill, pause = self.switches.kill, self.switches.pause_switch
        if kill is not None:
            err.print(f"tracer: kill switch armed: press {escape(kill.label)} to stop")
            if kill.warning:
                err.print(f"tracer: warning: {escape(kill.warning)}")
        if pause is not None:
            err.print(f"tracer: pause hotkey armed: press {escape(pause.label)} to "
                      "pause and take the mouse, again to hand back")
        for note in self.switches.notes:
            err.print(f"tracer: {escape(note)}")
        if view is not None:
            view.resume_hint = self.resume_hint
            self.switches.on_pause = view.pause_toggled


@contextmanager
def live_input(settings: Settings, sandbox: Sandbox | None = None, what: str = "tracer",
               wait: bool = False) -> Iterator[LiveInput]:
    """Everything that must surround real input events: the desktop's lock (one run at a time:
    refused naming the holder, or waited for with ``wait``), the user's switches (the kill
    switch armed first, so it works while a model loads), the actuator that obeys them, the
    screen, a watch that ends the run if the desktop goes away, and signal handlers that stop
    between keys, never in the middle of one."""
    from tracer_cli.desktop import hands
    from tracer_cli.desktop.killswitch import StopRequest

    acting, user = hands.desktops(settings, sandbox)
    stop = StopRequest()
    with contextlib.ExitStack() as stack:
        signals = stack.enter_context(_stop_signals(stop))
        held = hands.lock(acting, what, wait=wait, stop=stop)
        stack.callback(held.release)
        switches = hands.arm(user, settings, stop, _wake_main)
        stack.callback(switches.close)
        if user is None and settings.kill_hotkey:
            switches.notes.append("no desktop of yours to listen on for the kill hotkey: Ctrl-C "
                                  "stops the run (or tracer stop)")
        live = hands.open_hands(acting, settings.monitor, stop, switches)
        stack.callback(live.close)
        box = sandbox
        reason = (lambda why: str(box.ended())) if box is not None else None
        stack.callback(hands.watch(acting, stop, _wake_main, reason))
        signals.acting = lambda: live.actuator.acting
        if sys.stdin.isatty() and os.name == "posix":
            done = threading.Event()
            stack.callback(done.set)
            threading.Thread(target=_read_notes, args=(switches.pause, done), daemon=True).start()
        yield LiveInput(stop, live.actuator, live.screen, switches, acting)


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


class _StopSignals:
    """The handler of Ctrl-C and SIGTERM during a run: both, and the kill switch's wake-up, end
    the run alike. The first that comes while nothing is acting raises KeyboardInterrupt, to
    end a wait for a model at once. Never in the middle of a key (``acting``: the actuator
    stops by itself once that key is sent), inside python-xlib (it takes its locks without
    try/finally: one left held makes letting go of the keys wait forever), or a second time
    (the run is already ending: its record is being written)."""

    def __init__(self, stop: StopRequest) -> None:
        self.stop = stop
        self.acting: Callable[[], bool] = lambda: False
        self.raised = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.stop.request(SIGNAL_REASONS.get(signum, "interrupted"))
        if not self.raised and not self.acting() and not _in_unsafe_code(frame):
            self.raised = True
            raise KeyboardInterrupt


@contextmanager
def _stop_signals(stop: StopRequest) -> Iterator[_StopSignals]:
    """Handle Ctrl-C and SIGTERM as a stop of the run (only the main thread can)."""
    handler = _StopSignals(stop)
    if threading.current_thread() is not threading.main_thread():
        yield handler
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield handler
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _in_unsafe_code(frame: FrameType | None) -> bool:
    """Whether ``frame`` or one of its callers runs in a library an exception must not cut."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(SIGNAL_UNSAFE):
            return True
        frame = frame.f_back
    return False


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
