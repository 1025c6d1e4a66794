"""The planner: a profile (prompt in, native answer out) over a backend (where the model runs).

A malformed answer is sent back to the model with the reason and asked again, a bounded number
of times; it never reaches the actuator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tracer_cli.backends import Backend
from tracer_cli.errors import PlanError
from tracer_cli.plan import Plan
from tracer_cli.profiles import PlanRequest, Profile


@dataclass
class Attempt:
    answer: str
    error: str = ""
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0


@dataclass
class Forecast:
    plan: Plan
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)


class ForecastFailed(PlanError):
    """Every attempt was malformed. Carries the attempts for the run record."""

    def __init__(self, message: str, attempts: list[Attempt]) -> None:
        super().__init__(message, "try a stronger model, or check the profile matches the model")
        self.attempts = attempts


class Planner:
    def __init__(self, backend: Backend, profile: Profile, retries: int = 2) -> None:
        self.backend = backend
        self.profile = profile
        self.retries = retries

    def forecast(self, request: PlanRequest) -> Forecast:
        messages: list[dict[str, Any]] = self.profile.messages(request)
        schema = self.profile.schema(request.horizon)
        attempts: list[Attempt] = []
        for _ in range(self.retries + 1):
            started = time.monotonic()
            completion = self.backend.complete(messages, schema)
            attempt = Attempt(completion.text, seconds=time.monotonic() - started,
                              prompt_tokens=completion.prompt_tokens,
                              completion_tokens=completion.completion_tokens,
                              reused_tokens=completion.reused_tokens)
            attempts.append(attempt)
            try:
                return Forecast(self.profile.parse(completion.text, request), attempts)
            except PlanError as exc:
                attempt.error = exc.message
            messages = [*messages, {"role": "assistant", "content": completion.text},
                        self.profile.retry_message(attempt.error)]
        raise ForecastFailed(
            f"the model gave no valid plan in {len(attempts)} attempts; last: {attempts[-1].error}",
            attempts)
