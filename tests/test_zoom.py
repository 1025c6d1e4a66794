"""Zoom grounding: the crop, the exact way back to the screen, each profile's zoom turn, and the
agent placing clicks on a crop when (and only when) its screenshot is under the grounding
minimum. (tests/e2e/test_zoom.py runs it through llama.cpp and a server on a real display.)"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.fakes import FakeBackend, FakeScreen, examples, make_settings, step_plan
from tracer_cli.agent.grounding import Grounder
from tracer_cli.agent.loop import Agent
from tracer_cli.agent.planner import Planner
from tracer_cli.agent.profiles import PROFILES
from tracer_cli.agent.profiles.geometry import QWEN3_VL, QWEN25_VL
from tracer_cli.agent.zoom import Box, crop_box, needed, pixel
from tracer_cli.desktop.actuator import RecordingActuator
from tracer_cli.desktop.screen import Geometry, Rect

SCREEN = (1920, 1080)
GEOMETRY = Geometry(Rect(0, 0, *SCREEN))
LOW = 300_000  # a planner budget under Qwen3-VL's grounding minimum (1,048,576 pixels)
CLICK = step_plan({"action": "click", "x": 500, "y": 450, "target": "Green button"},
                  {"action": "done"}, thought="Click Green.")


def crop_size(messages: list[dict[str, Any]]) -> tuple[int, int]:
    """The size of the last image in a request."""
    urls = [p["image_url"]["url"] for m in messages if isinstance(m["content"], list)
            for p in m["content"] if p["type"] == "image_url"]
    with Image.open(io.BytesIO(base64.b64decode(urls[-1].split(",", 1)[1]))) as image:
        return image.size


def test_the_crop_is_centred_on_the_planners_pixel_and_kept_inside_the_screen() -> None:
    assert crop_box((500, 500), SCREEN, QWEN3_VL) == Box(960 - 224, 540 - 224, 448, 448)
    assert crop_box((500, 500), SCREEN, QWEN25_VL) == Box(960 - 196, 540 - 196, 392, 392)
    assert crop_box((0, 0), SCREEN, QWEN3_VL) == Box(0, 0, 448, 448)
    assert crop_box((1000, 1000), SCREEN, QWEN3_VL) == Box(1920 - 448, 1080 - 448, 448, 448)
    assert crop_box((500, 500), (400, 300), QWEN3_VL) == Box(8, 6, 384, 288)  # a small screen
    assert crop_box((500, 500), (200, 200), QWEN3_VL) is None  # under the processor's minimum


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000),
       st.sampled_from([(1280, 800), (1920, 1080), (1366, 768), (2560, 1440)]))
def test_a_crop_point_lands_on_the_very_pixel_it_names(px: int, py: int, cx: int, cy: int,
                                                       screen: tuple[int, int]) -> None:
    box = crop_box((px, py), screen, QWEN3_VL)
    assert box is not None
    assert 0 <= box.left <= screen[0] - box.width and 0 <= box.top <= screen[1] - box.height
    named = (box.left + pixel(cx, box.width), box.top + pixel(cy, box.height))
    x, y = box.to_screen((cx, cy), screen)
    assert Geometry(Rect(0, 0, *screen)).to_desktop(x, y) == named


def test_only_an_image_under_the_grounding_minimum_needs_a_zoom() -> None:
    assert not needed(QWEN3_VL, SCREEN, QWEN3_VL.size(*SCREEN))  # the default budget
    assert needed(QWEN3_VL, SCREEN, QWEN3_VL.size(*SCREEN, LOW))
    assert not needed(QWEN3_VL, (640, 400), QWEN3_VL.size(640, 400))  # raised to the minimum


@pytest.mark.parametrize(("name", "answer", "expected"), [
    ("tracer1", '{"x": 250, "y": 750}', (250, 750)),
    ("qwen3-vl", '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", '
                 '"coordinate": [250, 750]}}</tool_call>', (250, 750)),
    ("ui-tars", "Action: click(point='<point>98 294</point>')", (250, 750)),  # pixels of 392
    ("ui-tars-v1", "Action: click(point='<point>250 750</point>')", (250, 750)),
])
def test_each_profile_words_a_zoom_turn_and_reads_its_point(name: str, answer: str,
                                                           expected: tuple[int, int]) -> None:
    profile = PROFILES.get(name)()
    side = profile.geometry.factor * 14
    crop = Image.new("RGB", (side, side), "white")
    [turn] = profile.zoom_messages(crop, "the Green button")
    assert turn["role"] == "user"
    assert crop_size([turn]) == (side, side)
    assert "the Green button" in " ".join(p.get("text", "") for p in turn["content"])
    assert profile.parse_point(answer, crop.size) == pytest.approx(expected)


def agent_with(backend: FakeBackend, grounder: Grounder | None = None,
               **overrides: Any) -> tuple[Agent, RecordingActuator]:
    actuator = RecordingActuator(SCREEN)
    planner = Planner(backend, PROFILES.get("tracer1")())
    agent = Agent(FakeScreen(SCREEN, GEOMETRY), planner, actuator,
                  make_settings(max_steps=1, **overrides), grounder=grounder)
    return agent, actuator


def test_a_click_is_placed_on_a_crop_as_a_follow_up_turn_of_the_plans_conversation() -> None:
    backend = FakeBackend(CLICK, '{"x": 100, "y": 900}')
    agent, actuator = agent_with(backend, max_pixels=LOW)
    result = agent.run("pick green")

    # the crop around (960, 486): left 736, top 262; the answer names pixel 45, 403 of it
    assert actuator.calls[0] == ("click", 736 + 45, 262 + 403, "left", 1)
    plan_request, zoom_request = backend.requests
    assert zoom_request[:len(plan_request)] == plan_request  # the planning prompt, unchanged
    assert zoom_request[len(plan_request)] == {"role": "assistant", "content": json.dumps(CLICK)}
    assert len(zoom_request) == len(plan_request) + 2 and crop_size(zoom_request) == (448, 448)
    assert (result.model_calls, result.zoom_calls) == (1, 1)


def test_an_unreadable_zoom_answer_leaves_the_planners_point() -> None:
    backend = FakeBackend(CLICK, "somewhere near the middle")
    agent, actuator = agent_with(backend, max_pixels=LOW)
    agent.run("pick green")
    assert actuator.calls[0] == ("click", 960, 486, "left", 1)
    assert agent.zoom_calls == 1  # no second try: the planner's point is the fallback


def test_default_settings_and_no_zoom_make_no_extra_call() -> None:
    for overrides in ({}, {"max_pixels": LOW, "zoom": False}):
        backend = FakeBackend(CLICK)
        agent, actuator = agent_with(backend, **overrides)
        result = agent.run("pick green")
        assert actuator.calls[0] == ("click", 960, 486, "left", 1)
        assert len(backend.requests) == 1 and result.zoom_calls == 0


def test_a_dedicated_grounder_gets_its_own_prompt_on_the_crop() -> None:
    planner_backend = FakeBackend(CLICK)
    grounder_backend = FakeBackend("Action: click(point='<point>98 294</point>')")
    grounder = Grounder(grounder_backend, PROFILES.get("ui-tars")(), always=True, max_pixels=LOW)
    agent, actuator = agent_with(planner_backend, grounder, max_pixels=LOW)
    agent.run("pick green")
    [request] = grounder_backend.requests
    assert crop_size(request) == (392, 392)  # UI-TARS-1.5's tiles, not the planner's
    assert "Green button" in json.dumps(request) and "Click Green." not in json.dumps(request)
    # crop left 960 - 196, top 486 - 196; the answer's pixel (98, 294) of it
    assert actuator.calls[0] == ("click", 764 + 98, 290 + 294, "left", 1)
