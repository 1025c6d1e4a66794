"""The planner: a profile (prompt in, native answer out) over a backend (where the model runs).

A malformed answer is sent back to the model with the reason and asked again, a bounded number
of times; it never reaches the actuator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from tracer_cli.agent.backends import Backend
from tracer_cli.agent.profiles import FollowUp, PlanRequest, Profile, Revision
from tracer_cli.agent.profiles.hints import with_hints
from tracer_cli.agent.reasoning import AnswerCutOff, answer_so_far, check_complete, split
from tracer_cli.errors import PlanError
from tracer_cli.plan import BaseStep, Plan


@dataclass
class Attempt:
    answer: str
    error: str = ""
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0
    evaluated_tokens: int = 0  # prompt tokens a local model evaluated (the rest came from its cache)
    disk_tokens: int = 0  # ... loaded from the prefix cache on disk (part of reused_tokens)
    reasoning: str = ""  # what the model thought before answering (never read as the answer)
    reply: str = ""  # the answer proper: what was read (and what a later prompt quotes back)
    cut_off: bool = False  # the answer hit the token limit: not asked again
    follow_up: str = ""  # the answer only prepared the next one (a hover, a move): what it did
    messages: list[dict[str, Any]] = field(default_factory=list, repr=False)  # what it answered


@dataclass
class Forecast:
    plan: Plan
    attempts: list[Attempt] = field(default_factory=list)
    revision: Revision | None = None  # what the model was asked to repair, if anything

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)

    def conversation(self) -> list[dict[str, Any]]:
        """The messages the plan was answered to and the model's reply: what a follow-up turn
        (a zoom) continues, so that a local model finds all of it in its cache."""
        last = self.attempts[-1] if self.attempts else None
        if last is None or not last.messages:
            return []
        return [*last.messages, {"role": "assistant", "content": last.answer}]


class ForecastFailed(PlanError):
    """Every attempt was malformed. Carries the attempts for the run record."""

    def __init__(self, message: str, attempts: list[Attempt],
                 hint: str = "try a stronger model, or check the profile matches the model") -> None:
        super().__init__(message, hint)
        self.attempts = attempts


T = TypeVar("T")


class AnswerWatch(Protocol):
    """Hears a model's answers while ``ask`` asks (``agent/early.py`` acts on a first step)."""

    def on_text(self, number: int, text: str) -> None:
        """Answer ``number`` (0: the first asked) so far, as it streams (on the model's thread)."""

    def answered(self, number: int, text: str) -> None:
        """Answer ``number`` is whole: no step may start early from it any more."""

    def go_on(self, number: int) -> bool:
        """Whether to ask again after answer ``number`` was rejected (False: a step of it ran)."""


def first_step(profile: Profile, text: str, request: PlanRequest,
               opened: bool = False) -> BaseStep | None:
    """The first step of an answer still being written, once more text cannot change it, read
    by the profile's own parser with its checks; None while it is not complete, while the model
    may still be reasoning, or when the profile can only read a whole answer (it has no
    ``first_step``)."""
    reader = getattr(profile, "first_step", None)
    answer = answer_so_far(text, opened)
    if reader is None or answer is None:
        return None
    step: BaseStep | None = reader(answer, request)
    return step
FOLLOW_UPS = 2  # answers per question that only prepare the next one (a hover, a move)


def ask(backend: Backend, profile: Profile, messages: list[dict[str, Any]],
        read: Callable[[str], T], retries: int,
        schema: dict[str, Any] | None = None,
        watch: AnswerWatch | None = None) -> tuple[T | None, list[Attempt]]:
    """Ask until ``read`` accepts the answer: a rejected answer goes back to the model with the
    reason, at most ``retries`` times. ``read`` sees only the answer proper, never the model's
    reasoning. An answer cut off at the token limit is not asked again (it would be cut off
    again). An answer that only prepares the next one (``FollowUp``: a hover, a move) is
    answered with the profile's turn and the next answer read with what it prepared, at most
    FOLLOW_UPS times, without counting as a rejection. Returns what was read (None if nothing
    was) and every attempt, with its reason for rejection. ``watch`` hears each answer as it
    streams and may end the asking after an answer (its first step already ran)."""
    attempts: list[Attempt] = []
    rejected = follow_ups = 0
    while rejected <= retries:
        started = time.monotonic()
        number = len(attempts)
        if watch is None:
            completion = backend.complete(messages, schema)
        else:
            completion = backend.complete(messages, schema, partial(watch.on_text, number))
        if watch is not None:
            watch.answered(number, completion.text)
        answer = split(completion.text, completion.reasoning, completion.opened_reasoning)
        attempt = Attempt(completion.text, seconds=time.monotonic() - started,
                          prompt_tokens=completion.prompt_tokens,
                          completion_tokens=completion.completion_tokens,
                          reused_tokens=completion.reused_tokens,
                          evaluated_tokens=completion.evaluated_tokens,
                          disk_tokens=completion.disk_tokens, reasoning=answer.reasoning,
                          reply=answer.text, messages=messages)
        attempts.append(attempt)
        try:
            check_complete(answer, completion.finish_reason, completion.max_tokens)
        except AnswerCutOff as exc:
            attempt.error, attempt.cut_off = str(exc), True
            return None, attempts
        said = {"role": "assistant", "content": completion.text}
        try:
            return read(answer.text), attempts
        except FollowUp as exc:
            if watch is not None and not watch.go_on(number):
                attempt.error = exc.message
                return None, attempts
            if follow_ups < FOLLOW_UPS:
                follow_ups += 1
                attempt.follow_up = exc.message
                messages, read = [*messages, said, exc.turn], exc.read
                continue
            attempt.error = (f"{exc.message}, but at most {FOLLOW_UPS} answers of a step may only "
                             "move the pointer: give the action to do there")
        except PlanError as exc:
            attempt.error = exc.message
        if watch is not None and not watch.go_on(number):
            return None, attempts  # its first step ran: the next plan is asked on the new screen
        rejected += 1
        messages = [*messages, said, profile.retry_message(attempt.error)]
    return None, attempts


THOUGHT_LIMIT = 2000


def with_reasoning(plan: Plan, reasoning: str) -> Plan:
    """The plan whose thought shows the model's reasoning (its end, where it concludes) before
    what the answer itself says; the run record keeps the whole reasoning in the attempt."""
    if not reasoning:
        return plan
    thought = " ".join(f"{reasoning}\n{plan.thought}".split())
    if len(thought) > THOUGHT_LIMIT:
        thought = "..." + thought[-(THOUGHT_LIMIT - 3):]
    return plan.model_copy(update={"thought": thought})


class Planner:
    def __init__(self, backend: Backend, profile: Profile, retries: int = 2) -> None:
        self.backend = backend
        self.profile = profile
        self.retries = retries

    def forecast(self, request: PlanRequest, watch: AnswerWatch | None = None) -> Forecast:
        messages = with_hints(self.profile.messages(request), request, self.profile)
        plan, attempts = ask(self.backend, self.profile, messages,
                             lambda text: self.profile.parse(text, request), self.retries,
                             self.profile.schema(request.horizon), watch)
        if plan is not None:
            return Forecast(with_reasoning(plan, attempts[-1].reasoning), attempts)
        if attempts[-1].cut_off:
            raise ForecastFailed(attempts[-1].error, attempts, hint="")
        raise ForecastFailed(
            f"the model gave no valid plan in {len(attempts)} attempts; last: {attempts[-1].error}",
            attempts)
