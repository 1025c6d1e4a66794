"""The receding-horizon loop: observe, forecast, act on the first step, settle, repeat.

With adaptive re-planning the next forecast steps run too, without a model call, while the
checks of ``speculate`` say they still hold; a failed check asks the model to revise its plan.

The loop knows nothing of terminals or files: the panel and the run record hang off the
``Listener`` callbacks it calls.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.backends import bounds
from tracer_cli.agent.effects import compare
from tracer_cli.agent.grounding import Grounder
from tracer_cli.agent.labels import OcrReader
from tracer_cli.agent.outcome import Outcome
from tracer_cli.agent.planner import Attempt, Forecast, ForecastFailed, Planner
from tracer_cli.agent.profiles import HistoryEntry, PlanRequest, Revision, window_start
from tracer_cli.agent.risk import assess, needs_asking
from tracer_cli.agent.runloop import Confirm, Listener, RunLoop, RunResult, StepRecord
from tracer_cli.agent.speculate import Previous, Verdict, by_focus, by_identity, check, expected_focus
from tracer_cli.agent.zoom import Zoomer, needed
from tracer_cli.desktop.actuator import Actuator, execute, target_points
from tracer_cli.desktop.elements import state_change
from tracer_cli.desktop.killswitch import Paused
from tracer_cli.desktop.screen import Screen, downscale, wait_settled
from tracer_cli.errors import BackendError, Interrupted, PlanError, TracerError
from tracer_cli.plan import COORD_MAX, BaseStep, Done, Fail, Hotkey, Plan, PointStep, Subgoal, Type, Wait

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.backends import CallProgress
    from tracer_cli.agent.early import Early, ForecastStream
    from tracer_cli.config import Settings
    from tracer_cli.desktop.elements import Element, Elements


class Agent(RunLoop):
    def __init__(self, screen: Screen, planner: Planner, actuator: Actuator | None,
                 settings: Settings, listeners: list[Listener] | None = None,
                 confirm: Confirm | None = None, stop: threading.Event | None = None,
                 grounder: Grounder | None = None, elements: Elements | None = None) -> None:
        from tracer_cli.desktop.elements import NoElements

        super().__init__(actuator, settings, listeners, confirm, stop)
        self.screen = screen
        self.elements: Elements = elements or NoElements("not asked for")
        self._hints_said = False  # --elements without a tree: the record said why
        self.planner = planner
        self.grounder = grounder
        self.history: list[HistoryEntry] = []
        self._after: Image.Image | None = None  # the screen after the last action
        self._after_full: Image.Image | None = None  # ... at full resolution
        self._after_at: float | None = None  # ... and when it was taken
        self._full: Image.Image | None = None  # the full-resolution screen of the current step
        self._typing_into = ""  # the target of the last click: where typed text goes
        self._no_effect: tuple[str, int] = ("", 0)  # the last action without effect, and how often
        # Adaptive re-planning: the rest of the last forecast, the screenshot it was made on,
        # the screen last vouched for (that one, or the one the last check passed on), the
        # points acted on since (and the two before), the step run last and the forecast steps
        # run in a row.
        self._pending: list[BaseStep] = []
        self._pending_elements: list[Element | None] = []  # under each pending step's point
        self._acted_element: Element | None = None  # the element the last click (keys) acted on
        self._keys_into: Element | None = None  # where the plan expects typed keys to go
        self._focus_checked: tuple[Element | None] | None = None  # the focus the check read
        self._planned_on: Image.Image | None = None
        self._vouched: Image.Image | None = None
        self._acted: list[tuple[int, int]] = []
        self._previous: Previous | None = None
        self._run_ahead = 0
        self._revision: Revision | None = None
        # the task's checklist (--subgoals): given back to the model with each request
        self._subgoals: list[Subgoal] | None = [] if settings.subgoals else None
        self._reader = OcrReader(settings.ocr)  # reads a forecast target's label (on first use)
        self.model_calls = 0
        self.forecast_steps = 0
        self.zoom_calls = 0  # requests that placed a click on a crop (not planning calls)
        self.zoomer = self._make_zoomer()
        # the last step placed where the screen shows its target (_on_screen), and where
        self._seen: tuple[tuple[int, float | None, BaseStep] | None, PointStep | None] = (None, None)

    def _make_zoomer(self) -> Zoomer | None:
        """Who places clicks on a full-resolution crop when the planner's image is under its
        family's grounding minimum: a dedicated grounder (a standalone prompt), else the
        planner's own model (a follow-up turn of the plan's conversation)."""
        if not self.settings.zoom:
            return None
        if self.grounder is not None and self.grounder.always:
            return Zoomer(self.grounder.backend, self.grounder.profile, follow_up=False)
        # a profile without zoom turns (a plug-in's) gets its grounding prompt on the crop
        follow_up = hasattr(self.planner.profile, "zoom_messages")
        return Zoomer(self.planner.backend, self.planner.profile, follow_up=follow_up)

    def _capture(self, settled: bool = False) -> tuple[Image.Image, Image.Image]:
        """The screen as the model sees it, and at full resolution (for a zoom). Just after
        wait_settled (``settled``), its last grab is the settled screen: no second grab."""
        recent = getattr(self.screen, "settled_capture", None) if settled else None
        shot = recent() if recent is not None else self.screen.capture()
        size = self.planner.profile.geometry.size(*shot.image.size, self.settings.max_pixels)
        return downscale(shot.image, size), shot.image

    def observe(self, record: StepRecord, task: str) -> PlanRequest:
        self._emit("on_phase", record.number, "capture")
        started = time.monotonic()
        # The screenshot taken after the last action settled is the current screen.
        if self._after is not None:
            image, full, record.shot_at = self._after, self._after_full, self._after_at
        else:
            image, full = self._capture()
            record.shot_at = time.monotonic()
        self._after = self._after_full = None
        record.image, self._full = image, full
        record.timings["capture"] = time.monotonic() - started
        if self.settings.ground_on_screen and not self.elements.available and self._zooming(record):
            self._reader.warm()  # the text at a click's point may spare its zoom turn
        request = PlanRequest(task, image, self.settings.horizon, self.recent_history(),
                              self.settings.image_format,
                              history_images=max(0, self.settings.history_images),
                              subgoals=self._subgoals)
        if self.settings.elements:
            self._hints(record, request)
        return request

    def _hints(self, record: StepRecord, request: PlanRequest) -> None:
        """The active window's elements for the request (--elements), and how many it lists;
        without a tree, why not (in the record of the first step that asked)."""
        from tracer_cli.agent.profiles.hints import element_hints, hints_text

        if not self.elements.available:
            record.elements_sent = 0
            if not self._hints_said:
                record.elements_note = f"no elements listed: {self.elements.reason}"
                self._hints_said = True
            return
        started = time.monotonic()
        self.elements.forget()  # the screen is the new screenshot's
        request.elements = element_hints(self.elements.active_window(), self.screen.geometry)
        record.elements_sent = hints_text(request, self.planner.profile)[1]
        record.timings["elements"] = time.monotonic() - started
        if not record.elements_sent and not self._hints_said:
            record.elements_note = ("no elements listed: the active window shows no named "
                                    "interactive element in the accessibility tree (a toolkit "
                                    "without one, such as Tk, exposes none)")
            self._hints_said = True

    def recent_history(self) -> list[HistoryEntry]:
        """At most ``settings.history`` of the latest steps (the window ``window_start`` moves)."""
        limit = self.settings.history
        if not limit:
            return []
        return self.history[window_start(len(self.history), limit):]

    def think(self, record: StepRecord, request: PlanRequest) -> Forecast:
        self._emit("on_phase", record.number, "model")
        started = time.monotonic()
        try:
            forecast = self.planner.forecast(request)
        except ForecastFailed as exc:
            record.attempts = exc.attempts
            self.model_calls += len(exc.attempts)
            raise
        finally:
            record.timings["model"] = time.monotonic() - started
        self.model_calls += len(forecast.attempts)
        return self._adopt(record, forecast, request)

    def _adopt(self, record: StepRecord, forecast: Forecast, request: PlanRequest) -> Forecast:
        """A new forecast becomes the run's: the revision it answers, the task's checklist it
        keeps (--subgoals), the conversation a zoom turn continues, the record, the listeners."""
        forecast.revision = request.revision
        if self._subgoals is not None and forecast.plan.subgoals:
            self._subgoals = list(forecast.plan.subgoals)
        if self.zoomer is not None:
            self.zoomer.start(forecast.conversation())
        record.forecast, record.attempts = forecast, forecast.attempts
        self._emit("on_plan", record.number, forecast)
        return forecast

    def _streams(self) -> bool:
        """Whether a forecast's first step may run while the model writes the rest: asked for,
        and the backend streams its answers."""
        return self.settings.stream_first and bool(getattr(self.planner.backend, "streams", False))

    def _think_streaming(self, record: StepRecord, request: PlanRequest) -> tuple[Forecast, bool]:
        """The forecast, asked on a worker thread while this thread runs its first step as soon
        as the answer so far holds it whole and that step may run early (``_early_ok``).
        Returns the forecast and whether its first step already ran. The whole answer is still
        read and validated; when it is malformed, or the call fails after the first step ran,
        the forecast is that step alone and the next plan is asked on the new screen."""
        from tracer_cli.agent.early import ForecastStream

        self._emit("on_phase", record.number, "model")
        started = time.monotonic()
        stream = ForecastStream(self.planner, request, self._model_progress).start()
        early, acted = None, False
        try:
            early = stream.first(lambda step: self._early_ok(record, step))
            acted = early is not None and stream.claim(early)
            if acted:
                assert early is not None
                record.streamed = True
                self._emit("on_early", record.number, early.step)
                placed = self.ground(record, early.step)  # where the screen showed its target
                assert placed is not None, "a step that runs early is placed without a model"
                self.act(record, placed)
            forecast = self._rest(record, stream, early if acted else None)
        finally:
            stream.close()
            record.timings["model"] = time.monotonic() - started
        return forecast, acted

    def _rest(self, record: StepRecord, stream: ForecastStream, early: Early | None) -> Forecast:
        """The whole forecast once the call ended, as ``think`` makes it; with a first step that
        already ran (``early``), a malformed or failed rest leaves that step alone."""
        try:
            forecast = stream.result()
        except ForecastFailed as exc:
            self.model_calls += len(exc.attempts)
            record.attempts = exc.attempts
            if early is None:
                raise
            forecast = Forecast(Plan(trajectory=[early.step]), exc.attempts)
            record.rest = f"the rest of the answer was not used: {exc.message}"
        except bounds.OutOfTime:
            raise
        except BackendError as exc:
            if early is None:
                raise
            self.model_calls += 1
            forecast = Forecast(Plan(trajectory=[early.step]), [Attempt("", exc.message)])
            record.rest = f"the rest of the answer was lost: {exc.message}"
        else:
            self.model_calls += len(forecast.attempts)
            if early is not None and forecast.plan.first != early.step:
                record.rest = ("the whole answer's first step differs from the one run while it "
                               f"streamed ({forecast.plan.first.describe()}): its rest was not used")
                forecast.plan = Plan(thought=forecast.plan.thought, trajectory=[early.step],
                                     subgoals=forecast.plan.subgoals)
        return self._adopt(record, forecast, stream.request)

    def _early_ok(self, record: StepRecord, step: BaseStep) -> bool:
        """Whether a forecast's first step may run before the answer ends. Not done or fail
        (they end the run: the whole answer is read first), not a step that needs the user's
        confirmation, and not a click placed by a zoom or a grounder: a zoom turn continues the
        plan's whole conversation, and an in-process llama.cpp model cannot serve a second
        request while it still writes this one, so such a step waits for the answer's end."""
        if step.is_terminal:
            return False
        if isinstance(step, PointStep) and (
                step.needs_grounding or (self._second_look(record, step)
                                         and self._on_screen(record, step) is None)):
            return False
        return not needs_asking(self.settings.confirm, assess(step, self._typing_into))

    def ground(self, record: StepRecord, step: BaseStep) -> BaseStep | None:
        """Place a click on its target: always when the step has no point, and with a dedicated
        grounder also when it has one (the planner's point is then the fallback); not when the
        screen already shows the target at the planner's point (``_on_screen``).
        Returns None when the step cannot be placed (the outcome says why)."""
        if not isinstance(step, PointStep):
            return step
        if self._second_look(record, step):
            placed = self._on_screen(record, step)
            if placed is not None:
                return placed
        if step.points() and self._zooming(record):
            return self._zoom(record, step)
        wanted = step.needs_grounding or (self.grounder is not None and self.grounder.always)
        if not wanted:
            return step
        if self.grounder is None or record.image is None:
            record.action, record.outcome = step, Outcome("error", "no grounder to locate the target")
            return None
        self._emit("on_phase", record.number, "ground")
        # A dedicated grounder (its own image budget) sizes the full-resolution screen itself:
        # the planner's image may hold less than the grounder's family needs to ground well.
        own = self.grounder.max_pixels is not None and self._full is not None
        try:
            found = self.grounder.locate(self._full if own else record.image, step.target)
        except PlanError as exc:
            record.grounding = {"target": step.target, "error": exc.message}
            if step.needs_grounding:
                record.action, record.outcome = step, Outcome("error", exc.message)
                return None
            return step
        record.timings["ground"] = found.seconds
        record.grounding = {"target": step.target, "point": list(found.point),
                            "planner_point": step.points()[0] if step.points() else None,
                            "answer": found.answer}
        return step.at(*found.point)

    def _second_look(self, record: StepRecord, step: PointStep) -> bool:
        """Whether placing this step asks a model again: a zoom turn, or a dedicated grounder
        that places every click."""
        return bool(step.points()) and (self._zooming(record) or (
            self.grounder is not None and self.grounder.always))

    def _on_screen(self, record: StepRecord, step: PointStep) -> PointStep | None:
        """The step placed on its target when the screen shows the target at the planner's
        point (the centre of the accessibility tree's element there, else on its text read
        there: agent/seen.py); None when a model must look again. Found once per step and
        screen."""
        from tracer_cli.agent.seen import by_element, by_text

        points = step.points()
        if not self.settings.ground_on_screen or len(points) != 1 or self._full is None:
            return None
        key = (record.number, record.shot_at, step)
        if self._seen[0] == key:
            return self._seen[1]
        started = time.monotonic()
        geometry, full = self.screen.geometry, self._full
        origin = (geometry.monitor.left, geometry.monitor.top)
        element = self._element_at(*geometry.to_desktop(*points[0]))
        seen = by_element(element, step.target, origin, full.size)
        if seen is None and (element is None or not element.anchorable):
            seen = by_text(self._reader, full, points[0], step.target)  # the tree says nothing there
        placed = None
        if seen is not None:
            x, y = (round(c * COORD_MAX / side, 3) for c, side in zip(seen.pixel, full.size, strict=True))
            placed = step.at(x, y)
            record.grounding = {"target": step.target, "planner_point": list(points[0]),
                                "point": [x, y], **seen.to_dict()}
            record.timings["ground"] = time.monotonic() - started
        self._seen = (key, placed)
        return placed

    def _zooming(self, record: StepRecord) -> bool:
        """Whether clicks are placed on a crop: the planner's image has less detail than its
        family's grounding minimum for this screen (and zooming is on)."""
        return (self.zoomer is not None and self._full is not None and record.image is not None
                and needed(self.planner.profile.geometry, self._full.size, record.image.size))

    def _zoom(self, record: StepRecord, step: PointStep) -> PointStep:
        """The step at the point the zoom found; the planner's point when the answer was
        unreadable (or the screen too small to crop)."""
        assert self.zoomer is not None and self._full is not None
        self._emit("on_phase", record.number, "ground")
        planned = step.points()[0]
        result = self.zoomer.place(self._full, planned, step.target)
        if result is None:
            return step
        self.zoom_calls += len(result.attempts)
        record.timings["ground"] = result.seconds
        record.grounding = {"target": step.target, "planner_point": list(planned),
                            "point": list(result.point or planned), "zoom": result.to_dict()}
        return step if result.point is None else step.at(*result.point)

    def act(self, record: StepRecord, step: BaseStep) -> None:
        assert self.actuator is not None, "act() needs an actuator"
        geometry = self.screen.geometry
        try:
            points = target_points(step, geometry, self.actuator)
        except TracerError as exc:
            record.action, record.outcome = step, Outcome("error", exc.message)
            return
        record.action, record.points = step, points
        self._acted_element = None
        if isinstance(step, PointStep) and points:
            sx, sy = geometry.input_scale
            self._acted_element = self._element_at(round(points[0][0] * sx),
                                                   round(points[0][1] * sy))
        elif isinstance(step, Type | Hotkey) and self.elements.available:
            if self._focus_checked is None:  # (else read just now, on this screen, by the check)
                self.elements.forget()
                self._focus_checked = (self.elements.focused(),)
            self._acted_element = self._focus_checked[0]  # where the keys go
        self._focus_checked = None
        if self._acted_element is not None:
            record.element = {k: v for k, v in self._acted_element.to_dict().items()
                              if k != "text"}
        record.risk = assess(step, self._typing_into)
        if needs_asking(self.settings.confirm, record.risk):
            if self.confirm is None:
                record.outcome = Outcome("skipped", f"risky ({record.risk}); it needs the user's "
                                         "confirmation and there is no terminal to ask")
                self.needed_human = f"step {record.number} ({step.describe()}): {record.outcome.note}"
                return
            if not self.ask_user(record, step, points):
                return
        self._emit("on_action", record.number, step, points)
        self._emit("on_phase", record.number, "act")
        started = time.monotonic()
        if record.shot_at is not None:
            record.first_input = started - record.shot_at
        try:
            execute(step, geometry, self.actuator, points)
            record.outcome = Outcome("ok")
        except Interrupted:
            raise
        except TracerError as exc:
            record.outcome = Outcome("error", exc.message)
        record.timings["act"] = time.monotonic() - started
        self._emit("on_phase", record.number, "settle")
        started = time.monotonic()
        _, settled = wait_settled(self.screen, self.settings.settle_quiet,
                                  self.settings.settle_timeout)
        record.timings["settle"] = time.monotonic() - started
        record.outcome.settled = settled
        if isinstance(step, PointStep):
            self._typing_into = step.target
        self._keys_into = expected_focus(step, self._acted_element, self._keys_into)
        self._check_effect(record, step)

    def _element_at(self, x: int, y: int) -> Element | None:
        """The accessibility tree's element at a desktop pixel, read afresh (None without a
        tree there)."""
        if not self.elements.available:
            return None
        self.elements.forget()  # the screen is not the one last asked about
        return self.elements.at(x, y)

    def _elements_under(self, steps: list[BaseStep]) -> list[Element | None]:
        """The element under each forecast click's point now, on the screen the forecast was
        made on (for the identity checks of adaptive re-planning)."""
        if not self.elements.available or self.settings.replan != "adaptive":
            return [None] * len(steps)
        geometry = self.screen.geometry
        self.elements.forget()
        out: list[Element | None] = []
        for step in steps:
            points = step.points() if isinstance(step, PointStep) else []
            out.append(self.elements.at(*geometry.to_desktop(*points[0])) if len(points) == 1
                       else None)
        return out

    def _check_effect(self, record: StepRecord, step: BaseStep) -> None:
        """Compare the screen before and after; count the same action without effect."""
        if record.image is None or isinstance(step, Wait):
            return
        started = time.monotonic()
        self._after, self._after_full = self._capture(settled=True)
        self._after_at = time.monotonic()
        points = step.points()
        record.effect = compare(record.image, self._after, points[0] if points else None)
        record.timings["check"] = time.monotonic() - started
        if not record.effect.visible and self._acted_element is not None:
            change = state_change(self._acted_element, self.elements.reread(self._acted_element))
            if change:  # a tick, a focus, a text the pixels barely show
                record.effect = replace(record.effect, state=change)
        record.outcome.visible = record.effect.visible
        if record.effect.visible:
            self._no_effect = ("", 0)
            return
        same = self._no_effect[0] == step.describe()
        self._no_effect = (step.describe(), self._no_effect[1] + 1 if same else 1)
        count = self._no_effect[1]
        if count >= self.settings.loop_replan:
            record.outcome.repeats = count  # the model is told: it does not work

    def run(self, task: str) -> RunResult:
        self._task, self._deadline = task, time.monotonic() + self.settings.timeout
        # Model calls end with the run: at its deadline, and at once when it is stopped.
        with bounds.within(self._deadline, self.stop, f"--timeout {self.settings.timeout:g}s",
                           self._model_progress):
            return self.drive(task, self.settings, self.screen.geometry,
                              RunResult("gave_up", f"reached --max-steps {self.settings.max_steps}"))

    def _model_progress(self, progress: CallProgress) -> None:
        """A model call of this run (planner, grounder or zoom) told how far it got."""
        self._emit("on_model_progress", progress)

    def begin_step(self, number: int) -> StepRecord | RunResult | None:
        if number > self.settings.max_steps:
            return None
        if time.monotonic() > self._deadline:
            return RunResult("gave_up", f"reached --timeout {self.settings.timeout:g}s")
        return StepRecord(number)

    def run_step(self, record: StepRecord) -> RunResult | None:
        return self._iterate(record, self._task)

    def error_result(self, exc: TracerError) -> RunResult:
        if isinstance(exc, bounds.OutOfTime):  # the run's time ran out during a model call
            return RunResult("gave_up", exc.message)
        if isinstance(exc, ForecastFailed):
            return RunResult("error", exc.message)  # its own exit code: 1
        return super().error_result(exc)

    def finish(self, result: RunResult) -> None:
        result.model_calls, result.forecast_steps = self.model_calls, self.forecast_steps
        result.zoom_calls = self.zoom_calls
        self._reader.finish()

    def resumed(self, number: int, note: str, record: StepRecord | None, exc: Paused | None) -> None:
        """The user paused and handed back: what was forecast no longer holds. Look at the
        screen afresh, and tell the model (in the history every profile shows) that the user
        took over, with the user's note."""
        self._pending, self._after, self._previous, self._revision = [], None, None, None
        self._keys_into = None
        self._no_effect = ("", 0)
        told = "the user handed the mouse and keyboard back"
        if note:
            told += f", with this note for you: {note}"
        told += ". The screen may have changed: plan from the current screenshot."
        self.history.append(HistoryEntry(
            record.number if record is not None else max(0, number - 1),
            "the user paused tracer and took over the mouse and keyboard", told))

    def preview(self, task: str) -> StepRecord:
        """One observation and one forecast, nothing executed (the dry run). Its result counts
        the model calls and seconds as a run's does (the run record, `tracer logs`, the report)."""
        started = time.monotonic()
        self._emit("on_start", task, self.settings, self.screen.geometry)
        record = StepRecord(1)
        result = RunResult("planned", "dry run: nothing was executed", steps=1)
        deadline = time.monotonic() + self.settings.timeout
        try:
            with bounds.within(deadline, self.stop, f"--timeout {self.settings.timeout:g}s",
                               self._model_progress):
                plan = self.think(record, self.observe(record, task)).plan
                placed = self.ground(record, plan.first)
            if placed is not None and placed is not plan.first and record.forecast is not None:
                record.forecast.plan = plan.model_copy(
                    update={"trajectory": [placed, *plan.trajectory[1:]]})
            if record.forecast is not None and self.elements.available:
                record.hits = self._hits(record.forecast.plan.trajectory)
        except TracerError as exc:
            result = RunResult("error", str(exc), steps=1, code=exc.exit_code)
            raise
        except KeyboardInterrupt:
            result = RunResult("interrupted", "interrupted with Ctrl-C", steps=1)
            raise
        finally:
            result.seconds = time.monotonic() - started
            self.finish(result)
            self._emit("on_step", record)
            self._emit("on_end", result)
        return record

    def _hits(self, steps: list[BaseStep]) -> list[dict[str, Any] | None]:
        """The element each step of a forecast would hit on the current screen (the dry run):
        a click's, the one under its point; typing's and keys', the one that would have the
        keyboard focus (what a click before it in the forecast acted on, where that takes the
        focus; else the focused one now; unknown after a Tab)."""
        geometry = self.screen.geometry
        self.elements.forget()
        out: list[dict[str, Any] | None] = []
        into: Element | None = None
        moved = False  # a Tab moved the focus: where to, the forecast does not say
        for step in steps:
            element, by = None, "point"
            if isinstance(step, Type | Hotkey):
                by = "focus"
                element = into if into is not None or moved else self.elements.focused()
                into = expected_focus(step, element, into)
                moved = moved or into is None
            elif step.points():
                element = self.elements.at(*geometry.to_desktop(*step.points()[0]))
                if expected_focus(step, element, None) is not None:  # it takes the focus
                    into, moved = element, False
            out.append(None if element is None else {
                **{k: v for k, v in element.to_dict().items() if k != "text"}, "by": by})
        return out

    def _remember(self, record: StepRecord, step: BaseStep, reply: str) -> None:
        """Add the step to the history the model is told; a step that opened a forecast keeps
        the model's reply and the screenshot it was made on (for profiles that send them)."""
        keep = max(0, self.settings.history_images)
        self.history.append(HistoryEntry(
            record.number, step.describe(), record.outcome.text(), summary=step.notes.get("description", ""),
            answer=reply, image=record.image if reply and keep else None))
        with_images = [i for i, h in enumerate(self.history) if h.image is not None]
        for index in with_images[:-keep or None]:  # older screenshots are never sent again
            self.history[index] = replace(self.history[index], image=None)

    def _speculate(self, record: StepRecord) -> BaseStep | None:
        """The next forecast step, when the checks let it run without a model call (adaptive
        re-planning). A failed check leaves the reason for the model's next prompt."""
        pending, self._pending = self._pending, []
        under, self._pending_elements = self._pending_elements, []
        if self.settings.replan != "adaptive" or not pending or pending[0].is_terminal:
            return None  # done and fail are the model's to say
        started = time.monotonic()
        try:
            verdict = check(pending[0], self._planned_on, self._after, self._previous,
                            self._acted, self._run_ahead, self.settings.speculative_steps,
                            read=self._reader, since=self._vouched)
            verdict = self._identity(pending[0], verdict,
                                     under[0] if len(under) == len(pending) else None)
        except Exception as exc:  # noqa: BLE001 - a check that breaks vouches for nothing
            verdict = Verdict("unchecked", f"the checks broke ({type(exc).__name__}: {exc})")
        record.timings["verify"] = time.monotonic() - started
        record.verdict = verdict  # why this step ran from the forecast, or needed the model
        if verdict.status == "failed":
            self._revision = Revision([s.describe() for s in pending], verdict.reason)
        if not verdict.ok or verdict.step is None:
            self._focus_checked = None  # (the model looks again: so will act())
            return None
        record.image, self._after = self._after, None
        self._full, self._after_full = self._after_full, None
        record.shot_at = self._after_at
        self._vouched, self._acted = record.image, self._acted[-2:]  # as when the model looks
        record.speculative = True
        self._pending = pending[1:]
        self._pending_elements = under[1:] if len(under) == len(pending) else []
        self._run_ahead += 1
        self.forecast_steps += 1
        self._emit("on_speculate", record.number, verdict.step, verdict)
        return verdict.step

    def _identity(self, step: BaseStep, verdict: Verdict, planned: Element | None) -> Verdict:
        """The pixel checks' verdict weighed with the element under the step's point now (for
        keys: the element that has the keyboard focus)."""
        if not self.elements.available:
            return verdict
        if isinstance(step, Type | Hotkey):
            self.elements.forget()
            self._focus_checked = (self.elements.focused(),)
            return by_focus(step, verdict, self._keys_into, self._focus_checked[0])
        if not isinstance(step, PointStep) or len(step.points()) != 1:
            return verdict
        now = self._element_at(*self.screen.geometry.to_desktop(*step.points()[0]))
        return by_identity(step, verdict, planned, now)

    def _iterate(self, record: StepRecord, task: str) -> RunResult | None:
        step, reply, acted = self._speculate(record), "", False
        try:
            if step is None:
                request = self.observe(record, task)
                request.revision, self._revision = self._revision, None
                if self._streams():
                    forecast, acted = self._think_streaming(record, request)
                else:
                    forecast = self.think(record, request)
                plan, reply = forecast.plan, forecast.attempts[-1].reply
                step = plan.first
                self._pending = list(plan.trajectory[1:])
                self._pending_elements = self._elements_under(self._pending)
                # Hover and focus leave the last elements acted on before: their change is expected.
                self._planned_on = self._vouched = record.image
                self._run_ahead, self._acted = 0, self._acted[-2:]
            self._previous = None
            if isinstance(step, Done):
                record.action, record.outcome = step, Outcome("done")
                return RunResult("done", "the model reports the task complete", step.answer)
            if isinstance(step, Fail):
                record.action, record.outcome = step, Outcome("fail")
                return RunResult("failed", step.reason)
            if acted and isinstance(record.action, BaseStep):
                step = record.action  # as it ran: placed where the screen showed its target
            if not acted:
                placed = self.ground(record, step)
                if placed is None:
                    self._pending = []
                    self._remember(record, step, reply)
                    return None
                step = placed
                self.act(record, step)
        except Paused as exc:  # the user took over at a key boundary: the model hears of it
            record.outcome = Outcome("interrupted", f"the user paused tracer {exc.progress()}")
            if isinstance(record.action, BaseStep):
                self._remember(record, record.action, reply)
            raise
        self._acted.extend(step.points())
        self._previous = Previous(step, record.outcome, record.effect)
        self._remember(record, step, reply)
        if self._no_effect[1] >= self.settings.loop_stop:
            return RunResult("stuck", f"{self._no_effect[0]} had no visible effect "
                             f"{self._no_effect[1]} times in a row")
        return None
