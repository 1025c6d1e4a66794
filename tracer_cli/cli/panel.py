"""What the user watches: a Rich live panel on a terminal, plain log lines otherwise.

Both listen to the agent's events. Text from the model is put into ``Text`` objects (never
parsed as markup), so a model answer like ``[/bold]`` is shown as it is.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tracer_cli.agent.runloop import Listener, RunResult, StepRecord
from tracer_cli.agent.speculate import Verdict
from tracer_cli.cli.console import counted
from tracer_cli.plan import BaseStep, Subgoal
from tracer_cli.redact import redact

if TYPE_CHECKING:
    from tracer_cli.agent.backends import CallProgress
    from tracer_cli.agent.planner import Forecast
    from tracer_cli.config import Settings
    from tracer_cli.desktop.screen import Geometry

PHASES = ("capture", "verify", "model", "ground", "find", "act", "settle", "check")
FORECAST_MARK = "⇢"  # a step run from the forecast, without a model call


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


TASK_SHOWN = 300  # characters of the task shown; the run record keeps it whole


def shortened(text: str, limit: int = TASK_SHOWN) -> str:
    """``text`` on one line, cut to about ``limit`` characters with a note of its whole length."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}… ({len(flat):,} characters in all)"


def _wrapped(*parts: str | tuple[str, str]) -> Text:
    """A line of the panel that wraps at the panel's edge: the consoles are soft_wrap (a message
    is one line in a pipe), which inside a panel cropped a long thought or the totals at the
    border (at 80 columns: 'to postpone i', 'find 0')."""
    return Text.assemble(*parts, no_wrap=False, overflow="fold")


def _subgoal_line(subgoals: list[Subgoal]) -> Text:
    """The task's checklist on one wrapping line: done ones ticked, the current one marked."""
    current = next((i for i, g in enumerate(subgoals) if not g.done), None)
    line = _wrapped(("Sub-goals: ", "bold"))
    for i, goal in enumerate(subgoals):
        if i:
            line.append(" · ", "dim")
        if goal.done:
            line.append(f"✓ {goal.goal}", "green")
        elif i == current:
            line.append(f"▶ {goal.goal}", "bold yellow")
        else:
            line.append(goal.goal, "dim")
    return line


def subgoal_said(subgoals: list[Subgoal]) -> str:
    """The current sub-goal as the plain view says it: ``sub-goal 2/4: save the file``."""
    current = next((i for i, g in enumerate(subgoals) if not g.done), None)
    if current is None:
        return ""
    return f"sub-goal {current + 1}/{len(subgoals)}: {subgoals[current].goal}"


def _timings(timings: dict[str, float]) -> str:
    return " · ".join(f"{p} {_ms(timings[p])}" for p in PHASES if p in timings)


class _State(Listener):
    """What both views track: the task, the steps done, the current forecast and the times."""

    def __init__(self) -> None:
        self.task = ""
        self.max_steps = 0
        self.number = 0
        self.phase = ""
        self.phase_started = time.monotonic()  # the live timer of the phase going on
        self.call: CallProgress | None = None  # how far the phase's model call got
        self.thought = ""
        self.subgoals: list[Subgoal] = []  # the latest checklist of the task (hierarchical plans)
        self.done: list[StepRecord] = []
        self.current: BaseStep | None = None
        self.future: list[BaseStep] = []
        self.last_timings: dict[str, float] = {}
        self.totals: dict[str, float] = {}  # the phases the run went through, no others
        self.started = time.monotonic()
        self.result: RunResult | None = None
        self.model_calls = 0
        self.forecast_steps = 0
        self.revised = ""  # why the current forecast is a revision of the one before
        self.upcoming = "forecast"  # what the steps after the current one are: a macro's are "next"
        self.paused = ""  # what the panel says while the user has the desktop
        self.resume_hint = ""  # how to resume: set by whoever armed the pause hotkey

    def counts(self) -> str:
        return f"model calls {self.model_calls} · steps from the forecast {self.forecast_steps}"

    def on_start(self, task: str, settings: Settings, geometry: Geometry) -> None:
        self.task, self.max_steps = task, settings.max_steps
        self.started = time.monotonic()

    def on_phase(self, number: int, phase: str) -> None:
        self.number, self.phase = number, phase
        self.phase_started = time.monotonic()
        self.call = None

    def on_model_progress(self, progress: CallProgress) -> None:
        self.call = progress  # one object, read whole by the panel's refresh thread

    def on_plan(self, number: int, forecast: Forecast) -> None:
        self.thought = forecast.plan.thought
        if forecast.plan.subgoals:  # a forecast without a checklist keeps the one before
            self.subgoals = list(forecast.plan.subgoals)
        self.current = forecast.plan.first
        self.future = list(forecast.plan.trajectory[1:])
        self.model_calls += len(forecast.attempts)
        self.revised = forecast.revision.reason if forecast.revision else ""

    def on_early(self, number: int, step: BaseStep) -> None:
        """The forecast's first step runs while the model still writes the rest: it shows at
        once, and the rest fills in when the answer ends (the call's progress shows meanwhile)."""
        self.number, self.current, self.future = number, step, []
        self.thought, self.revised = "", ""

    def on_speculate(self, number: int, step: BaseStep, verdict: Verdict) -> None:
        self.number = number
        self.current = step
        self.future = self.future[1:]
        self.forecast_steps += 1

    def on_next(self, number: int, current: Any, upcoming: list[Any]) -> None:
        """A macro's step ``number`` is about to run; ``upcoming`` are the ones after it (any
        objects with ``describe()``)."""
        self.number, self.current, self.future = number, current, list(upcoming)
        self.upcoming = "next"

    def on_step(self, record: StepRecord) -> None:
        if record.action is not None:
            self.done.append(record)
        self.current = None
        self.last_timings = record.timings
        for phase, seconds in record.timings.items():
            self.totals[phase] = self.totals.get(phase, 0.0) + seconds

    def pause_toggled(self, paused: bool) -> None:
        """The pause hotkey was pressed (on its listener's thread): say so at once, before the
        run reaches the key boundary where it holds (a model may still be answering)."""
        if paused and not self.paused:
            self.paused = "pausing: tracer stops before its next key (the hotkey again cancels)"
        elif not paused and self.paused.startswith("pausing"):
            self.paused = ""

    def on_pause(self, number: int, interrupted: str) -> None:
        where = f" (step {number} stopped {interrupted})" if interrupted else f" (before step {number})"
        self.paused = "paused: you have the mouse" + where
        if self.resume_hint:
            self.paused += f"; {self.resume_hint}"

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        self.paused = ""

    def on_end(self, result: RunResult) -> None:
        self.result = result


class LivePanel(_State):
    """The Rich live view on stderr."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        # Transient: stopping the live view (for a confirmation prompt) leaves no copy behind;
        # the final state is printed once at the end.
        self.live = Live(console=console, refresh_per_second=8, transient=True,
                         get_renderable=self.render)

    def render(self) -> Panel:
        steps = Table.grid(padding=(0, 1))
        steps.add_column(width=1)
        steps.add_column(justify="right")
        steps.add_column(ratio=1)
        steps.add_column()
        for rec in self.done[-12:]:
            ok = rec.outcome.status in ("ok", "done")
            mark = Text("✓", "green") if ok else Text("✗", "red")
            number = f"{FORECAST_MARK}{rec.number}" if rec.speculative else str(rec.number)
            steps.add_row(mark, number, Text(rec.action.describe() if rec.action else ""),
                          Text(rec.outcome.text(), "green" if ok else "red"))
        if self.current is not None:
            steps.add_row(Text("▶", "bold yellow"), str(self.number),
                          Text(self.current.describe(), "bold yellow"),
                          Text(self.phase or "next", "yellow"))
        for i, step in enumerate(self.future, 1):
            steps.add_row(Text("·", "dim"), Text(f"+{i}", "dim"),
                          Text(step.describe(), "dim italic"), Text(self.upcoming, "dim italic"))
        elapsed = time.monotonic() - self.started
        header = _wrapped()
        header.append("Task: ", "bold")
        header.append(shortened(self.task))
        parts: list[Any] = [header]
        if self.thought:
            parts.append(_wrapped(("Thought: ", "bold"), (self.thought, "italic")))
        if self.subgoals:
            parts.append(_subgoal_line(self.subgoals))
        if self.revised:
            parts.append(_wrapped(("Revised plan: ", "bold magenta"),
                                  (f"the old one stopped holding: {self.revised}", "magenta")))
        parts += [Text(""), steps, Text("")]
        if self.last_timings:
            parts.append(_wrapped(("last step: " + _timings(self.last_timings), "cyan")))
        if self.totals:
            parts.append(_wrapped(("total:     " + _timings(self.totals), "cyan")))
        if self.model_calls or self.forecast_steps:
            parts.append(_wrapped((f"{self.counts()} ({FORECAST_MARK}: run from the forecast)",
                                   "cyan")))
        if self.paused:
            parts.append(_wrapped((self.paused, "bold yellow reverse")))
        if self.result is not None:  # why a run was not done: the command's last line says it
            r = self.result
            style = "bold green" if r.status == "done" else "bold red"
            detail = r.answer or r.reason if r.status == "done" else ""
            parts.append(_wrapped((f"{r.said}: {detail}" if detail else r.said, style)))
        phase, call = "", self.call
        if self.phase and self.result is None:  # a model call takes minutes on a CPU: it ticks
            phase = f" · {self.phase} {time.monotonic() - self.phase_started:.0f}s"
            if call is not None:  # and says how far it got
                phase += f" · {call.describe()}"
        title = f"step {self.number}/{self.max_steps} · {elapsed:.0f}s{phase}"
        return Panel(Group(*parts), title=title, title_align="left", border_style="blue")

    def on_start(self, task: str, settings: Settings, geometry: Geometry) -> None:
        super().on_start(task, settings, geometry)
        self.live.start()

    def on_end(self, result: RunResult) -> None:
        super().on_end(result)
        self.live.stop()
        self.console.print(self.render())

    def ask(self, question: str) -> str:
        self.live.stop()
        try:
            return self.console.input(Text(question)).strip().lower()
        finally:
            self.live.start()

    def on_pause(self, number: int, interrupted: str) -> None:
        """The panel is printed once and stands still while the user has the desktop, so that a
        note typed at the terminal stays readable."""
        super().on_pause(number, interrupted)
        self.live.stop()
        self.console.print(self.render())

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        super().on_resume(number, seconds, note)
        self.live.start()


class LogLines(_State):
    """One plain line per event, for logs and pipes."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr

    def _say(self, text: str) -> None:
        print(redact(f"tracer: {text}"), file=self.stream, flush=True)

    def on_start(self, task: str, settings: Settings, geometry: Geometry) -> None:
        super().on_start(task, settings, geometry)
        m = geometry.monitor
        self._say(f"task: {shortened(task)!r} on monitor {geometry.index} "
                  f"({m.width}x{m.height}+{m.left}+{m.top}), at most "
                  f"{counted(settings.max_steps, 'step')}")

    def on_early(self, number: int, step: BaseStep) -> None:
        super().on_early(number, step)
        self._say(f"step {number}/{self.max_steps}: started while the model writes the rest of "
                  f"its forecast: {step.describe()}")

    def on_plan(self, number: int, forecast: Forecast) -> None:
        super().on_plan(number, forecast)
        plan = forecast.plan
        tries = f" after {len(forecast.attempts)} attempts" if len(forecast.attempts) > 1 else ""
        nxt = " | then: " + "; ".join(s.describe() for s in plan.trajectory[1:]) if \
            len(plan.trajectory) > 1 else ""
        revised = f" (revised: {forecast.revision.reason})" if forecast.revision else ""
        goal = f" [{subgoal_said(list(plan.subgoals))}]" if plan.current_subgoal is not None else ""
        self._say(f"step {number}/{self.max_steps}: forecast in {_ms(forecast.seconds)}{tries}"
                  f"{revised}{goal}: {plan.first.describe()}{nxt}")

    def on_speculate(self, number: int, step: BaseStep, verdict: Verdict) -> None:
        super().on_speculate(number, step, verdict)
        self._say(f"step {number}/{self.max_steps}: from the forecast, no model call "
                  f"({verdict.reason}): {step.describe()}")

    def on_step(self, record: StepRecord) -> None:
        super().on_step(record)
        if record.action is not None and not record.action.is_terminal:
            at = " at " + ", ".join(f"({x},{y})" for x, y in record.points) if record.points else ""
            self._say(f"step {record.number}/{self.max_steps}: {record.action.describe()}{at} -> "
                      f"{record.outcome} [{_timings(record.timings)}]")

    def pause_toggled(self, paused: bool) -> None:
        before = self.paused
        super().pause_toggled(paused)
        if self.paused != before and self.paused:
            self._say(self.paused)

    def on_pause(self, number: int, interrupted: str) -> None:
        super().on_pause(number, interrupted)
        self._say(self.paused)

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        super().on_resume(number, seconds, note)
        self._say(f"resumed after {seconds:.1f}s: looking at the screen afresh"
                  + (f"; note for the model: {note}" if note else ""))

    def on_end(self, result: RunResult) -> None:
        super().on_end(result)
        # Why a run did not get done is the command's last line (`tracer: error: ...`): once.
        detail = result.answer or (result.reason if result.status == "done" else "")
        zooms = f", {counted(result.zoom_calls, 'zoom call')}" if result.zoom_calls else ""
        counts = (f" ({counted(result.model_calls, 'model call')}{zooms}, "
                  f"{counted(result.forecast_steps, 'step')} from the forecast)"
                  ) if result.model_calls or result.forecast_steps else ""
        self._say(f"{result.said} after {counted(result.steps, 'step')} in "
                  f"{result.seconds:.1f}s{counts}"
                  + (f": {detail}" if detail else ""))

    def ask(self, question: str) -> str:
        print(question, end="", file=self.stream, flush=True)
        return sys.stdin.readline().strip().lower()
