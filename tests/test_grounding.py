"""Grounding: steps without a point are located; a dedicated grounder re-places every click."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from tests.fakes import FakeBackend, FakeScreen, make_settings, profile, step_plan
from tracer_cli.agent.grounding import Grounder
from tracer_cli.agent.loop import Agent
from tracer_cli.agent.planner import Planner
from tracer_cli.desktop.actuator import RecordingActuator
from tracer_cli.errors import PlanError

DONE = step_plan({"action": "done"})


def run(plan_answers: list[Any], grounder: Grounder | None) -> tuple[Agent, RecordingActuator, Any]:
    actuator = RecordingActuator()
    planner = Planner(FakeBackend(*plan_answers), profile())
    agent = Agent(FakeScreen(), planner, actuator, make_settings(), grounder=grounder)
    return agent, actuator, agent.run("save the file")


def test_a_click_without_a_point_is_located_by_the_planners_own_model() -> None:
    backend = FakeBackend(step_plan({"action": "click", "target": "Save button"}),
                          '{"x": 250, "y": 750}', DONE)
    planner = Planner(backend, profile())
    actuator = RecordingActuator()
    agent = Agent(FakeScreen(), planner, actuator, make_settings(),
                  grounder=Grounder(backend, profile()))
    result = agent.run("save the file")
    assert result.status == "done"
    # (250, 750) of a 1280x800 monitor at x=1920: 1920 + 320, 600
    assert actuator.calls[0] == ("click", 1920 + 320, 600, "left", 1)
    ground_request = backend.requests[1]
    assert "Save button" in str(ground_request[-1]["content"])
    assert "data:image/png;base64," in str(ground_request[-1]["content"])


def test_a_dedicated_grounder_replaces_the_planners_point() -> None:
    grounder_backend = FakeBackend('{"x": 100, "y": 100}')
    grounder = Grounder(grounder_backend, profile(), always=True)
    agent, actuator, result = run(
        [step_plan({"action": "double_click", "x": 900, "y": 900, "target": "icon"}), DONE],
        grounder)
    assert result.status == "done"
    assert actuator.calls[0] == ("click", 1920 + 128, 80, "left", 2)
    assert len(grounder_backend.requests) == 1


def test_an_unreadable_grounder_answer_falls_back_to_the_planners_point() -> None:
    grounder = Grounder(FakeBackend("no idea", "still no idea"), profile(), always=True)
    agent, actuator, result = run(
        [step_plan({"action": "click", "x": 500, "y": 500, "target": "OK"}), DONE], grounder)
    assert actuator.calls[0] == ("click", 1920 + 640, 400, "left", 1)


def test_a_target_that_cannot_be_located_is_not_clicked_and_the_model_is_told() -> None:
    planner_backend = FakeBackend(step_plan({"action": "click", "target": "Ghost button"}), DONE)
    grounder = Grounder(FakeBackend('{"x": 5000, "y": 1}', "nothing"), profile())
    actuator = RecordingActuator()
    agent = Agent(FakeScreen(), Planner(planner_backend, profile()), actuator, make_settings(),
                  grounder=grounder)
    result = agent.run("press the ghost button")
    assert result.status == "done"
    assert [c for c in actuator.calls if c[0] == "click"] == []
    told = str(planner_backend.requests[1])
    assert "Ghost button" in told and "could not locate" in told


def test_tracer1_parse_point() -> None:
    p = profile()
    assert p.parse_point('```json\n{"x": 12, "y": 999}\n```', (640, 400)) == (12, 999)
    for bad in ('{"x": 1001, "y": 5}', '{"x": "5", "y": 5}', '{"x": true, "y": 5}', "nope"):
        with pytest.raises(PlanError):
            p.parse_point(bad, (640, 400))


def test_the_grounder_resizes_to_its_own_budget() -> None:
    backend = FakeBackend('{"x": 1, "y": 2}')
    grounder = Grounder(backend, profile(), max_pixels=200_000)
    found = grounder.locate(FakeScreen().image, "thing")
    assert found.point == (1, 2)
    url = backend.requests[0][-1]["content"][0]["image_url"]["url"]
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.width % 32 == 0 and image.height % 32 == 0  # tracer1: Qwen3-VL's geometry
    assert image.width * image.height <= 200_000


def sent_image(request: list[dict[str, Any]]) -> Image.Image:
    for message in request:
        for part in message["content"] if isinstance(message["content"], list) else []:
            if part.get("type") == "image_url":
                url = part["image_url"]["url"]
                return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    raise AssertionError("no image in the request")


def test_a_dedicated_grounder_sizes_the_full_screen_not_the_planners_small_image() -> None:
    """The planner looks at a small image (--max-pixels 200000: 544x352 of the 1280x800 screen);
    a dedicated grounder gets the full-resolution screen at its own budget, not that image
    enlarged."""
    from tracer_cli.agent.profiles import PROFILES

    holo = PROFILES.get("holo")()
    grounder_backend = FakeBackend('{"action": "click_absolute", "x": 588, "y": 364}')
    grounder = Grounder(grounder_backend, holo, always=True, max_pixels=0)
    actuator = RecordingActuator()
    planner = Planner(FakeBackend(step_plan({"action": "click", "target": "OK"}), DONE), profile())
    agent = Agent(FakeScreen(), planner, actuator, make_settings(max_pixels=200_000, zoom=False),
                  grounder=grounder)
    agent.run("press OK")
    sent = sent_image(grounder_backend.requests[0])
    assert sent.size == holo.geometry.size(1280, 800) == (1176, 728)  # not (1120, 728), from 544x352
    # (588, 364) is the middle of the 1176x728 image it saw: the middle of the screen
    assert actuator.calls[0] == ("click", 1920 + 640, 400, "left", 1)
