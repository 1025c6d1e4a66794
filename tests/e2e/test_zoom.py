"""Zoom grounding through the real `tracer do` on a 1920x1080 Xvfb, with the planner's image under
the grounding minimum (``--max-pixels 300000``: 704x384, 264 image tokens for Qwen3-VL): each
click is placed on a 448x448 full-resolution crop around the planner's point.

- llama.cpp (a tiny scripted GGUF pair: answers[k + 1] once answers[k] is in the conversation,
  so [plan, zoom answer, ...] scripts a plan and its zoom turns): the crop is a follow-up turn
  of the planning conversation, which the KV cache serves (only the crop and a few words are
  evaluated);
- an OpenAI-compatible server: the same turn, the planning messages sent again before it;
- a dedicated grounder (a server, UI-TARS-1.5's profile): its own prompt on a 392x392 crop.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    DEMO_FORM,
    click,
    done,
    last_run,
    park_pointer,
    plan,
    pointer,
    tracer_env,
    wait_drawn,
    wait_for_window,
    wait_until,
)
from tests.e2e.test_llama import prefix_tokens
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.agent.profiles.geometry import QWEN3_VL

pytestmark = pytest.mark.display

LOW = "300000"
PLANNER_IMAGE = QWEN3_VL.size(1920, 1080, int(LOW))  # (704, 384)
IMAGE_TOKENS = QWEN3_VL.tokens(*PLANNER_IMAGE)  # 264, under the grounding minimum of 1024
CONTEXT = "4096"
TASK = "click the mark"

CLICK_PLAN = plan(click(500, 450, "the mark"), done("clicked"), thought="Click the mark.")
PLANNER_PIXEL = (960, 486)  # (500, 450) of 1920x1080
BOX = [960 - 224, 486 - 224, 448, 448]  # the crop around it
ZOOM = '{"x": 137, "y": 611}'  # 0..1000 of the crop: its pixel (61, 274)
ZOOM_PIXEL = (BOX[0] + 61, BOX[1] + 274)  # (797, 536)
UNREADABLE = "The mark is somewhere in the middle."

Pair = tuple[Path, Path]


def image_sizes(body: dict[str, Any]) -> list[tuple[int, int]]:
    """The sizes of every image in a chat request, in order."""
    from PIL import Image

    sizes = []
    for message in body["messages"]:
        if isinstance(message.get("content"), list):
            for part in message["content"]:
                if part.get("type") == "image_url":
                    raw = base64.b64decode(part["image_url"]["url"].partition(",")[2])
                    with Image.open(io.BytesIO(raw)) as image:
                        sizes.append(image.size)
    return sizes


def llama_args(pair: Pair) -> list[str]:
    return ["--backend", "llama", "--model", str(pair[0]), "--mmproj", str(pair[1]),
            "--context", CONTEXT, "--max-pixels", LOW]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zoom-vlms")


def test_a_click_lands_where_the_zoom_turn_says_and_the_planning_prompt_is_not_evaluated_again(
        display_1920: Display, start_clicklog: Any, models: Path) -> None:
    pair = make_tiny_vlm(models / "zoom", [json.dumps(CLICK_PLAN), ZOOM], arch="qwen3vl")
    app = start_clicklog(display_1920)
    env = tracer_env(display_1920)
    result = run_tracer("do", TASK, "--yes", "--max-steps", "1", *llama_args(pair), env=env,
                        timeout=300)

    assert result.returncode == 1, result.stderr  # one step allowed; the model never says done
    assert "Traceback" not in result.stderr
    [press] = app.wait_presses(1)
    assert (press["x"], press["y"]) == ZOOM_PIXEL != PLANNER_PIXEL
    assert "(1 model call, 1 zoom call, 0 steps from the forecast)" in result.stderr
    record = last_run(env)
    assert (record["run"]["model_calls"], record["run"]["zoom_calls"]) == (1, 1)
    [step] = record["steps"]
    assert step["image_size"] == list(PLANNER_IMAGE) and step["points"] == [list(ZOOM_PIXEL)]
    [planning] = step["attempts"]
    zoom = step["grounding"]["zoom"]
    assert zoom["box"] == BOX and zoom["answer"] == ZOOM and zoom["crop_point"] == [137, 611]
    assert step["grounding"]["planner_point"] == [500, 450]
    # The zoom turn repeats the planning prompt, its screenshot included, and the reply: the
    # KV cache serves all of the prompt; only the reply, the crop and its words are evaluated.
    unchanged = prefix_tokens(pair[0], TASK) + IMAGE_TOKENS
    assert zoom["reused_tokens"] >= unchanged, (zoom, unchanged)
    assert zoom["evaluated_tokens"] < unchanged / 3, zoom  # the reply and the crop's words
    assert planning["reused_tokens"] == 0  # a fresh model: the planning call evaluated it all


def test_an_unreadable_zoom_answer_leaves_the_planners_point(
        display_1920: Display, start_clicklog: Any, models: Path) -> None:
    pair = make_tiny_vlm(models / "unreadable", [json.dumps(CLICK_PLAN), UNREADABLE], arch="qwen3vl")
    app = start_clicklog(display_1920)
    env = tracer_env(display_1920)
    result = run_tracer("do", TASK, "--yes", "--max-steps", "1", *llama_args(pair), env=env,
                        timeout=300)

    assert result.returncode == 1, result.stderr
    [press] = app.wait_presses(1)
    assert (press["x"], press["y"]) == PLANNER_PIXEL
    [step] = last_run(env)["steps"]
    zoom = step["grounding"]["zoom"]
    assert zoom["answer"] == UNREADABLE and "no JSON object" in zoom["error"]
    assert step["points"] == [list(PLANNER_PIXEL)]


# The demo form at 1920x1080: Name field (960, 324), Green (1152, 486), Submit (960, 702).
FORM_PLAN = plan(click(500, 300, "Name field"), {"action": "type", "text": "Ada"},
                 click(600, 450, "Green button"), click(500, 650, "Submit button"), done(),
                 thought="Fill in the form.")
# Each zoom answer names another pixel of the same widget than the planner's point.
FORM_ZOOMS = ['{"x": 450, "y": 505}', '{"x": 520, "y": 490}', '{"x": 480, "y": 510}']
FORM_PIXELS = [(736 + 202, 100 + 226), (928 + 233, 262 + 220), (736 + 215, 478 + 228)]


@pytest.fixture
def form(display_1920: Display, programs: Any, tmp_path: Path) -> Path:
    result = tmp_path / "form.json"
    park_pointer(display_1920)
    app = programs(display_1920, [sys.executable, str(DEMO_FORM), "--out", str(result)], "demo_form")
    wait_for_window(app, "^tracer demo form$")
    wait_drawn(display_1920)
    return result


def test_each_click_of_a_forecast_gets_its_own_zoom_turn(display_1920: Display, form: Path,
                                                          models: Path) -> None:
    pair = make_tiny_vlm(models / "form", [json.dumps(FORM_PLAN), *FORM_ZOOMS], arch="qwen3vl")
    # every click zoomed: the buttons' texts at the planner's points would place them without
    # a zoom turn (tests/e2e/test_elements_agent.py tests that)
    env = tracer_env(display_1920, TRACER_GROUND_ON_SCREEN="0")
    result = run_tracer("do", "fill in the form", "--yes", "--max-steps", "4", *llama_args(pair),
                        env=env, timeout=400)

    assert result.returncode == 1, result.stderr  # stopped at --max-steps 4, after Submit
    wait_until(form.exists, 10, "the form to write its result")
    assert json.loads(form.read_text()) == {"name": "Ada", "colour": "Green",
                                            "clicks": ["Green", "Submit"]}
    assert pointer(display_1920) == FORM_PIXELS[-1]
    record = last_run(env)
    assert (record["run"]["model_calls"], record["run"]["zoom_calls"]) == (1, 3)
    steps = record["steps"]
    assert [s.get("from_forecast", False) for s in steps] == [False, True, True, True]
    clicks = [s for s in steps if s["action"]["action"] == "click"]
    assert [tuple(s["points"][0]) for s in clicks] == FORM_PIXELS
    zooms = [s["grounding"]["zoom"] for s in clicks]
    assert [z["answer"] for z in zooms] == FORM_ZOOMS
    # each turn continues the last: everything before its own crop comes from the cache
    assert zooms[0]["reused_tokens"] < zooms[1]["reused_tokens"] < zooms[2]["reused_tokens"]
    unchanged = prefix_tokens(pair[0], "fill in the form") + IMAGE_TOKENS
    assert all(z["evaluated_tokens"] < unchanged / 3 for z in zooms), zooms


@pytest.mark.parametrize(("answer", "pixel"), [(ZOOM, ZOOM_PIXEL), (UNREADABLE, PLANNER_PIXEL)])
def test_through_a_server_the_zoom_turn_follows_the_planning_messages(
        display_1920: Display, start_clicklog: Any, chat_server: Any, answer: str,
        pixel: tuple[int, int]) -> None:
    app = start_clicklog(display_1920)
    chat_server.queue(CLICK_PLAN, answer, plan(done("clicked")))
    env = tracer_env(display_1920)
    result = run_tracer("do", TASK, "--yes", "--base-url", chat_server.base_url,
                        "--max-pixels", LOW, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    [press] = app.wait_presses(1)
    assert (press["x"], press["y"]) == pixel
    planning, zoom, again = (r["messages"] for r in chat_server.requests)
    assert zoom[:len(planning)] == planning
    assert zoom[len(planning)] == {"role": "assistant", "content": json.dumps(CLICK_PLAN)}
    assert len(zoom) == len(planning) + 2
    assert image_sizes(chat_server.requests[1]) == [PLANNER_IMAGE, (448, 448)]
    assert image_sizes(chat_server.requests[2]) == [PLANNER_IMAGE]  # the next plan: no crop
    run = last_run(env)["run"]
    assert (run["model_calls"], run["zoom_calls"]) == (2, 1)
    shown = run_tracer("logs", "last", env=env, timeout=60)
    assert "model calls 2 · zoom calls 1 · steps from the forecast 0" in shown.stdout, shown.stdout


def test_a_dedicated_grounder_gets_a_crop_instead_of_a_second_screenshot(
        display_1920: Display, start_clicklog: Any, chat_server: Any) -> None:
    app = start_clicklog(display_1920)
    grounding = "Action: click(point='<point>98 294</point>')"  # pixels of the 392x392 crop
    chat_server.queue(CLICK_PLAN, grounding, plan(done("clicked")))
    env = tracer_env(display_1920)
    result = run_tracer("do", TASK, "--yes", "--base-url", chat_server.base_url,
                        "--max-pixels", LOW, "--grounder", chat_server.base_url,
                        "--grounder-profile", "ui-tars", env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    [press] = app.wait_presses(1)
    assert (press["x"], press["y"]) == (960 - 196 + 98, 486 - 196 + 294)  # UI-TARS's 392 crop
    request = chat_server.requests[1]
    assert image_sizes(request) == [(392, 392)]  # the crop alone, not the whole screen
    assert "the mark" in json.dumps(request) and "Click the mark." not in json.dumps(request)
    step = last_run(env)["steps"][0]
    assert step["grounding"]["zoom"]["box"] == [960 - 196, 486 - 196, 392, 392]
