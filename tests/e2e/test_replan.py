"""Adaptive re-planning through the real CLI on a real display: forecast steps run without model
calls while their checks hold, a failed check goes back to the model with the old forecast, and
--replan always asks after every step."""

from __future__ import annotations

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
    request_text,
    tracer_env,
    wait_drawn,
    wait_for_window,
    wait_until,
)

pytestmark = pytest.mark.display

NAME, GREEN, SUBMIT = click(500, 300, "Name field"), click(600, 450, "Green button"), \
    click(500, 650, "Submit button")
TYPE = {"action": "type", "text": "Ada Lovelace"}


@pytest.fixture
def form(display: Display, programs: Any, tmp_path: Path) -> Path:
    """examples/demo_form.py on the 1280x800 display; returns the file it writes on Submit."""
    result = tmp_path / "form.json"
    park_pointer(display)
    app = programs(display, [sys.executable, str(DEMO_FORM), "--out", str(result)], "demo_form")
    wait_for_window(app, "^tracer demo form$")
    wait_drawn(display)  # the widgets are on the screen and it has stopped changing
    return result


def submitted(result: Path) -> dict[str, Any]:
    wait_until(result.exists, 5, "the form to write its result")
    return json.loads(result.read_text())


def test_adaptive_runs_the_forecast_without_model_calls(display: Display, form: Path,
                                                        chat_server: Any) -> None:
    chat_server.queue(plan(NAME, TYPE, GREEN, SUBMIT, done(), thought="Fill in the form."),
                      plan(done("submitted")))
    env = tracer_env(display)
    result = run_tracer("do", "fill in the form", "--yes", "--base-url", chat_server.base_url,
                        env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert submitted(form) == {"name": "Ada Lovelace", "colour": "Green",
                               "clicks": ["Green", "Submit"]}
    assert len(chat_server.requests) == 2  # five steps, two model calls
    assert result.stderr.count("from the forecast, no model call") == 3
    assert "(2 model calls, 3 steps from the forecast)" in result.stderr
    record = last_run(env)
    assert record["run"]["model_calls"] == 2 and record["run"]["forecast_steps"] == 3
    steps = record["steps"]
    assert [s.get("from_forecast", False) for s in steps] == [False, True, True, True, False]
    assert [s["action"]["action"] for s in steps] == ["click", "type", "click", "click", "done"]
    assert "plan" not in steps[1] and steps[1]["check"]["status"] == "ok"
    assert steps[3]["check"]["reason"] == "target still at its point"


def test_a_failed_check_revises_the_plan(display: Display, form: Path, chat_server: Any) -> None:
    # The third step points into the Name field, where the typed text now is: its target no
    # longer looks as it did, so the model is asked again, shown the rest of its old forecast.
    stale = click(450, 300, "Name field, after the text")
    chat_server.queue(plan(NAME, TYPE, stale, GREEN, done()),
                      plan(GREEN, SUBMIT, done(), thought="Name typed; colour and submit."),
                      plan(done("submitted")))
    env = tracer_env(display)
    result = run_tracer("do", "fill in the form", "--yes", "--base-url", chat_server.base_url,
                        env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert submitted(form)["clicks"] == ["Green", "Submit"]
    assert len(chat_server.requests) == 3
    first, second = request_text(chat_server.requests[0]), request_text(chat_server.requests[1])
    assert "previous forecast" not in first
    assert "Your previous forecast went on with:\n- click (450,300) 'Name field, after the text'" \
        "\n- click (600,450) 'Green button'\n- done" in second
    assert "is no longer where it was forecast" in second
    assert "revised: the target of click (450,300)" in result.stderr
    record = last_run(env)
    steps = record["steps"]
    assert [s.get("from_forecast", False) for s in steps] == [False, True, False, True, False]
    assert steps[2]["revision"]["reason"].startswith("the target of click (450,300)")
    assert steps[2]["check"]["status"] == "failed"
    assert (record["run"]["model_calls"], record["run"]["forecast_steps"]) == (3, 2)


def test_always_asks_after_every_step(display: Display, form: Path, chat_server: Any) -> None:
    chat_server.queue(plan(NAME, TYPE, GREEN, SUBMIT, done()), plan(TYPE, GREEN, SUBMIT, done()),
                      plan(GREEN, SUBMIT, done()), plan(SUBMIT, done()), plan(done("submitted")))
    env = tracer_env(display)
    result = run_tracer("do", "fill in the form", "--yes", "--replan", "always", "--base-url",
                        chat_server.base_url, env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert submitted(form)["name"] == "Ada Lovelace"
    assert len(chat_server.requests) == 5
    record = last_run(env)
    assert (record["run"]["model_calls"], record["run"]["forecast_steps"]) == (5, 0)
    assert record["run"]["settings"]["replan"] == "always"
    assert not any(s.get("from_forecast") for s in record["steps"])


@pytest.fixture
def office(display: Display, programs: Any, tmp_path: Path) -> Path:
    """The replan benchmark's Tk app (menus, dialogs) on the display; returns its state file."""
    from tests.conftest import ROOT

    state = tmp_path / "office.json"
    park_pointer(display)
    app = programs(display, [sys.executable, str(ROOT / "tests" / "benchmarks" / "replan_app.py"),
                             str(state)], "replan app")
    wait_for_window(app, "^replan bench$")
    wait_until(state.exists, 10, "the app to write its state")
    wait_drawn(display)
    return state


def test_a_menu_item_that_appears_after_its_menu_opens_runs_by_its_label(
        display: Display, office: Path, chat_server: Any) -> None:
    # The item is not on the screenshot the model planned on: it appears when the menu opens.
    # OCR reads "Save As..." at the forecast's point, so the click runs without a model call;
    # then the dialog's Cancel button, which appeared only after that click, the same way.
    from tests.benchmarks.replan_app import LAYOUT

    def at(name: str, target: str) -> dict[str, Any]:
        return click(LAYOUT[name][0], LAYOUT[name][1], target)

    chat_server.queue(plan(at("menu:File", "File menu"), at("File:Save As...", "Save As... in the File menu"),
                           at("dialog:Cancel", "Cancel button"), done()),
                      plan(done("closed")))
    env = tracer_env(display)
    result = run_tracer("do", "open Save As and cancel it", "--yes", "--base-url",
                        chat_server.base_url, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    state = json.loads(office.read_text())
    assert state["dialog"] is None and state["presses"] == 3
    steps = last_run(env)["steps"]
    assert [s.get("from_forecast", False) for s in steps] == [False, True, True, False]
    assert steps[1]["check"]["reason"].startswith("'Save As")
    assert "read at" in steps[1]["check"]["reason"] and "read at" in steps[2]["check"]["reason"]
    assert len(chat_server.requests) == 2


def test_a_forecast_click_on_the_wrong_menu_item_is_not_read_as_right(
        display: Display, office: Path, chat_server: Any) -> None:
    from tests.benchmarks.replan_app import LAYOUT

    x, y = LAYOUT["File:Save"][:2]  # the point is on "Save", the target says "Save As..."
    chat_server.queue(plan(click(*LAYOUT["menu:File"][:2], "File menu"),
                           click(x, y, "Save As... in the File menu"), done()),
                      plan(done("stopped")))
    env = tracer_env(display)
    result = run_tracer("do", "open Save As", "--yes", "--base-url", chat_server.base_url,
                        env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    steps = last_run(env)["steps"]
    assert [s.get("from_forecast", False) for s in steps] == [False, False]
    assert steps[1]["check"]["status"] in ("failed", "unchecked")
    assert json.loads(office.read_text())["saved_text"] is None  # "Save" was never clicked
