"""What counts as a visible effect, and what still matches as a target, on real programs of
three toolkits (Tk, GTK 3, a page in Chromium) driven by real X input (xdotool): a checkbox or
radio button ticked by a click on its label far from the box, one typed character and a moved
caret are visible effects; a click on nothing is not; a focus ring leaving a widget does not
make the widget's patch fail to match."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Display, Program, run_tracer
from tests.e2e.conftest import grab, last_run, park_pointer, tracer_env, xdotool
from tests.e2e.toolkit_forms import TOOLKITS, Form, start_form
from tracer_cli.agent.effects import compare
from tracer_cli.agent.profiles.geometry import QWEN3_VL
from tracer_cli.agent.speculate import MATCH, find_anchor
from tracer_cli.desktop.screen import downscale

pytestmark = pytest.mark.display


@pytest.fixture(params=TOOLKITS)
def form(request: pytest.FixtureRequest, display: Display, programs: Callable[..., Program],
         tmp_path: Path) -> Form:
    park_pointer(display)
    return start_form(request.param, display, programs, tmp_path)


def seen(display: Display) -> Image.Image:
    """The screen once settled, at the size the model sees (and the checks compare)."""
    image = grab(display)
    return downscale(image, QWEN3_VL.size(*image.size))


def model_point(display: Display, x: int, y: int) -> tuple[int, int]:
    return round(x * 1000 / display.width), round(y * 1000 / display.height)


def click(display: Display, x: int, y: int) -> None:
    xdotool(display, "mousemove", str(x), str(y), "click", "1")


def label_end(form: Form, name: str) -> tuple[int, int]:
    """A point on the far end of a check or radio button's label, away from its box."""
    x, y, w, h = form.box(name)
    return x + w - 12, y + h // 2


def test_a_tick_by_a_click_on_the_label_is_visible(display: Display, form: Form) -> None:
    before = seen(display)
    x, y = label_end(form, "agree")
    assert x - form.box("agree")[0] > 100  # the box is over 100 px from the click
    click(display, x, y)
    form.wait(lambda s: s["agree"] is True, "the box ticked")
    effect = compare(before, seen(display), model_point(display, x, y))
    assert effect.visible, effect


def test_a_radio_tick_by_its_label_is_visible(display: Display, form: Form) -> None:
    before = seen(display)
    x, y = label_end(form, "large")
    click(display, x, y)
    form.wait(lambda s: s["size"] == "large", "Large chosen")
    effect = compare(before, seen(display), model_point(display, x, y))
    assert effect.visible, effect


def focus_name_at_end(display: Display, form: Form) -> None:
    x, y, w, h = form.box("name")
    click(display, x + w - 20, y + h // 2)
    form.wait(lambda s: s["focus"] == "name", "the name field focused")
    xdotool(display, "key", "End")


def test_one_typed_character_is_visible(display: Display, form: Form) -> None:
    focus_name_at_end(display, form)
    before = seen(display)
    xdotool(display, "type", ".")
    form.wait(lambda s: s["name"] == "Grace Hopper.", "the character typed")
    effect = compare(before, seen(display))  # keys: no point, anywhere counts
    assert effect.visible, effect


def test_a_moved_caret_is_visible(display: Display, form: Form) -> None:
    focus_name_at_end(display, form)
    before = seen(display)
    for _ in range(5):  # over a blink's period: a caret that blinks would pass on a blink
        time.sleep(0.25)
        assert not compare(before, seen(display)).visible, "the caret blinks"
    xdotool(display, "key", "Left")
    effect = compare(before, seen(display))
    assert effect.visible, effect
    assert form.state()["name"] == "Grace Hopper"  # only the caret moved


def test_a_click_on_nothing_is_not_visible(display: Display, form: Form) -> None:
    x, y, _, h = form.box("order")
    x, y = x + 60, y + h + 120  # empty window background below the form
    click(display, x, y)  # the pointer's first move there is not what is compared
    before = seen(display)
    click(display, x, y)
    effect = compare(before, seen(display), model_point(display, x, y))
    assert not effect.visible, effect


def test_a_focus_ring_leaving_a_widget_does_not_lose_it(display: Display, form: Form) -> None:
    # Keyboard focus shows a focus ring in every toolkit: Tab until the checkbox has it.
    focus_name_at_end(display, form)
    for _ in range(8):
        focus = form.state()["focus"]
        if focus == "agree":
            break
        xdotool(display, "key", "Tab")
        form.wait(lambda s, was=focus: s["focus"] != was, f"the focus to leave {focus}", timeout=5)
    assert form.state()["focus"] == "agree"
    x, y, w, h = form.box("agree")
    point = model_point(display, x + 14, y + h // 2)  # the box and the label's first letters
    ringed = seen(display)
    xdotool(display, "key", "Tab")
    form.wait(lambda s: s["focus"] != "agree", "the focus to move on")
    after = seen(display)
    assert compare(ringed, after, point).pixels > 0  # the ring really went
    found, score, shift = find_anchor(ringed, after, point)
    assert found == "found" and score >= MATCH and shift == (0, 0), (found, score)


def test_after_a_tick_by_its_label_the_forecast_goes_on(display: Display, form: Form,
                                                        chat_server: Any) -> None:
    # Through the real loop: the tick is the click's visible effect, so the next forecast step
    # (the Order button) runs without a model call instead of being refused.
    x, y = label_end(form, "agree")
    ox, oy, ow, oh = form.box("order")
    tick = {"action": "click", "x": model_point(display, x, y)[0], "y": model_point(display, x, y)[1],
            "target": "the newsletter checkbox's label"}
    order = {"action": "click", "x": model_point(display, ox + ow // 2, oy + oh // 2)[0],
             "y": model_point(display, ox + ow // 2, oy + oh // 2)[1], "target": "Order button"}
    chat_server.queue({"thought": "", "trajectory": [tick, order, {"action": "done"}]},
                      {"thought": "", "trajectory": [{"action": "done"}]})
    env = tracer_env(display)
    result = run_tracer("do", "subscribe and order", "--yes", "--base-url", chat_server.base_url,
                        env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert form.state()["agree"] is True
    steps = last_run(env)["steps"]
    assert steps[0]["visible"] is True
    assert [s.get("from_forecast", False) for s in steps] == [False, True, False]
