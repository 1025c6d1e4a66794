"""The receding-horizon loop, with a fake screen, a scripted or fake model and a recording actuator."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import (
    DONE,
    FAIL,
    FakeBackend,
    FakeScreen,
    click,
    inputs,
    make_agent,
    make_settings,
    script,
    step_plan,
    user_text,
)
from tracer_cli.agent.loop import Agent
from tracer_cli.agent.planner import Planner
from tracer_cli.agent.profiles import PROFILES
from tracer_cli.desktop.screen import Geometry, Rect


def test_done_at_once(tmp_path: Path) -> None:
    agent, actuator, events = make_agent(script(tmp_path, DONE))
    result = agent.run("check the weather")
    assert result.status == "done"
    assert result.exit_code == 0
    assert result.answer == "all set"
    assert result.steps == 1
    assert actuator.calls == [("release_all",)]
    assert events.records[0].outcome.text() == "done"
    assert events.records[0].action.action == "done"  # type: ignore[union-attr]


def test_click_then_done(tmp_path: Path) -> None:
    agent, actuator, events = make_agent(script(tmp_path, click(250, 500), DONE))
    result = agent.run("press OK")
    assert result.status == "done" and result.steps == 2
    assert inputs(actuator) == [("click", 1920 + 320, 400, "left", 1)]
    assert actuator.calls[-1] == ("release_all",)
    first = events.records[0]
    assert first.outcome.text() == "ok (no visible effect)"  # the fake screen never changes
    assert first.points == [(2240, 400)]
    assert set(first.timings) == {"capture", "model", "act", "settle", "check"}


def test_fail(tmp_path: Path) -> None:
    agent, actuator, _ = make_agent(script(tmp_path, FAIL))
    result = agent.run("open the app")
    assert result.status == "failed"
    assert result.exit_code == 1
    assert result.reason == "there is no such app"
    assert inputs(actuator) == []


def test_max_steps_reached(tmp_path: Path) -> None:
    agent, actuator, events = make_agent(script(tmp_path, *[click()] * 5),
                                         make_settings(max_steps=3))
    result = agent.run("click forever")
    assert result.status == "gave_up"
    assert result.exit_code == 1
    assert "--max-steps 3" in result.reason
    assert result.steps == 3
    assert len(inputs(actuator)) == 3
    assert [r.number for r in events.records] == [1, 2, 3]


def test_timeout(tmp_path: Path) -> None:
    # Each step waits settle_quiet for the screen to settle: the first step outlasts the timeout.
    settings = make_settings(timeout=0.05, settle_quiet=0.1)
    agent, actuator, events = make_agent(script(tmp_path, *[click()] * 5), settings)
    started = time.monotonic()
    result = agent.run("click forever")
    assert time.monotonic() - started < 1.0
    assert result.status == "gave_up"
    assert result.exit_code == 1
    assert "--timeout 0.05s" in result.reason
    assert len(inputs(actuator)) == 1
    assert len(events.records) == 1


def test_steps_counts_the_steps_that_ran(tmp_path: Path) -> None:
    # A run that gives up on its timeout before step 2 ran has run one step.
    settings = make_settings(timeout=0.05, settle_quiet=0.1)
    agent, _, events = make_agent(script(tmp_path, *[click()] * 5), settings)
    result = agent.run("click forever")
    assert result.steps == len(events.records) == 1


def test_malformed_answers_exhausted_no_input_at_all() -> None:
    backend = FakeBackend("I will click OK", '{"trajectory": [{"action": "click"}]}',
                          "```json\n{broken\n```")
    agent, actuator, events = make_agent(backend, make_settings(answer_retries=2))
    result = agent.run("press OK")
    assert result.status == "error"
    assert result.exit_code == 1
    assert "no valid plan in 3 attempts" in result.reason
    assert actuator.calls == [("release_all",)]
    assert len(backend.requests) == 3
    assert events.records[0].forecast is None
    assert [a.answer for a in events.records[0].attempts] == [
        "I will click OK", '{"trajectory": [{"action": "click"}]}', "```json\n{broken\n```"]
    assert all(a.error for a in events.records[0].attempts)


def test_malformed_then_valid_acts_once(tmp_path: Path) -> None:
    backend = script(tmp_path, "not a plan", click(), DONE)
    agent, actuator, events = make_agent(backend)
    result = agent.run("press OK")
    assert result.status == "done"
    assert len(inputs(actuator)) == 1
    assert len(events.records[0].attempts) == 2


def test_history_reaches_the_model() -> None:
    backend = FakeBackend(click(100, 200, "File"), step_plan({"action": "type", "text": "hi"}), DONE)
    agent, _, _ = make_agent(backend)
    assert agent.run("write hi").status == "done"
    first, second, third = (user_text(r) for r in backend.requests)
    assert "No steps executed yet." in first
    assert "1. click (100,200) 'File' -> ok" in second
    assert "1. click (100,200) 'File' -> ok" in third
    assert "2. type 'hi' -> ok" in third


def test_history_is_limited() -> None:
    backend = FakeBackend(click(1, 1, "a"), click(2, 2, "b"), click(3, 3, "c"), DONE)
    agent, _, _ = make_agent(backend, make_settings(history=1))
    agent.run("click around")
    last = user_text(backend.requests[-1])
    assert "3. click (3,3) 'c' -> ok" in last
    assert "'a'" not in last and "'b'" not in last


def test_confirm_receives_the_step_and_its_points(tmp_path: Path) -> None:
    asked: list[tuple] = []

    def confirm(number: int, step: Any, points: list[tuple[int, int]], risk: Any) -> str:
        asked.append((number, step.action, points))
        return "yes"

    agent, actuator, _ = make_agent(script(tmp_path, click(500, 500), DONE), confirm=confirm)
    assert agent.run("press OK").status == "done"
    assert asked == [(1, "click", [(2560, 400)])]  # never asked about the done step
    assert inputs(actuator) == [("click", 2560, 400, "left", 1)]


def test_confirm_skip() -> None:
    backend = FakeBackend(click(500, 500, "Delete"), DONE)
    agent, actuator, events = make_agent(backend, confirm=lambda n, s, p, r: "skip")
    result = agent.run("tidy up")
    assert result.status == "done"
    assert inputs(actuator) == []
    assert events.records[0].outcome.text().startswith("skipped")
    assert not any(e[0] == "action" for e in events.events)
    assert "1. click (500,500) 'Delete' -> skipped: the user declined this step" in \
        user_text(backend.requests[1])


def test_confirm_stop() -> None:
    backend = FakeBackend(click(), DONE)
    agent, actuator, events = make_agent(backend, confirm=lambda n, s, p, r: "stop")
    result = agent.run("press OK")
    assert result.status == "interrupted"
    assert result.exit_code == 130
    assert "confirmation" in result.reason
    assert inputs(actuator) == []
    assert actuator.calls == [("release_all",)]
    assert len(backend.requests) == 1
    assert events.events[-1] == ("end", "interrupted")


def test_stop_event_before_the_run() -> None:
    stop = threading.Event()
    stop.set()
    backend = FakeBackend(click())
    agent, actuator, _ = make_agent(backend, stop=stop)
    result = agent.run("press OK")
    assert result.status == "interrupted" and result.exit_code == 130
    assert backend.requests == []
    assert actuator.calls == [("release_all",)]


def test_ctrl_c_during_the_model_call() -> None:
    class Interrupting(FakeBackend):
        def complete(self, messages: list[dict[str, Any]], schema: Any = None) -> Any:
            raise KeyboardInterrupt

    agent, actuator, _ = make_agent(Interrupting())
    result = agent.run("press OK")
    assert result.status == "interrupted"
    assert result.reason == "interrupted with Ctrl-C"
    assert result.exit_code == 130
    assert actuator.calls == [("release_all",)]


def test_backend_error_ends_the_run(tmp_path: Path) -> None:
    agent, actuator, _ = make_agent(script(tmp_path, click()))
    result = agent.run("click forever")
    assert result.status == "error"
    assert "ran out of answers after 1 calls" in result.reason
    assert result.exit_code == 1
    assert len(inputs(actuator)) == 1


def test_action_error_is_an_outcome_the_model_hears_of() -> None:
    broken = FakeScreen(geometry=Geometry(Rect(0, 0, 0, 0), index=3))
    backend = FakeBackend(click(10, 10), DONE)
    agent, actuator, events = make_agent(backend, screen=broken)
    result = agent.run("press OK")
    assert result.status == "done"
    assert inputs(actuator) == []
    assert events.records[0].outcome.text() == "error: point (10,10) falls outside monitor 3"
    assert "-> error: point (10,10) falls outside monitor 3" in user_text(backend.requests[1])


def test_screen_still_changing_is_noted() -> None:
    class Busy(FakeScreen):
        def fingerprint(self) -> bytes:
            return str(time.monotonic_ns()).encode()

    backend = FakeBackend(click(), DONE)
    agent, _, events = make_agent(backend, make_settings(settle_quiet=0.2, settle_timeout=0.1),
                                  screen=Busy())
    agent.run("press OK")
    assert events.records[0].outcome.text().startswith("ok (screen still changing)")
    assert "-> ok (screen still changing)" in user_text(backend.requests[1])


def test_the_model_sees_a_downscaled_screenshot() -> None:
    backend = FakeBackend(DONE)
    agent, _, events = make_agent(backend, make_settings(max_pixels=100_000),
                                  screen=FakeScreen((1920, 1080)))
    agent.run("look")
    w, h = events.records[0].image.size  # type: ignore[union-attr]
    assert w * h <= 100_000 and w % 32 == 0 and h % 32 == 0  # the tracer1 profile: Qwen3-VL's


def test_the_default_screenshot_meets_the_grounding_minimum() -> None:
    backend = FakeBackend(DONE)
    agent, _, events = make_agent(backend, make_settings(), screen=FakeScreen((1920, 1080)))
    agent.run("look")
    w, h = events.records[0].image.size  # type: ignore[union-attr]
    assert (w // 32) * (h // 32) >= 1024 and w % 32 == 0 and h % 32 == 0


def test_listener_event_order(tmp_path: Path) -> None:
    agent, _, events = make_agent(script(tmp_path, click(500, 500), DONE),
                                  confirm=lambda n, s, p, r: "yes")
    agent.run("press OK")
    assert events.events == [
        ("start", "press OK"),
        ("phase", 1, "capture"), ("phase", 1, "model"), ("plan", 1),
        ("phase", 1, "confirm"), ("action", 1, "click", ((2560, 400),)),
        ("phase", 1, "act"), ("phase", 1, "settle"), ("step", 1),
        ("phase", 2, "capture"), ("phase", 2, "model"), ("plan", 2), ("step", 2),
        ("end", "done"),
    ]


def test_listener_hears_of_the_failed_step() -> None:
    agent, _, events = make_agent(FakeBackend("x", "y", "z"))
    agent.run("press OK")
    assert events.events == [
        ("start", "press OK"), ("phase", 1, "capture"), ("phase", 1, "model"), ("step", 1),
        ("end", "error"),
    ]


def test_preview_does_not_touch_the_actuator(tmp_path: Path) -> None:
    agent, actuator, events = make_agent(script(tmp_path, click(250, 250)))
    record = agent.preview("press OK")
    assert actuator.calls == []
    assert record.forecast is not None
    assert record.forecast.plan.first.describe() == "click (250,250) 'OK'"
    assert record.action is None and record.points == []
    assert events.events[-1] == ("end", "planned")
    assert events.result is not None and events.result.exit_code == 0


def test_preview_counts_its_model_calls_and_seconds() -> None:
    """A dry run's result (run.json, `tracer logs`, the report's header) counts the model calls
    it made, a malformed answer's re-ask included, and the seconds it took; it said 0 and 0.0."""
    class SlowBackend(FakeBackend):
        def complete(self, messages: list[dict[str, Any]], schema: Any = None) -> Any:
            time.sleep(0.05)
            return super().complete(messages, schema)

    agent, _, events = make_agent(SlowBackend("not a plan", click(250, 250)))
    agent.preview("press OK")
    assert events.result is not None and events.result.status == "planned"
    assert events.result.model_calls == 2
    assert events.result.seconds >= 0.1


def test_preview_without_an_actuator(tmp_path: Path) -> None:
    settings = make_settings()
    planner = Planner(script(tmp_path, click()), PROFILES.get("tracer1")(), 2)
    agent = Agent(FakeScreen(), planner, None, settings)
    assert agent.preview("press OK").forecast is not None


def test_preview_error_is_raised_and_reported(tmp_path: Path) -> None:
    from tracer_cli.agent.planner import ForecastFailed

    agent, actuator, events = make_agent(FakeBackend("a", "b", "c"))
    with pytest.raises(ForecastFailed):
        agent.preview("press OK")
    assert actuator.calls == []
    assert events.events[-1] == ("end", "error")


def test_history_window_moves_by_half_its_size() -> None:
    from tracer_cli.agent.profiles import HistoryEntry

    agent = Agent(FakeScreen(), Planner(FakeBackend(), PROFILES.get("tracer1")()), None,
                  make_settings(history=4))
    shown = []
    for n in range(1, 10):
        agent.history.append(HistoryEntry(n, f"step {n}", "ok"))
        shown.append([h.number for h in agent.recent_history()])
    assert shown == [[1], [1, 2], [1, 2, 3], [1, 2, 3, 4],
                     [3, 4, 5], [3, 4, 5, 6],  # moved by 2: the prompt's start stays put
                     [5, 6, 7], [5, 6, 7, 8], [7, 8, 9]]
    assert Agent(FakeScreen(), agent.planner, None, make_settings(history=0)).recent_history() == []
