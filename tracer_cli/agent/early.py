"""Acting while the forecast streams: the model call runs on a worker thread, and the run's
thread takes the forecast's first step as soon as the answer so far holds it whole.

Why a thread: on a CPU the model writes the rest of a forecast for many seconds after its first
step is complete, and that step only needs the screen the model already saw. The worker asks as
the planner always does (the whole answer is still read and validated at its end); the run's
thread only reads the text so far with the profile's ``first_step`` (see ``planner.first_step``).

The run's thread claims the step (``claim``) before it acts. Once claimed, the planner does not
ask again in this call if the whole answer turns out malformed: that step ran, and the next plan
is asked on the new screen (``Agent`` keeps the step and drops the rest). A claim only succeeds
while the answer is still streaming; an answer already whole is read as before.

Stopping: the worker's calls see the run's stop and deadline (``bounds``) and a stop of their
own, set by ``close`` whenever the run's thread leaves (a Ctrl-C, the kill hotkey, ``tracer
stop``, an error): both threads end together, and the backend is never closed under a call.
Progress the worker's calls report is passed on from the run's thread, so listeners hear events
on one thread only.
"""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracer_cli.agent.backends import bounds
from tracer_cli.agent.planner import Forecast, first_step
from tracer_cli.errors import Interrupted

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracer_cli.agent.backends import CallProgress
    from tracer_cli.agent.planner import Planner
    from tracer_cli.agent.profiles import PlanRequest
    from tracer_cli.plan import BaseStep

POLL = 0.05  # seconds between two looks at the answer so far


class _Stop(threading.Event):
    """The worker's stop: set by ``close``, and set whenever the run's own stop is."""

    def __init__(self, run_stop: threading.Event | None) -> None:
        super().__init__()
        self.run_stop = run_stop

    def is_set(self) -> bool:
        return super().is_set() or (self.run_stop is not None and self.run_stop.is_set())

    @property
    def reason(self) -> str:
        return getattr(self.run_stop, "reason", "") or "stopped"


@dataclass
class Early:
    """A first step taken from the answer while it streamed."""

    step: BaseStep
    attempt: int  # which answer of the call (0: the first asked)
    seconds: float  # after the call started


class ForecastStream:
    """One forecast asked on a worker thread; see the module's docstring."""

    def __init__(self, planner: Planner, request: PlanRequest,
                 report: Callable[[CallProgress], None]) -> None:
        self.planner, self.request, self._report = planner, request, report
        self.opened = bool(getattr(planner.backend, "opens_reasoning", False))
        self._lock = threading.Lock()
        self._text = (-1, "")  # (answer number, its text so far)
        self._whole = -1  # the last answer number that came whole
        self._claimed: int | None = None
        self._progress: CallProgress | None = None
        self._done = threading.Event()
        self._forecast: Forecast | None = None
        self._error: BaseException | None = None
        self.started = time.monotonic()
        limits = bounds.current()
        self._stop = _Stop(limits.stop)
        self._thread = threading.Thread(target=self._run, args=(limits,), daemon=True,
                                         name="tracer-forecast")
        self._context = contextvars.copy_context()

    # -- the worker --------------------------------------------------------------------------

    def start(self) -> ForecastStream:
        self._thread.start()
        return self

    def _run(self, limits: bounds.Limits) -> None:
        def run() -> None:
            with bounds.within(limits.deadline, self._stop, limits.what, self._heard):
                self._forecast = self.planner.forecast(self.request, self)

        try:
            self._context.run(run)
        except BaseException as exc:  # noqa: BLE001 - handed to the run's thread
            self._error = exc
        finally:
            self._done.set()

    def _heard(self, progress: CallProgress) -> None:
        self._progress = progress  # passed on by the run's thread (see wait_first)

    def on_text(self, number: int, text: str) -> None:
        with self._lock:
            self._text = (number, text)

    def answered(self, number: int, text: str) -> None:
        with self._lock:
            self._whole = max(self._whole, number)

    def go_on(self, number: int) -> bool:
        with self._lock:
            return self._claimed != number

    # -- the run's thread -------------------------------------------------------------------

    def _pass_progress(self) -> None:
        progress, self._progress = self._progress, None
        if progress is not None:
            self._report(progress)

    def first(self, usable: Callable[[BaseStep], bool]) -> Early | None:
        """Wait until the answer so far holds a complete first step, and return it (not yet
        claimed), or None once the forecast call ended. ``usable``: whether a step may run
        before the answer ends (else the wait goes on to the end)."""
        seen, refused = "", None
        while not self._done.wait(POLL):
            self._pass_progress()
            if self._stop.is_set():
                raise Interrupted(self._stop.reason)
            with self._lock:
                number, text = self._text
                whole = self._whole >= number
            if whole or text == seen or number < 0:
                continue
            seen = text
            step = first_step(self.planner.profile, text, self.request, self.opened)
            if step is None or step == refused:
                continue
            if not usable(step):
                refused = step
                continue
            return Early(step, number, time.monotonic() - self.started)
        self._pass_progress()
        return None

    def claim(self, early: Early) -> bool:
        """Take the step to run now: False when its answer has meanwhile come whole (it is
        then read with the rest, as before)."""
        with self._lock:
            if self._whole >= early.attempt or self._text[0] != early.attempt:
                return False
            self._claimed = early.attempt
            return True

    def result(self) -> Forecast:
        """The whole forecast (or what the planner raised), waiting for the call to end."""
        while not self._done.wait(POLL):
            self._pass_progress()
            if self._stop.is_set():
                raise Interrupted(self._stop.reason)
        self._pass_progress()
        if self._error is not None:
            raise self._error
        assert self._forecast is not None
        return self._forecast

    def close(self) -> None:
        """Stop the worker's call (when it still runs) and wait for it to end: it ends between
        two tokens, or after the C call it is in (a vision-encoder pass), as a call on the
        run's own thread would. The model is closed after the run only once no call uses it,
        so a second Ctrl-C meanwhile is raised only after the wait."""
        self._stop.set()
        interrupted: KeyboardInterrupt | None = None
        while self._thread.is_alive():
            try:
                self._thread.join(POLL)
            except KeyboardInterrupt as exc:
                interrupted = exc
        if interrupted is not None:
            raise interrupted
