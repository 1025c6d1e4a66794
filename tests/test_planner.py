"""The planner: the tracer1 profile over a backend, re-asking after malformed answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PIL import Image

from tests.fakes import FakeBackend, image_url, profile, request, user_text
from tracer_cli.agent.backends import Completion
from tracer_cli.agent.planner import ForecastFailed, Planner
from tracer_cli.agent.profiles import PROFILES, HistoryEntry, PlanRequest

CLICK_PLAN = {"thought": "the button is there",
              "trajectory": [{"action": "click", "x": 100, "y": 200, "target": "OK"},
                             {"action": "done"}]}


def test_valid_first_time() -> None:
    backend = FakeBackend(CLICK_PLAN)
    forecast = Planner(backend, profile(), retries=2).forecast(request())
    assert forecast.plan.first.describe() == "click (100,200) 'OK'"
    assert len(forecast.plan.trajectory) == 2
    assert len(forecast.attempts) == 1
    assert forecast.attempts[0].error == ""
    assert forecast.attempts[0].prompt_tokens == 50
    assert forecast.attempts[0].completion_tokens == len(json.dumps(CLICK_PLAN))
    assert forecast.seconds == pytest.approx(forecast.attempts[0].seconds)
    assert len(backend.requests) == 1


def test_first_request_is_the_tracer1_prompt() -> None:
    backend = FakeBackend(CLICK_PLAN)
    Planner(backend, profile()).forecast(request("open the settings", horizon=3))
    messages = backend.requests[0]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "with 1 to 3 steps" in messages[0]["content"]
    assert image_url(messages).startswith("data:image/png;base64,")
    text = user_text(messages)
    assert "Task: open the settings" in text
    assert "No steps executed yet." in text
    assert "at most 3" in text


def test_history_is_in_the_prompt() -> None:
    backend = FakeBackend(CLICK_PLAN)
    history = [HistoryEntry(1, "click (1,2) 'File'", "ok"),
               HistoryEntry(2, "type 'abc'", "skipped: the user declined this step")]
    Planner(backend, profile()).forecast(request(history=history))
    text = user_text(backend.requests[0])
    assert "1. click (1,2) 'File' -> ok" in text
    assert "2. type 'abc' -> skipped: the user declined this step" in text
    assert "No steps executed yet." not in text


def test_malformed_then_valid() -> None:
    bad = '{"thought": "hm", "trajectory": [{"action": "click", "x": 5000, "y": 1, "target": "t"}]}'
    backend = FakeBackend(bad, CLICK_PLAN)
    forecast = Planner(backend, profile(), retries=2).forecast(request())
    assert len(forecast.attempts) == 2
    assert "trajectory[0].x" in forecast.attempts[0].error
    assert forecast.attempts[1].error == ""
    assert forecast.plan.first.x == 100  # type: ignore[attr-defined]

    first, second = backend.requests
    assert second[:len(first)] == first  # the conversation goes on
    assert second[len(first)] == {"role": "assistant", "content": bad}
    retry = second[len(first) + 1]
    assert retry["role"] == "user"
    assert "Your answer was rejected" in retry["content"]
    assert "trajectory[0].x: Input should be less than or equal to 1000" in retry["content"]
    assert len(second) == len(first) + 2


def test_each_retry_carries_the_latest_error() -> None:
    backend = FakeBackend("no idea", "{not json", CLICK_PLAN)
    forecast = Planner(backend, profile(), retries=2).forecast(request())
    assert len(forecast.attempts) == 3
    third = backend.requests[2]
    assert [m["role"] for m in third] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert third[2]["content"] == "no idea" and "holds no JSON object" in third[3]["content"]
    assert third[4]["content"] == "{not json" and "no valid JSON object" in third[5]["content"]


def test_always_malformed_raises_forecast_failed() -> None:
    backend = FakeBackend(*["I would click OK."] * 4)
    planner = Planner(backend, profile(), retries=3)
    with pytest.raises(ForecastFailed) as info:
        planner.forecast(request())
    assert len(backend.requests) == 4
    assert len(info.value.attempts) == 4
    assert all(a.answer == "I would click OK." for a in info.value.attempts)
    assert all("no JSON object" in a.error for a in info.value.attempts)
    assert "in 4 attempts" in info.value.message
    assert "no JSON object" in info.value.message
    assert info.value.hint


def test_no_retries() -> None:
    backend = FakeBackend("nope", CLICK_PLAN)
    with pytest.raises(ForecastFailed):
        Planner(backend, profile(), retries=0).forecast(request())
    assert len(backend.requests) == 1


def test_horizon_cuts_the_forecast() -> None:
    plan = {"thought": "", "trajectory": [{"action": "wait", "seconds": i} for i in range(6)]}
    forecast = Planner(FakeBackend(plan), profile()).forecast(request(horizon=2))
    assert [s.seconds for s in forecast.plan.trajectory] == [0.0, 1.0]  # type: ignore[attr-defined]


def test_unknown_profile() -> None:
    from tracer_cli.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        PROFILES.get("nosuch")
    assert "unknown profile 'nosuch'" in info.value.message
    assert "tracer1" in info.value.hint


# --- reasoning (thinking models) ---------------------------------------------------------------

class ThinkingBackend(FakeBackend):
    """Answers like a thinking model behind a chat template that opens <think> itself."""

    def __init__(self, *answers: str, finish: str = "stop") -> None:
        super().__init__(*answers)
        self.finish = finish

    def complete(self, messages: list[dict[str, Any]],
                 schema: dict[str, Any] | None = None) -> Completion:
        done = super().complete(messages, schema)
        done.opened_reasoning, done.finish_reason, done.max_tokens = True, self.finish, 64
        return done


DRAFT_DONE = json.dumps({"thought": "draft", "trajectory": [{"action": "done"}]})
FINAL_CLICK = json.dumps({"thought": "click it", "trajectory": [
    {"action": "click", "x": 10, "y": 20, "target": "OK"}]})


def test_a_draft_inside_the_reasoning_is_never_the_answer() -> None:
    """A draft that would end the task sits in the reasoning; only the text after </think> is read."""
    backend = ThinkingBackend(f"Maybe {DRAFT_DONE}? No, first click OK.</think>\n{FINAL_CLICK}")
    forecast = Planner(backend, profile()).forecast(request())
    assert forecast.plan.first.describe() == "click (10,20) 'OK'"
    assert forecast.attempts[0].reasoning.startswith("Maybe")
    assert "first click OK" in forecast.plan.thought  # the panel and the record show it


def test_reasoning_that_never_ends_is_not_read_even_with_a_valid_plan_inside() -> None:
    backend = ThinkingBackend(f"I will answer {FINAL_CLICK}")
    with pytest.raises(ForecastFailed, match="reasoning never ended"):
        Planner(backend, profile()).forecast(request())
    assert len(backend.requests) == 1  # not asked again: it would end the same way


def test_a_cut_off_answer_says_so_and_how_to_fix_it_without_a_retry() -> None:
    backend = ThinkingBackend("Let me think about the dialog and", finish="length")
    with pytest.raises(ForecastFailed) as info:
        Planner(backend, profile(), retries=2).forecast(request())
    assert "cut off inside the model's reasoning at --max-tokens 64" in str(info.value)
    assert "raise --max-tokens" in str(info.value)
    assert len(backend.requests) == 1 and info.value.attempts[0].cut_off


# --- an answer that is half a step (FollowUp) --------------------------------------------------

def opencua(code: str) -> str:
    return f"## Action:\nDo it.\n\n## Code:\n```python\n{code}\n```\n"


def screen() -> PlanRequest:
    """A screenshot OpenCUA's processor keeps as it is (sides multiples of 28)."""
    return PlanRequest("press OK", Image.new("RGB", (560, 280), "white"), 5)


def test_a_move_alone_is_asked_on_and_the_next_answer_acts_where_it_pointed() -> None:
    """OpenCUA moves the pointer in one answer and scrolls in the next: one scroll step at the
    move's point, no retry spent, and the model told that tracer did not hover."""
    backend = FakeBackend(opencua("pyautogui.moveTo(x=140, y=140)"), opencua("pyautogui.scroll(-5)"))
    forecast = Planner(backend, PROFILES.get("opencua")(), retries=0).forecast(screen())
    assert forecast.plan.first.describe() == "scroll (250,500) dy=-5"
    first, second = forecast.attempts
    assert first.follow_up.startswith("tracer cannot hover") and not first.error
    assert second.follow_up == "" and second.error == ""
    turn = backend.requests[1][-1]
    assert backend.requests[1][-2] == {"role": "assistant", "content": first.answer}
    assert turn["role"] == "user" and "(x=140, y=140)" in turn["content"]
    assert "does not hover" in turn["content"]


def test_a_drag_from_the_pointer_in_the_next_answer_starts_at_the_move() -> None:
    backend = FakeBackend(opencua("pyautogui.moveTo(x=140, y=140)"),
                          opencua("pyautogui.dragTo(x=280, y=210, button='left')"))
    forecast = Planner(backend, PROFILES.get("opencua")(), retries=0).forecast(screen())
    assert forecast.plan.first.describe() == "drag (250,500)->(500,750)"


def test_answers_that_only_move_are_asked_on_a_bounded_number_of_times() -> None:
    moves = [opencua(f"pyautogui.moveTo(x={i}, y={i})") for i in range(1, 7)]
    backend = FakeBackend(*moves)
    with pytest.raises(ForecastFailed) as info:
        Planner(backend, PROFILES.get("opencua")(), retries=1).forecast(screen())
    attempts = info.value.attempts
    # two follow-ups, then the third move is a rejection; the retry moves again and is refused
    assert [bool(a.follow_up) for a in attempts] == [True, True, False, False]
    # the answer after the retry is told the same rule, not a count that is no longer true
    assert attempts[2].error == attempts[3].error
    assert "at most 2 answers of a step may only move the pointer" in attempts[3].error
    assert len(backend.requests) == 4
