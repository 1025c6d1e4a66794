"""What every run shares, the agent's and a macro's: the step record, the result, the listeners
(panel, run record, event stream) and the loop over steps with its endings: done, a limit, an
error, or the user's stop (kill switch, signal, Ctrl-C), after which every held key and button is
released; and the user's pause (the pause hotkey), during which the user has the desktop.

``Agent`` (loop.py) and ``MacroRunner`` (macro/run.py) fill in what a step is."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tracer_cli.agent.outcome import Outcome
from tracer_cli.desktop.killswitch import Paused, PauseRequest, stop_reason
from tracer_cli.errors import (
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NEEDS_HUMAN,
    Interrupted,
    TracerError,
)

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.backends import CallProgress
    from tracer_cli.agent.effects import Effect
    from tracer_cli.agent.planner import Attempt, Forecast
    from tracer_cli.agent.speculate import Verdict
    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import Actuator
    from tracer_cli.desktop.screen import Geometry
    from tracer_cli.plan import BaseStep

# A confirmation callback answers "yes", "skip" or "stop" for a step about to run, given its
# number, the step, its screen points and why it is risky (None when it is asked for anyway).
# (The step is a plan step for the agent, a macro step for the macro runner.)
Confirm = Callable[[int, Any, list[tuple[int, int]], "str | None"], str]


class Action(Protocol):
    """What a step record holds: a plan step for the agent, a macro step for the macro runner
    (macro/load.py's Instance): not one type, one protocol."""

    @property
    def is_terminal(self) -> bool: ...

    def describe(self) -> str: ...


@dataclass
class StepRecord:
    """Everything about one iteration of the loop, as the run record keeps it."""

    number: int
    image: Image.Image | None = None  # the screenshot the model saw
    forecast: Forecast | None = None
    attempts: list[Attempt] = field(default_factory=list)
    action: Action | None = None  # a plan step (the agent) or a macro step (the macro runner)
    points: list[tuple[int, int]] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    timings: dict[str, float] = field(default_factory=dict)
    grounding: dict[str, object] | None = None  # where a grounder placed the step, if one did
    risk: str | None = None  # why tracer's rules call the step risky
    effect: Effect | None = None  # how much the screen changed after the action
    speculative: bool = False  # run from the last forecast, without a model call
    verdict: Verdict | None = None  # the checks that let it run so (or sent it to the model)
    element: dict[str, Any] | None = None  # the accessibility tree's element acted on, if any
    hits: list[dict[str, Any] | None] | None = None  # the element each forecast step would hit
    elements_sent: int | None = None  # --elements: elements listed in this step's request
    elements_note: str = ""  # --elements: why none could be listed (said once a run)
    shot_at: float | None = None  # time.monotonic() when the screenshot it acts on was taken
    first_input: float | None = None  # seconds from that screenshot to the first input event
    streamed: bool = False  # started while the model still wrote the rest of its forecast
    rest: str = ""  # why the rest of a forecast whose first step ran early was not used


@dataclass
class RunResult:
    status: str  # done | failed | gave_up | stuck | error | interrupted | planned
    reason: str = ""
    answer: str = ""
    steps: int = 0
    seconds: float = 0.0
    code: int | None = None  # set when an error carries its own exit code
    model_calls: int = 0  # requests to the planner (a malformed answer's retry counts)
    forecast_steps: int = 0  # steps run from a forecast without a model call
    needed_human: str = ""  # a step that needed the user's confirmation with no one to ask
    zoom_calls: int = 0  # requests that placed a click on a full-resolution crop

    @property
    def said(self) -> str:
        """The status as a person reads it: ``gave up``, ``stopped`` (by the user)."""
        return {"gave_up": "gave up", "interrupted": "stopped"}.get(self.status, self.status)

    @property
    def exit_code(self) -> int:
        if self.code is not None:
            return self.code
        if self.status in ("done", "planned"):
            return EXIT_DONE
        if self.needed_human and self.status != "interrupted":
            return EXIT_NEEDS_HUMAN
        return EXIT_INTERRUPTED if self.status == "interrupted" else EXIT_FAILED


class Listener:
    """Receives the loop's events. Subclasses override the ones they care about."""

    def on_start(self, task: str, settings: Settings, geometry: Geometry) -> None:
        """A run begins."""

    def on_phase(self, number: int, phase: str) -> None:
        """Step ``number`` enters ``phase``: capture, model, act or settle."""

    def on_model_progress(self, progress: CallProgress) -> None:
        """The model call of the phase going on (planning, grounding, a zoom) got this far:
        reading the prompt, encoding the screenshot, answering (N tokens). Heard on the run's
        thread as often as every token: keep it cheap."""

    def on_plan(self, number: int, forecast: Forecast) -> None:
        """A validated forecast arrived."""

    def on_early(self, number: int, step: BaseStep) -> None:
        """Step ``number`` starts while the model still writes the rest of its forecast."""

    def on_speculate(self, number: int, step: BaseStep, verdict: Verdict) -> None:
        """Step ``number`` runs from the last forecast, without a model call."""

    def on_action(self, number: int, step: BaseStep, points: list[tuple[int, int]]) -> None:
        """Step ``number`` is about to be executed at these input points."""

    def on_step(self, record: StepRecord) -> None:
        """Step ``number`` is over (executed, skipped, or the end)."""

    def on_pause(self, number: int, interrupted: str) -> None:
        """The user paused the run before step ``number`` or inside it (``interrupted`` says
        what of that step was done); everything is let go, the user has the desktop."""

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        """The user handed back after ``seconds``, with a ``note`` for the model (or "")."""

    def on_end(self, result: RunResult) -> None:
        """The run is over."""


class RunLoop:
    """The scaffolding of a run. A subclass says what step ``number`` is (``begin_step``: its
    record, or an ending such as a limit, or None when there are no more steps) and runs it
    (``run_step``: None to go on, or the run's ending)."""

    def __init__(self, actuator: Actuator | None, settings: Settings,
                 listeners: list[Listener] | None, confirm: Confirm | None,
                 stop: threading.Event | None) -> None:
        self.actuator = actuator
        self.settings = settings
        self.listeners = listeners or []
        self.confirm = confirm
        self.stop = stop or threading.Event()
        # The pause hotkey's request, shared with the actuator that obeys it at key boundaries.
        self.pause: PauseRequest | None = getattr(actuator, "pause", None)
        self.needed_human = ""  # why a step needed a confirmation that no one could give

    def _emit(self, event: str, *args: object) -> None:
        """Tell every listener; one that fails (the run record on a full disk) does not keep
        the others from hearing it, and its error is raised after them (the run stops)."""
        failed: TracerError | None = None
        for listener in self.listeners:
            handler = getattr(listener, event, None)
            if handler is None:
                continue
            try:
                handler(*args)
            except TracerError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def ask_user(self, record: StepRecord, step: Any, points: list[tuple[int, int]]) -> bool:
        """Ask before a step (the confirmation callback): False when the user declines it (the
        outcome says so); "stop" ends the run."""
        assert self.confirm is not None, "ask_user() needs a confirmation callback"
        self._emit("on_phase", record.number, "confirm")
        answer = self.confirm(record.number, step, points, record.risk)
        if answer == "stop":
            raise Interrupted("stopped at the confirmation prompt")
        if answer == "skip":
            record.outcome = Outcome("skipped", "the user declined this step")
            return False
        return True

    def hold(self, number: int, interrupted: str = "") -> str:
        """The user paused: let go of everything, say so, and wait until the pause hotkey is
        pressed again (or the run is stopped). Returns the user's note for the model."""
        assert self.pause is not None, "hold() needs a pause request"
        if self.actuator is not None:
            self.actuator.release_all()
        started = time.monotonic()
        self._emit("on_pause", number, interrupted)
        if not self.pause.wait_resumed(self.stop):
            raise Interrupted(stop_reason(self.stop))
        note = self.pause.take_note()
        self._emit("on_resume", number, time.monotonic() - started, note)
        return note

    def paused(self, record: StepRecord, exc: Paused) -> RunResult | None:
        """The actuator stopped step ``record`` at a key boundary for a pause: hold, then go on
        (the agent looks again and tells the model; a macro runs the rest of the step)."""
        note = self.hold(record.number, exc.progress())
        self.resumed(record.number, note, record, exc)
        return None

    def resumed(self, number: int, note: str, record: StepRecord | None, exc: Paused | None) -> None:
        """The user handed back (``record``: the step the pause interrupted, if one was)."""

    def begin_step(self, number: int) -> StepRecord | RunResult | None:
        raise NotImplementedError

    def run_step(self, record: StepRecord) -> RunResult | None:
        raise NotImplementedError

    def error_result(self, exc: TracerError) -> RunResult:
        """The ending of a run that an error stopped."""
        return RunResult("error", str(exc), code=exc.exit_code)

    def finish(self, result: RunResult) -> None:
        """Add what the subclass counts to the result, before listeners hear of it."""

    def drive(self, title: str, shown: Settings, geometry: Geometry,
              ending: RunResult) -> RunResult:
        """Run the steps; ``ending`` is the result when the steps run out."""
        started = time.monotonic()
        result, ran = ending, 0  # ran: steps that got as far as being recorded
        try:
            self._emit("on_start", title, shown, geometry)
            for number in itertools.count(1):
                if self.stop.is_set():
                    raise Interrupted(stop_reason(self.stop))
                if self.pause is not None and self.pause.requested.is_set():
                    self.resumed(number, self.hold(number), None, None)
                record = self.begin_step(number)
                if not isinstance(record, StepRecord):
                    result = record or ending
                    break
                try:
                    outcome = self.run_step(record)
                except Paused as exc:
                    outcome = self.paused(record, exc)
                finally:
                    ran += 1
                    self.end_step(record)
                if outcome is not None:
                    result = outcome
                    break
        except (KeyboardInterrupt, Interrupted) as exc:
            failed = getattr(self.stop, "error", None)
            if failed is not None:  # a failure stopped it (the desktop went away), not the user
                result = self.error_result(failed)
            else:  # whoever asked to stop first (kill switch, signal) says why; else the exception
                reason = str(exc) if isinstance(exc, Interrupted) else "interrupted with Ctrl-C"
                result = RunResult("interrupted", stop_reason(self.stop, reason))
        except TracerError as exc:
            result = self.error_result(exc)
        finally:
            if self.actuator is not None:
                self.actuator.release_all()
        result.steps = ran
        result.seconds = time.monotonic() - started
        result.needed_human = result.needed_human or self.needed_human
        self.finish(result)
        self._emit("on_end", result)
        return result

    def end_step(self, record: StepRecord) -> None:
        """A step is over, however it ended: the listeners hear of it (one that ended without
        an outcome was interrupted)."""
        if not record.outcome.status:
            record.outcome = Outcome("interrupted")
        self._emit("on_step", record)
