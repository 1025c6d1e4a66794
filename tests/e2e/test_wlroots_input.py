"""Input on sway through the real `tracer do`: model points land on the exact pixel (0 px, as
the GTK program reports the press) with one output, at scale 2, on the second of two outputs,
and on a scale-1 output beside a scale-2 one; text arrives exactly, Unicode and ASCII signs.

The layouts change one sway at run time (the session's: it is started once), in this order:
one output, scale 2, back to scale 1 with a second output, then mixed scales; the first output
is left at scale 1 and focused again for the tests that follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_tracer
from tests.e2e.conftest import click, done, last_run, plan
from tests.e2e.sway import App, SwayDesktop, wait_until

pytestmark = pytest.mark.wlroots

# Model points (0..1000) away from the probe's entry (its top 34 layout units) and the corners.
POINTS = [(1, 100), (123, 877), (500, 500), (999, 300), (333, 667), (750, 998), (640, 251)]
UNICODE = "café — 5 € 中文"
ASCII = "Hello, World! 123 ~`!@#$%^&*()-_=+[]{}\\|;:'\",.<>/?"


@pytest.fixture(scope="module")
def layouts(sway: SwayDesktop) -> Iterator[SwayDesktop]:
    """Puts the first output back at scale 1 and focused after the module."""
    yield sway
    assert sway.sway.ipc is not None
    sway.sway.ipc.command("output HEADLESS-1 scale 1")
    sway.sway.ipc.command("focus output HEADLESS-1")


def monitor_rect(env: dict[str, str]) -> tuple[int, int, int, int]:
    """Where tracer says the monitor lies (desktop pixels), from the run record."""
    m = last_run(env)["run"]["monitor"]
    return m["left"], m["top"], m["width"], m["height"]


def click_matrix(sway: SwayDesktop, app: App, chat_server: Any, runtime: Path,
                 monitor: int) -> tuple[int, int, int, int]:
    """`tracer do` clicking every point of POINTS on ``monitor``: asserts each press is on the
    exact pixel; returns the monitor's rectangle of desktop pixels."""
    app.show()
    sway.wait_settled(monitor)
    app.clear()
    for x, y in POINTS:
        chat_server.queue(plan(click(x, y, "the canvas"), done("not yet")))
    chat_server.queue(plan(done("clicked")))
    env = sway.env(runtime)
    result = run_tracer("do", "click the points", "--yes", "-b", "openai", "--base-url",
                        chat_server.base_url, "--no-zoom", "--monitor", str(monitor), env=env,
                        timeout=120)
    assert result.returncode == 0, result.stderr
    chat_server.requests.clear()
    left, top, width, height = monitor_rect(env)
    presses = wait_until(lambda: len(p := app.events("press")) >= len(POINTS) and p, 5,
                         "every press")
    lines, errors = [], []
    for (x, y), press in zip(POINTS, presses, strict=True):
        want = (left + min(round(x * width / 1000), width - 1),
                top + min(round(y * height / 1000), height - 1))
        got = app.to_desktop(press["x"], press["y"])
        error = max(abs(got[0] - want[0]), abs(got[1] - want[1]))
        errors.append(error)
        lines.append(f"({x},{y}) -> pixel {want}: the program got ({press['x']:g},{press['y']:g})"
                     f" = desktop ({got[0]:g},{got[1]:g}), error {error:g} px")
    print(f"\nmonitor {monitor} at {left},{top} {width}x{height}:\n  " + "\n  ".join(lines))
    assert errors == [0] * len(POINTS), lines
    return left, top, width, height


def test_points_land_on_the_exact_pixel_on_one_output(layouts: SwayDesktop, chat_server: Any,
                                                      runtime: Path) -> None:
    app = layouts.probe("matrix-1")
    try:
        click_matrix(layouts, app, chat_server, runtime, 1)
        assert layouts.sway.ipc is not None
        layouts.sway.ipc.command("output HEADLESS-1 scale 2")
        layouts.sway.wait_outputs([(640, 400)])
        wait_until(lambda: app.node()["rect"]["width"] == 640, 5, "the window at scale 2")
        click_matrix(layouts, app, chat_server, runtime, 1)  # 1280x800 pixels, 640x400 units
    finally:
        app.stop()


def test_points_land_on_the_exact_pixel_on_a_second_output(layouts: SwayDesktop,
                                                           chat_server: Any,
                                                           runtime: Path) -> None:
    ipc = layouts.sway.ipc
    assert ipc is not None
    ipc.command("output HEADLESS-1 scale 1")
    if len(layouts.outputs()) == 1:
        ipc.command("create_output")
    ipc.command("output HEADLESS-2 resolution 1024x768 position 1280 0 scale 1")
    layouts.sway.wait_outputs([(1280, 800), (1024, 768)])
    app = layouts.probe("matrix-2", output="HEADLESS-2")
    try:
        click_matrix(layouts, app, chat_server, runtime, 2)
        # mixed scales: the first output at scale 2 leaves a gap in the desktop's pixels
        ipc.command("output HEADLESS-1 scale 2")
        layouts.sway.wait_outputs([(640, 400), (1024, 768)])
        # 1280 layout units times the largest scale
        assert click_matrix(layouts, app, chat_server, runtime, 2) == (2560, 0, 1024, 768)
    finally:
        app.stop()
        ipc.command("output HEADLESS-1 scale 1")
        ipc.command("focus output HEADLESS-1")


@pytest.fixture(scope="module")
def typing_probe(sway: SwayDesktop) -> Iterator[App]:
    app = sway.probe("typing")
    yield app
    app.stop()


def test_typed_text_arrives_exactly(sway: SwayDesktop, typing_probe: App, chat_server: Any,
                                    runtime: Path) -> None:
    app = typing_probe
    app.show()
    sway.wait_settled()
    app.clear()
    chat_server.queue(plan({"action": "type", "text": UNICODE}, done("not yet")),
                      plan({"action": "hotkey", "keys": ["ctrl", "a"]}, done("not yet")),
                      plan({"action": "type", "text": ASCII}, done("not yet")),
                      plan(done("typed")))
    result = run_tracer("do", "type the texts", "--yes", "-b", "openai", "--base-url",
                        chat_server.base_url, env=sway.env(runtime), timeout=90)
    assert result.returncode == 0, result.stderr
    texts = [e["text"] for e in app.events("text")]
    print(f"\nthe entry held: {texts[len(UNICODE) - 1]!r}, then {texts[-1]!r}")
    assert texts[:len(UNICODE)] == [UNICODE[:n] for n in range(1, len(UNICODE) + 1)]
    assert texts[-1] == ASCII
    downs = [e for e in app.events("key") if e["down"]]
    ups = [e for e in app.events("key") if not e["down"]]
    assert len(downs) == len(ups)  # every key let go
