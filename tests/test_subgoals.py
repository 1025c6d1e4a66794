"""Hierarchical plans: a tracer1 answer may carry a checklist of the task's sub-goals beside
its forecast (``--subgoals`` asks for it); the plan keeps it, the next request gives it back."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from rich.console import Console

from tests.fakes import FakeBackend, profile, request, user_text
from tracer_cli.agent.planner import Forecast, Planner
from tracer_cli.cli.panel import LivePanel, LogLines
from tracer_cli.errors import PlanError
from tracer_cli.plan import SUBGOALS_MAX, Subgoal, parse_plan, plan_schema

STEPS = [{"action": "click", "x": 100, "y": 200, "target": "File"}]


def answer(subgoals: object) -> str:
    return json.dumps({"thought": "t", "trajectory": STEPS, "subgoals": subgoals})


def test_a_checklist_is_read_as_written_and_the_first_not_done_is_current() -> None:
    plan = parse_plan(answer([{"goal": "open the File menu", "done": True},
                              {"goal": "save as report.txt", "done": False},
                              {"goal": "close the editor"}]), 5)
    assert [g.goal for g in plan.subgoals] == ["open the File menu", "save as report.txt",
                                               "close the editor"]
    assert [g.done for g in plan.subgoals] == [True, False, False]
    assert plan.current_subgoal == 1
    assert parse_plan(plan.to_json(), 5) == plan  # the record reads back the same plan


def test_what_models_write_beside_a_goal_is_accepted() -> None:
    """A bare list of strings, extra fields in an item, a goal with line breaks."""
    plan = parse_plan(answer(["find the menu", {"goal": "save\n  it", "done": False,
                                                "status": "pending", "why": "x"}]), 5)
    assert plan.subgoals == [Subgoal(goal="find the menu"), Subgoal(goal="save it")]
    assert plan.current_subgoal == 0


def test_a_long_checklist_or_goal_is_cut_not_refused() -> None:
    plan = parse_plan(answer([f"goal {i}" for i in range(20)]), 5)
    assert len(plan.subgoals) == SUBGOALS_MAX
    long = parse_plan(answer(["x" * 5000]), 5)
    assert len(long.subgoals[0].goal) == 200 and long.subgoals[0].goal.endswith("...")


def test_all_done_has_no_current_sub_goal_and_a_plan_without_one_has_none() -> None:
    assert parse_plan(answer([{"goal": "a", "done": True}]), 5).current_subgoal is None
    plain = parse_plan(json.dumps({"thought": "", "trajectory": STEPS}), 5)
    assert plain.subgoals == [] and plain.current_subgoal is None
    assert "subgoals" not in plain.to_dict()


@pytest.mark.parametrize("bad", ['"do it all"', '[{"done": true}]', '[{"goal": "", "done": false}]',
                                 '[{"goal": "a", "done": "yes"}]', '[42]'])
def test_a_checklist_that_is_not_one_is_refused_with_where(bad: str) -> None:
    text = '{"thought": "t", "trajectory": ' + json.dumps(STEPS) + ', "subgoals": ' + bad + "}"
    with pytest.raises(PlanError, match="subgoals"):
        parse_plan(text, 5)


def test_the_schema_allows_a_checklist_after_the_required_fields() -> None:
    schema = plan_schema(3)
    assert schema["required"] == ["thought", "trajectory"]
    assert schema["properties"]["subgoals"]["maxItems"] == SUBGOALS_MAX


def test_the_prompt_asks_for_a_checklist_only_when_asked_and_gives_it_back() -> None:
    plain = profile().messages(request())
    asked = profile().messages(dataclasses.replace(request(), subgoals=[]))
    assert "subgoals" not in plain[0]["content"]
    assert asked[0]["content"].startswith(plain[0]["content"])  # the same prefix, then more
    assert '"subgoals"' in asked[0]["content"]
    assert "sub-goals so far" not in user_text(asked)  # nothing to give back yet

    given = [Subgoal(goal="open the File menu", done=True), Subgoal(goal="save the file")]
    text = user_text(profile().messages(dataclasses.replace(request(), subgoals=given)))
    assert "[x] open the File menu\n[ ] save the file" in text


def test_the_planner_keeps_the_checklist_in_the_forecast() -> None:
    backend = FakeBackend({"thought": "", "trajectory": STEPS, "subgoals": ["a", "b"]})
    forecast = Planner(backend, profile()).forecast(dataclasses.replace(request(), subgoals=[]))
    assert [g.goal for g in forecast.plan.subgoals] == ["a", "b"]


def forecast_with(subgoals: list[object]) -> Forecast:
    return Forecast(parse_plan(answer(subgoals), 5), [])


def test_the_panels_show_the_current_sub_goal_and_keep_the_last_checklist() -> None:
    console = Console(width=100, record=True, force_terminal=False)
    live = LivePanel(console)
    live.on_plan(1, forecast_with([{"goal": "open the File menu", "done": True}, "save the file"]))
    live.on_plan(2, Forecast(parse_plan(json.dumps({"thought": "", "trajectory": STEPS}), 5), []))
    console.print(live.render())
    shown = console.export_text()
    assert "Sub-goals: ✓ open the File menu · ▶ save the file" in shown

    stream = io.StringIO()
    LogLines(stream).on_plan(3, forecast_with(["find it", "save it"]))
    assert "[sub-goal 1/2: find it]: click (100,200) 'File'" in stream.getvalue()
