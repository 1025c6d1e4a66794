"""How long a model call may take, and the watch that holds a call to it.

A run sets its bounds once (``within``: the run's deadline from ``--timeout`` and its stop
request); every model call made inside it, planner, grounder or zoom, reads them with
``current()``, so no call can outlive the run, and the kill hotkey or Ctrl-C ends one at once.

``watch`` runs a call that reads a streamed answer on a worker thread while the calling thread
waits on it: the caller wakes at once on a stop (the kill switch's SIGINT reaches the main
thread's wait) and gives the call up when the run's time is over, when nothing came before
``first`` seconds, or when an answer that had started stops making progress for ``stall``
seconds. A slow answer that keeps coming is never cut off. The caller also hears of the text
so far (``on_text``), on its own thread.

The run may also ask to hear how far each call has got (``within(..., report=...)``): a backend
calls ``current().report(stage, done, total)`` (see ``CallProgress``), on the run's thread;
``watch`` says "waiting" for the first token, then "answering" with the count of pieces so far.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar

from tracer_cli.agent.backends import CallProgress
from tracer_cli.errors import BackendError, Interrupted

T = TypeVar("T")

POLL = 0.25  # seconds between two looks at the stop request (a signal wakes the wait sooner)
TEXT_POLL = 0.05  # ... and at the answer so far, for on_text


@dataclass(frozen=True)
class Limits:
    """The bounds of the run a model call belongs to."""

    deadline: float = math.inf  # time.monotonic() at which the run gives up
    stop: threading.Event | None = None  # set when the user stops the run
    what: str = ""  # the limit, as the user set it: "--timeout 15s"
    on_progress: Callable[[CallProgress], None] | None = None  # hears how far a call has got

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        """Tell the run how far the model call has got (see ``CallProgress``): cheap, and
        called as often as every token."""
        if self.on_progress is not None:
            self.on_progress(CallProgress(stage, done, total))

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, doing: str = "") -> None:
        """Raise when the run was stopped or its time is over (between two tokens, say);
        ``doing`` says what was going on, for the message."""
        if self.stop is not None and self.stop.is_set():
            raise Interrupted(getattr(self.stop, "reason", "") or "stopped")
        if time.monotonic() >= self.deadline:
            raise OutOfTime(self.what, doing)

    def sleep(self, seconds: float) -> None:
        """Wait (before a retry), waking at once on a stop; never past the deadline."""
        end = time.monotonic() + min(seconds, max(0.0, self.remaining()))
        while (left := end - time.monotonic()) > 0:
            self.check()
            if self.stop is not None:
                self.stop.wait(min(left, POLL))
            else:
                time.sleep(min(left, POLL))
        self.check()


_LIMITS: ContextVar[Limits | None] = ContextVar("tracer_model_call_limits", default=None)
_UNBOUNDED = Limits()


def current() -> Limits:
    """The bounds of the run this call belongs to (none outside a run)."""
    return _LIMITS.get() or _UNBOUNDED


@contextmanager
def within(deadline: float, stop: threading.Event | None, what: str,
           report: Callable[[CallProgress], None] | None = None) -> Iterator[Limits]:
    """Model calls made inside end by ``deadline`` and at ``stop``; ``report`` hears how far
    each has got."""
    limits = Limits(deadline, stop, what, report)
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


class OutOfTime(BackendError):
    """The run's time was over while the model was answering: the run gives up."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"reached {what or 'the time limit'}" + (f" {detail}" if detail else ""))


class NoAnswer(BackendError):
    """Nothing came before the wait for the first token was over."""


class Stalled(BackendError):
    """An answer that had started stopped coming."""


class Progress:
    """What a streamed answer has brought so far: written by the worker, read by the watch."""

    def __init__(self) -> None:
        self._parts: list[str] = []  # the answer so far (reasoning apart is not shown to on_text)
        self.pieces = 0  # chunks that carried text, reasoning or the end
        self.tokens = 0  # ... text or reasoning (a server streams about a token a chunk)
        self.last: float | None = None  # time.monotonic() of the last such chunk

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def advance(self, text: str = "", tokens: int = 0) -> None:
        """A chunk arrived that shows the model is answering; ``text``: what it adds to the
        answer; ``tokens``: how many tokens it brought, as far as known."""
        if text:
            self._parts.append(text)
        self.pieces += 1
        self.tokens += tokens
        self.last = time.monotonic()


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.value: T | None = None
        self.error: BaseException | None = None


def watch(work: Callable[[Progress], T], *, first: float, stall: float, where: str,
          abandon: Callable[[], None], on_text: Callable[[str], None] | None = None) -> T:
    """Run ``work(progress)`` on a daemon thread and wait for it within the run's bounds.

    ``first``: seconds to wait for the first chunk; ``stall``: seconds without a chunk, once one
    came, before the answer counts as stalled; ``where`` names the server in messages;
    ``abandon`` is called (from this thread) when the call is given up, to cut its connection.
    Returns what ``work`` returned, or raises what it raised."""
    limits = current()
    progress = Progress()
    outcome: _Outcome[T] = _Outcome()

    finished = threading.Event()

    def run() -> None:
        try:
            outcome.value = work(progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome.error = exc
        finally:
            finished.set()

    started = time.monotonic()
    limits.report("waiting")
    thread = threading.Thread(target=run, name="tracer-model-call", daemon=True)
    thread.start()
    shown = 0  # the pieces on_text and the report have heard of
    poll = POLL if on_text is None else TEXT_POLL
    try:
        while True:
            now = time.monotonic()
            if progress.last is None:
                wake, give_up = started + first, "first"
            else:
                wake, give_up = progress.last + stall, "stall"
            if limits.deadline < wake:
                wake, give_up = limits.deadline, "deadline"
            ended = finished.wait(max(0.0, min(wake - now, poll)))
            if progress.pieces != shown:
                shown = progress.pieces
                limits.report("answering", progress.tokens)
                if on_text is not None:
                    on_text(progress.text)
            if ended:
                break
            if limits.stop is not None and limits.stop.is_set():
                raise Interrupted(getattr(limits.stop, "reason", "") or "stopped")
            if time.monotonic() >= wake:
                raise _give_up(give_up, where, progress, time.monotonic() - started, first,
                               stall, limits)
    except BaseException:
        abandon()
        raise
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]


def _give_up(why: str, where: str, progress: Progress, waited: float, first: float,
             stall: float, limits: Limits) -> BackendError:
    if why == "deadline":
        doing = ("while the model was answering" if progress.last is not None
                 else f"while waiting {waited:.0f} s for {where} to answer")
        return OutOfTime(limits.what, doing)
    if why == "first":
        return NoAnswer(f"{where} sent no answer in {first:g} s",
                        "raise --request-timeout if the model is that slow to start (a big prompt "
                        "on a CPU can take minutes), or check the server")
    return Stalled(f"{where} stopped answering: nothing came for {stall:g} s after "
                   f"{progress.pieces} piece(s) of the answer",
                   "check the server's log; if it pauses that long mid-answer, raise "
                   "stall_timeout (TRACER_STALL_TIMEOUT or the config file)")
