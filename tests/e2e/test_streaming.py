"""Acting while the forecast streams, through the real `tracer do` on Xvfb: an OpenAI-compatible
server sends a forecast's first step and holds the rest; the click lands on the clicklog program
while the server still holds it. With the connection cut after the first step, that step ran and
the next plan is asked anew, without a traceback."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.chat_server import Reply
from tests.conftest import Display
from tests.e2e.conftest import ClickLog, done, last_run, plan, tracer_env

pytestmark = pytest.mark.display

FIRST = ('{"thought": "click the spot", "trajectory": [{"action": "click", "x": 250, "y": 250, '
         '"target": "the spot"}')
REST = ', {"action": "type", "text": "later"}, {"action": "done"}]}'


def test_the_click_lands_while_the_server_still_holds_the_rest(
        display_1280: Display, chat_server: Any, clicklogs: Callable[[Display], ClickLog],
        background_tracer: Callable[..., Any]) -> None:
    app = clicklogs(display_1280)
    before = len(app.presses())
    hold = threading.Event()
    reply = Reply(FIRST + REST, piece=len(FIRST), hold_after=1, hold=hold)
    chat_server.queue(reply, plan(done()))
    env = tracer_env(display_1280)
    proc = background_tracer("do", "click the spot", "--yes", "--base-url", chat_server.base_url,
                             env=env)
    try:
        presses = app.wait_presses(1, timeout=60, since=before)
        still_held = reply.held
    finally:
        hold.set()  # the rest of the answer goes out now
    out, err = proc.communicate(timeout=90)
    assert presses, err
    assert still_held  # the click came before the server sent the rest
    assert proc.returncode == 0, err
    step = last_run(env)["steps"][0]
    assert step["streamed"] is True and step["first_input_ms"] >= 0
    assert len(step["plan"]["trajectory"]) == 3  # the whole forecast, read when it ended
    assert not step["attempts"][0].get("error")


def test_a_stream_cut_after_the_first_step_keeps_it_and_asks_anew(
        display_1280: Display, chat_server: Any, clicklogs: Callable[[Display], ClickLog],
        background_tracer: Callable[..., Any]) -> None:
    app = clicklogs(display_1280)
    before = len(app.presses())
    hold = threading.Event()
    chat_server.queue(Reply(FIRST + REST, piece=len(FIRST), hold_after=1, hold=hold, cut_after=1),
                      plan(done()))
    env = tracer_env(display_1280)
    proc = background_tracer("do", "click the spot", "--yes", "--base-url", chat_server.base_url,
                             env=env)
    try:
        presses = app.wait_presses(1, timeout=60, since=before)
    finally:
        hold.set()  # and then the connection is cut
    out, err = proc.communicate(timeout=90)
    assert "Traceback" not in err, err
    assert len(presses) == 1, err
    assert proc.returncode == 0, err
    steps = last_run(env)["steps"]
    assert steps[0]["streamed"] is True and "lost" in steps[0]["rest"]
    assert steps[0]["outcome"].startswith("ok")
    assert len(chat_server.requests) == 2  # the next plan, asked on the new screen
