"""The executable answers of the real-form corpus (tests/corpus/) through the real loop: each is
served by the OpenAI-compatible test server to the real `tracer do` on an Xvfb, and the first
press (a click, a drag's start, a scroll's wheel at its point) lands on exactly the pixel the
answer names. An entry of two answers (a hover or a move, then the action it prepares) is
served as two answers, and its press lands where the first one pointed.

Relative families (0..1000 of the screenshot: Qwen3-VL, GUI-Owl-1.5, UI-Venus-1.5, UI-TARS v1)
run at 1920x1080 and 1366x768. UI-TARS-1.5 answers name pixels of a 1932x1092 image (a
1920x1080 screenshot after its processor): only that screen makes it, and tracer is given a
budget that makes it send that very size (``--max-pixels``), as a user would to run UI-TARS at
its native resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chat_server import Reply
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import last_run, request_image_size, tracer_env
from tests.e2e.test_native_pixels import native_done
from tests.test_corpus import FILES, unsupported
from tracer_cli.agent.profiles import PROFILES

pytestmark = pytest.mark.display

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
BUTTONS = {"click": 1, "double_click": 1, "right_click": 3, "drag": 1}
WHEEL = {"up": 4, "down": 5}
TARS_FRAME = (1932, 1092)
SCREENS = ["display_1920", "display_1366"]


def done_answer(profile: str) -> str:
    """An answer that ends the task, as the family writes it."""
    if profile == "gui-owl":
        call = json.dumps({"name": "computer_use", "arguments": {"action": "answer", "text": "clicked"}})
        return f"Action: Report it.\n<tool_call>\n{call}\n</tool_call>"
    if profile == "ui-venus":
        return ("<think>The mark is clicked.</think>\n<action>Finished(content='clicked')</action>\n"
                "<conclusion>Done.</conclusion>")
    return native_done("ui-tars" if profile.startswith("ui-tars") else profile)


def pressed(expect: list[dict[str, Any]]) -> tuple[dict[str, Any], list[float], int] | None:
    """The first action that presses a button, the point it presses at and the button: a
    click's point, a drag's start (or the cursor a move left), a scroll's point (wheel)."""
    cursor = None
    for want in expect:
        action = want["action"]
        if action == "move":
            cursor = want["point"]
            continue
        if action == "drag":
            start = want.get("start", cursor)
            return (want, start, BUTTONS["drag"]) if start else None
        if action in BUTTONS and "point" in want:
            return want, want["point"], BUTTONS[action]
        if action == "scroll" and "point" in want:
            return want, want["point"], WHEEL[want["direction"]]
        return None
    return None


def executable() -> list[Any]:
    params = []
    for name, family in FILES.items():
        for entry in yaml.safe_load((CORPUS / name).read_text(encoding="utf-8")):
            expect = entry.get("expect") or []
            if entry.get("reject") or entry.get("cut_off") or unsupported(entry) or not expect:
                continue
            first = pressed(expect)
            if first is None:
                continue
            profile = family
            if family == "ui-tars" and "v1" in entry.get("note", ""):
                profile = "ui-tars-v1"
            absolute = PROFILES.get(profile).geometry.coordinates == "absolute"
            if absolute and tuple(entry.get("image") or TARS_FRAME) != TARS_FRAME:
                continue  # a parser test on another frame: no screen makes that image
            for screen in SCREENS[:1] if absolute else SCREENS:
                params.append(pytest.param(profile, entry, first, screen,
                                           id=f"{entry['id']}-{screen.removeprefix('display_')}"))
    return params


def named_pixel(profile: str, point: list[float], display: Display) -> tuple[int, int]:
    """The screen pixel an answer's point names: its share of the space the family's numbers
    are in (0..1000 for a relative family, the processed image for an absolute one)."""
    w, h = display.width, display.height
    geometry = PROFILES.get(profile).geometry
    fw, fh = (1000, 1000) if geometry.coordinates == "relative" else TARS_FRAME
    return min(round(point[0] * w / fw), w - 1), min(round(point[1] * h / fh), h - 1)


@pytest.mark.parametrize(("profile", "entry", "first", "screen"), executable())
def test_a_corpus_answer_presses_the_pixel_it_names(profile: str, entry: dict[str, Any],
                                                    first: tuple[dict[str, Any], list[float], int],
                                                    screen: str, request: pytest.FixtureRequest,
                                                    chat_server: Any, start_clicklog: Any) -> None:
    display: Display = request.getfixturevalue(screen)
    want_step, point, button = first
    app = start_clicklog(display)
    answer: Any = entry["answer"]
    if entry.get("reasoning"):  # the server returned the reasoning apart
        answer = Reply(entry["answer"], {"reasoning_content": entry["reasoning"]})
    done = done_answer(profile)
    answers = [answer, entry["next_answer"]] if entry.get("next_answer") else [answer]
    chat_server.queue(*answers, done, done)
    env = tracer_env(display)
    absolute = PROFILES.get(profile).geometry.coordinates == "absolute"
    budget = ["--max-pixels", str(TARS_FRAME[0] * TARS_FRAME[1])] if absolute else []
    result = run_tracer("do", "the corpus task", "--yes", "--base-url", chat_server.base_url,
                        "--profile", profile, "--replan", "always", *budget, env=env, timeout=90)

    assert "Traceback" not in result.stderr, result.stderr
    if absolute:
        assert request_image_size(chat_server.requests[0]) == TARS_FRAME
    want = named_pixel(profile, point, display)
    presses = app.wait_presses(2 if want_step["action"] == "double_click" else 1)
    assert presses, result.stderr
    assert (presses[0]["x"], presses[0]["y"]) == want, (entry["id"], result.stderr)
    assert presses[0]["button"] == button
    step = last_run(env)["steps"][0]
    assert step["action"]["action"] == want_step["action"]
    assert step["points"][0] == list(want)
