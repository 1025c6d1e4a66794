"""Model points (0..1000 of a downscaled screenshot) land on exactly the right screen pixel, at
two screen sizes, for click, right_click and double_click, as a real X client sees the press."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    click,
    done,
    last_run,
    plan,
    pointer,
    request_image,
    request_image_size,
    tracer_env,
)

pytestmark = pytest.mark.display

MAX_PIXELS = 200_000


def expected(x: int, y: int, width: int, height: int) -> tuple[int, int]:
    return min(round(x * width / 1000), width - 1), min(round(y * height / 1000), height - 1)


@pytest.fixture(params=["display_1280", "display_1920"])
def screen(request: pytest.FixtureRequest) -> Display:
    return request.getfixturevalue(request.param)


def run_clicks(screen: Display, chat_server: Any, start_clicklog: Any,
               steps: list[dict[str, Any]]) -> tuple[Any, Any]:
    """One forecast per step (the step first, then done), then a final done; run tracer."""
    app = start_clicklog(screen)
    for step in steps:
        chat_server.queue(plan(step, done("not yet"), thought=f"{step['action']} next"))
    chat_server.queue(plan(done("clicked them all")))
    env = tracer_env(screen)
    result = run_tracer("do", "click the points", "--yes", "-b", "openai",
                        "--base-url", chat_server.base_url, "--max-pixels", str(MAX_PIXELS),
                        "--no-zoom",  # the planner's own points (tests/e2e/test_zoom.py: a zoom's)
                        env=env, timeout=90)
    return app, result


def expected_presses(steps: list[dict[str, Any]], width: int, height: int) -> list[tuple]:
    presses = []
    for step in steps:
        x, y = expected(step["x"], step["y"], width, height)
        if step["action"] == "click":
            presses.append((x, y, 1))
        elif step["action"] == "right_click":
            presses.append((x, y, 3))
        elif step["action"] == "double_click":
            presses += [(x, y, 1), (x, y, 1)]
    return presses


def check_requests(chat_server: Any, screen: Display, count: int) -> None:
    assert len(chat_server.requests) == count
    for body in chat_server.requests:
        prefix, raw = request_image(body)
        assert prefix == "data:image/png;base64"
        assert raw[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = request_image_size(body)
        assert w < screen.width and h < screen.height, (w, h)
        assert w % 32 == 0 and h % 32 == 0, (w, h)
        assert w * h <= MAX_PIXELS
        # the aspect ratio is kept within the rounding to multiples of 32
        assert abs(w / h - screen.width / screen.height) < 0.15


def test_points_land_on_the_exact_pixel(screen: Display, chat_server: Any,
                                        start_clicklog: Any) -> None:
    steps = [
        click(500, 500, "centre"),
        click(123, 877, "lower left"),
        click(999, 1, "top right edge"),
        click(1, 998, "bottom left edge"),
        click(250, 750, "context menu", action="right_click"),
        click(750, 250, "icon", action="double_click"),
        click(333, 667, "thirds"),
    ]
    app, result = run_clicks(screen, chat_server, start_clicklog, steps)
    assert result.returncode == 0, result.stderr
    assert "clicked them all" in result.stdout

    want = expected_presses(steps, screen.width, screen.height)
    got = [(p["x"], p["y"], p["button"]) for p in app.wait_presses(len(want))]
    assert got == want
    assert app.keys() == []
    check_requests(chat_server, screen, len(steps) + 1)

    record = last_run(tracer_env(screen))
    assert record["run"]["status"] == "done"
    assert record["run"]["monitor"]["width"] == screen.width
    # clicklog does not redraw on a click: the outcome is "ok (no visible effect)"
    acted = [s for s in record["steps"] if s.get("outcome", "").startswith("ok")]
    assert [tuple(s["points"][0]) for s in acted] == [
        expected(s["x"], s["y"], screen.width, screen.height) for s in steps]
    last = steps[-1]
    assert pointer(screen) == expected(last["x"], last["y"], screen.width, screen.height)


def off_corner(point: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """tracer never puts the pointer on a corner pixel itself (that is the user's fail-safe
    gesture): a corner point is clicked one pixel inwards (README, "Stopping")."""
    x, y = point
    if x in (0, width - 1) and y in (0, height - 1):
        return (1 if x == 0 else width - 2), (1 if y == 0 else height - 2)
    return point


def test_corner_points_are_clamped_and_clicked_one_pixel_inwards(
        screen: Display, chat_server: Any, start_clicklog: Any) -> None:
    """(0,0) and (1000,1000) name the first and the last pixel (the latter clamped to W-1, H-1);
    clicking a corner the model chose must not trip the fail-safe."""
    steps = [click(0, 0, "top left corner"), click(500, 500, "centre"),
             click(1000, 1000, "bottom right corner"), click(1000, 0, "top right corner"),
             click(0, 1000, "bottom left corner", action="right_click")]
    app, result = run_clicks(screen, chat_server, start_clicklog, steps)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr

    w, h = screen.width, screen.height
    assert expected(1000, 1000, w, h) == (w - 1, h - 1)
    want = [(*off_corner(expected(s["x"], s["y"], w, h), w, h), 3 if s["action"] == "right_click"
             else 1) for s in steps]
    assert want[0][:2] == (1, 1) and want[2][:2] == (w - 2, h - 2)
    got = [(p["x"], p["y"], p["button"]) for p in app.wait_presses(len(want))]
    assert got == want
    check_requests(chat_server, screen, len(steps) + 1)
    assert last_run(tracer_env(screen))["run"]["status"] == "done"
