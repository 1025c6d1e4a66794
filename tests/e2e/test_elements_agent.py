"""The accessibility tree in the agent's loop, through the real `tracer do` (scripted model) on
a GTK 3 calculator with a real accessibility bus: a forecast click whose target moved away is
sent back to the model naming what is under its point now; a click whose only effect is a state
the tree reports (a flat button taking the focus) counts as an effect, so the next forecast step
runs without a model call, where pixels alone see nothing; forecast typing runs only while the
keyboard focus is on the element the click before it acted on, and goes back to the model
naming the element that has it instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import A11yBus, start_calc
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import click, done, last_run, park_pointer, plan, run_dir, tracer_env
from tests.programs import LoggedProgram
from tracer_cli.desktop.platforms.atspi import AtspiElements

pytestmark = pytest.mark.display


@pytest.fixture
def calc(a11y_bus: A11yBus, tmp_path: Path) -> Iterator[LoggedProgram]:
    app = start_calc(a11y_bus, tmp_path / "calc.jsonl", "agent calc", (100, 100))
    yield app
    app.stop()


def centre(bus: A11yBus, name: str, display: Display) -> tuple[int, int]:
    """A button's (the entry's: "Display") centre in the model's 0..1000 coordinates."""
    from tests.programs import wait_until

    role = "text" if name == "Display" else "push button"
    reader = AtspiElements(bus.address())
    try:
        (button,) = wait_until(lambda: reader.find(role, name), 20, f"{role} {name}")
    finally:
        reader.close()
    x, y = button.center
    return round(x * 1000 / display.width), round(y * 1000 / display.height)


def run(env: dict[str, str], tmp_path: Path, *plans: dict[str, Any],
        extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    script = tmp_path / "plan.jsonl"
    script.write_text("".join(json.dumps(p) + "\n" for p in plans), encoding="utf-8")
    ran = run_tracer("do", "use the calculator", "--backend", "script", "--script", str(script),
                     "--yes", "--replan", "adaptive", *extra, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    return [json.loads(x) for x in (run_dir(env) / "steps.jsonl").read_text().splitlines()]


def test_a_forecast_click_on_another_element_goes_back_named(a11y_bus: A11yBus,
                                                             a11y_screen: Display,
                                                             calc: LoggedProgram,
                                                             tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    clear, plus = centre(a11y_bus, "C", a11y_screen), centre(a11y_bus, "+", a11y_screen)
    env = tracer_env(a11y_screen, **a11y_bus.env())
    # "C" turns the row "1 2 3 +" around: the forecast's "+" is then under "1".
    lines = run(env, tmp_path, plan(click(*clear, "C"), click(*plus, "+")), plan(done()))
    assert [e["label"] for e in calc.events("button")] == ["C"]
    checks = [line["check"] for line in lines if "check" in line]
    assert checks[0]["status"] == "failed"
    assert "is now on push button '1' (it was on push button '+' when forecast)" in \
        checks[0]["reason"]
    assert lines[0]["element"]["name"] == "C"


def test_a_state_only_the_tree_sees_is_an_effect(a11y_bus: A11yBus, a11y_screen: Display,
                                                 calc: LoggedProgram, tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    quiet, one = centre(a11y_bus, "Quiet", a11y_screen), centre(a11y_bus, "1", a11y_screen)
    forecast = plan(click(*quiet, "Quiet"), click(*one, "1"))
    env = tracer_env(a11y_screen, **a11y_bus.env())
    lines = run(env, tmp_path, forecast, plan(done()))
    assert lines[0]["effect"]["state"] == "push button 'Quiet': focused"
    assert lines[0]["effect"]["pixels"] < 3  # the pixels alone saw no effect
    assert lines[1].get("from_forecast") is True  # no model call for the next step
    assert [e["label"] for e in calc.events("button")] == ["Quiet", "1"]


def test_forecast_typing_runs_where_the_click_put_the_focus(a11y_bus: A11yBus,
                                                            a11y_screen: Display,
                                                            calc: LoggedProgram,
                                                            tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    entry = centre(a11y_bus, "Display", a11y_screen)
    env = tracer_env(a11y_screen, **a11y_bus.env())
    lines = run(env, tmp_path, plan(click(*entry, "the display"),
                                    {"action": "type", "text": "12"}), plan(done()))
    assert lines[1].get("from_forecast") is True, lines[1].get("check")
    assert "the keyboard focus is on text 'Display'" in lines[1]["check"]["reason"]
    assert lines[1]["element"]["name"] == "Display"  # where the keys went, in steps.jsonl
    assert calc.events("text")[-1]["text"] == "12"
    reported = run_tracer("logs", "report", "last", env=env, timeout=60)
    assert reported.returncode == 0, reported.stderr
    page = Path(reported.stdout.strip()).read_text(encoding="utf-8")
    assert page.count("<dt>element</dt><dd>text &#39;Display&#39;</dd>") == 2  # clicked, typed into


def test_forecast_typing_goes_back_when_another_element_has_the_focus(a11y_bus: A11yBus,
                                                                      a11y_screen: Display,
                                                                      calc: LoggedProgram,
                                                                      tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    recall = centre(a11y_bus, "MR", a11y_screen)
    env = tracer_env(a11y_screen, **a11y_bus.env())
    # "MR" hands the focus to "=": the typing the forecast meant for what it clicked would go there.
    lines = run(env, tmp_path, plan(click(*recall, "MR"), {"action": "type", "text": "12"}),
                plan(done()))
    check = lines[1]["check"]
    assert check["status"] == "failed"
    assert check["reason"].startswith(
        "the keyboard focus is on push button '=', not on push button 'MR'"), check
    assert lines[1]["action"]["action"] == "done"  # the model was asked, and nothing was typed
    assert not calc.events("text")


def test_plan_names_the_element_each_step_would_hit(a11y_bus: A11yBus, a11y_screen: Display,
                                                    calc: LoggedProgram, tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    clear, entry = centre(a11y_bus, "C", a11y_screen), centre(a11y_bus, "Display", a11y_screen)
    forecast = plan(click(*clear, "C"), click(*entry, "the display"),
                    {"action": "type", "text": "12"}, {"action": "hotkey", "keys": ["tab"]},
                    {"action": "type", "text": "3"})
    script = tmp_path / "plan.jsonl"
    script.write_text(json.dumps(forecast) + "\n", encoding="utf-8")
    env = tracer_env(a11y_screen, **{**a11y_bus.env(), "COLUMNS": "220"})
    args = ("plan", "use the calculator", "--backend", "script", "--script", str(script))

    printed = run_tracer(*args, "--json", env=env, timeout=60)
    assert printed.returncode == 0, printed.stderr
    steps = json.loads(printed.stdout)["trajectory"]
    hits = [(s["element"]["role"], s["element"]["name"], s["element"]["by"]) if "element" in s
            else None for s in steps]
    assert hits == [("push button", "C", "point"), ("text", "Display", "point"),
                    ("text", "Display", "focus"), ("text", "Display", "focus"),
                    None]  # after a Tab, where the focus goes is not foretold
    (line,) = [json.loads(x) for x in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    assert [e and e["name"] for e in line["elements"]] == ["C", "Display", "Display", "Display",
                                                           None]
    assert not calc.events("button")  # a dry run: nothing pressed
    reported = run_tracer("logs", "report", "last", env=env, timeout=60)
    assert reported.returncode == 0, reported.stderr
    page = Path(reported.stdout.strip()).read_text(encoding="utf-8")
    assert "<li>1. push button &#39;C&#39;</li>" in page
    assert "<li>3. text &#39;Display&#39; (keyboard focus)</li>" in page

    table = run_tracer(*args, env=env, timeout=60)
    assert table.returncode == 0, table.stderr
    assert "push button 'C'" in table.stdout and "text 'Display' (keyboard focus)" in table.stdout

    streamed = run_tracer(*args, "--events", "jsonl", env=env, timeout=60)
    assert streamed.returncode == 0, streamed.stderr
    (event,) = [e for e in map(json.loads, streamed.stdout.splitlines()) if e["event"] == "step"]
    assert event["elements"][0]["name"] == "C"


def test_a_click_the_screen_shows_at_its_point_needs_no_zoom_turn(a11y_bus: A11yBus,
                                                                a11y_screen: Display,
                                                                calc: LoggedProgram,
                                                                tmp_path: Path) -> None:
    """With a planner's image under the grounding minimum every click gets a zoom turn, unless
    the screen shows its target at the planner's point: the tree's element there (with the
    bus), else the target's text read there (the same program, no bus): no zoom turn, and the
    click lands on the element's centre (or where it pointed, on the text). (A zoom turn here
    would be answered by the script's next line, a "done" that holds no point.)"""
    park_pointer(a11y_screen)
    x, y = centre(a11y_bus, "Quiet", a11y_screen)
    off = (x + 5, y + 1)  # a few pixels off the centre, as a coarse planner points
    with_tree = tracer_env(a11y_screen, **a11y_bus.env())
    without = {k: v for k, v in tracer_env(a11y_screen).items()
               if k not in ("AT_SPI_BUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS")}
    for env, by in ((with_tree, "element"), (without, "text")):
        lines = run(env, tmp_path, plan(click(*off, "the Quiet button")), plan(done()),
                    extra=("--max-pixels", "150000", "--zoom", "--replan", "always"))
        grounding = lines[0]["grounding"]
        assert grounding["by"] == by and "zoom" not in grounding, grounding
        want = (x, y) if by == "element" else off
        assert abs(grounding["point"][0] - want[0]) <= 1 and abs(grounding["point"][1] - want[1]) <= 1
        assert not last_run(env)["run"].get("zoom_calls")
    assert [e["label"] for e in calc.events("button")] == ["Quiet", "Quiet"]
