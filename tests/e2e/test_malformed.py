"""Malformed model answers never reach the mouse or keyboard: each is sent back with the reason,
a bounded number of times, and a run with no valid plan ends with exit 1 and no input event."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import ClickLog, click, done, last_run, plan, pointer, request_text, tracer_env

pytestmark = pytest.mark.display

GARBAGE = "Sure! I would click the OK button, it is at the left of the screen."
WRONG_TYPE = plan(click("left", 500, "OK button"), thought="click OK")  # type: ignore[arg-type]
OUT_OF_RANGE = plan(click(1500, 500, "OK button"), thought="click OK")


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_three_bad_answers_end_the_run_without_any_input(display: Display, clicklog: ClickLog,
                                                         chat_server: Any) -> None:
    chat_server.queue(GARBAGE, WRONG_TYPE, OUT_OF_RANGE)
    env = tracer_env(display)
    before = pointer(display)
    result = run_tracer("do", "press OK", "--yes", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "no valid plan" in one_line(result.stderr)
    assert result.stdout == ""
    assert clicklog.presses() == [] and clicklog.keys() == []
    assert pointer(display) == before

    requests = chat_server.requests
    assert len(requests) == 3
    first, second, third = (request_text(body) for body in requests)
    assert "rejected" not in first
    assert "Your answer was rejected" in second and "no JSON object" in second
    assert "trajectory[0].x" in third and "valid integer" in third
    # each retry carries the model's own bad answer back, then the reason
    assert requests[1]["messages"][-2] == {"role": "assistant", "content": GARBAGE}
    assert len(requests[2]["messages"]) == len(requests[1]["messages"]) + 2

    record = last_run(env)
    assert record["run"]["status"] == "error"
    assert "no valid plan" in record["run"]["reason"]
    [step] = record["steps"]
    assert "action" not in step
    errors = [a["error"] for a in step["attempts"]]
    assert len(errors) == 3 and all(errors)
    assert "less than or equal to 1000" in errors[2]


def test_one_bad_answer_is_retried_and_the_run_succeeds(display: Display, clicklog: ClickLog,
                                                       chat_server: Any) -> None:
    chat_server.queue(OUT_OF_RANGE,
                      plan(click(400, 600, "OK button"), done("pressed")),
                      plan(done("pressed OK")))
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pressed OK"
    assert [(p["x"], p["y"], p["button"]) for p in clicklog.wait_presses(1)] == [(512, 480, 1)]
    assert clicklog.keys() == []

    requests = chat_server.requests
    assert len(requests) == 3
    retry = request_text(requests[1])
    assert "Your answer was rejected" in retry
    assert "trajectory[0].x" in retry and "less than or equal to 1000" in retry
    assert "rejected" not in request_text(requests[2])  # a new step starts a fresh conversation

    record = last_run(env)
    assert record["run"]["status"] == "done"
    first = record["steps"][0]
    assert [bool(a["error"]) for a in first["attempts"]] == [True, False]
    assert first["action"]["action"] == "click" and first["outcome"].startswith("ok")
