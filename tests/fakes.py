"""The fakes the unit tests share, one per hardware boundary, and the helpers around them: a
still screen, a model that answers from a queue (FakeBackend, or the real script backend), and
the recording actuator that tracer ships (tracer_cli.desktop.actuator.RecordingActuator)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image

from tracer_cli.agent.backends import Completion
from tracer_cli.agent.backends.script import ScriptBackend
from tracer_cli.agent.loop import Agent
from tracer_cli.agent.planner import Planner
from tracer_cli.agent.profiles import PROFILES, HistoryEntry, PlanRequest
from tracer_cli.agent.runloop import Listener, RunResult, StepRecord
from tracer_cli.config import Settings
from tracer_cli.desktop.actuator import RecordingActuator
from tracer_cli.desktop.screen import Geometry, Rect, Screenshot

GEOMETRY = Geometry(Rect(1920, 0, 1280, 800), index=2)  # a second monitor, to see the offset


class FakeScreen:
    """A still screen: the same picture every time."""

    def __init__(self, size: tuple[int, int] = (1280, 800), geometry: Geometry = GEOMETRY) -> None:
        self.image = Image.new("RGB", size, (30, 60, 90))
        self.geometry = geometry
        self.captures = 0

    def capture(self) -> Screenshot:
        self.captures += 1
        return Screenshot(self.image, self.geometry, time.time())

    def fingerprint(self) -> bytes:
        return b"still"


def click(x: int = 500, y: int = 500, target: str = "OK") -> dict[str, Any]:
    return {"thought": f"click {target}",
            "trajectory": [{"action": "click", "x": x, "y": y, "target": target}, {"action": "done"}]}


def step_plan(*steps: dict[str, Any], thought: str = "") -> dict[str, Any]:
    return {"thought": thought, "trajectory": list(steps)}


DONE = step_plan({"action": "done", "answer": "all set"})
FAIL = step_plan({"action": "fail", "reason": "there is no such app"})


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"settle_quiet": 0.0, "settle_timeout": 0.5, "max_steps": 10,
                              "answer_retries": 2}
    return Settings(**{**values, **overrides})


class Events(Listener):
    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.records: list[StepRecord] = []
        self.result: RunResult | None = None

    def on_start(self, task: str, settings: Any, geometry: Geometry) -> None:
        self.events.append(("start", task))

    def on_phase(self, number: int, phase: str) -> None:
        self.events.append(("phase", number, phase))

    def on_plan(self, number: int, forecast: Any) -> None:
        self.events.append(("plan", number))

    def on_action(self, number: int, step: Any, points: list[tuple[int, int]]) -> None:
        self.events.append(("action", number, step.action, tuple(points)))

    def on_step(self, record: StepRecord) -> None:
        self.events.append(("step", record.number))
        self.records.append(record)

    def on_end(self, result: RunResult) -> None:
        self.events.append(("end", result.status))
        self.result = result


def make_agent(backend: Any, settings: Settings | None = None, confirm: Any = None,
               screen: FakeScreen | None = None, stop: threading.Event | None = None,
               ) -> tuple[Agent, RecordingActuator, Events]:
    # with a confirmation callback, ask before every step (the default asks only for risky ones)
    settings = settings or make_settings(**({"confirm": "always"} if confirm else {}))
    planner = Planner(backend, PROFILES.get("tracer1")(), settings.answer_retries)
    actuator = RecordingActuator()
    events = Events()
    agent = Agent(screen or FakeScreen(), planner, actuator, settings, [events], confirm, stop)
    return agent, actuator, events


def script(tmp_path: Path, *answers: dict[str, Any] | str) -> ScriptBackend:
    path = tmp_path / "plans.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in answers) + "\n", encoding="utf-8")
    return ScriptBackend(path)


def inputs(actuator: RecordingActuator) -> list[tuple]:
    return [c for c in actuator.calls if c[0] != "release_all"]


class FakeBackend:
    """Answers with queued texts and keeps every message list it was sent."""

    name = "fake"

    def __init__(self, *answers: str | dict[str, Any]) -> None:
        self.answers = [a if isinstance(a, str) else json.dumps(a) for a in answers]
        self.requests: list[list[dict[str, Any]]] = []
        self.schemas: list[dict[str, Any] | None] = []
        self.closed = False

    def complete(self, messages: list[dict[str, Any]],
                 schema: dict[str, Any] | None = None) -> Completion:
        self.requests.append(json.loads(json.dumps(messages)))  # a snapshot, not a reference
        self.schemas.append(schema)
        if not self.answers:
            raise AssertionError("the fake backend ran out of answers")
        text = self.answers.pop(0)
        return Completion(text, prompt_tokens=50, completion_tokens=len(text))

    def close(self) -> None:
        self.closed = True


def profile() -> Any:
    return PROFILES.get("tracer1")()


def request(task: str = "press OK", horizon: int = 5,
            history: list[HistoryEntry] | None = None) -> PlanRequest:
    return PlanRequest(task, Image.new("RGB", (64, 40), "white"), horizon, history or [])


def user_text(messages: list[dict[str, Any]]) -> str:
    """All the text of the first user message (the task, the history, the instructions)."""
    content = messages[1]["content"]
    return "\n".join(part["text"] for part in content if part["type"] == "text")


def image_url(messages: list[dict[str, Any]]) -> str:
    (part,) = [p for p in messages[1]["content"] if p["type"] == "image_url"]
    return part["image_url"]["url"]


def examples(n: int) -> int:
    """How many examples a Hypothesis test tries: ``n`` by default (the "ci" profile), a tenth
    with HYPOTHESIS_PROFILE=dev for a quick local run."""
    return max(10, n // 10) if os.environ.get("HYPOTHESIS_PROFILE") == "dev" else n
