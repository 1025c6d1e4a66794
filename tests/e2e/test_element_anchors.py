"""Macro targets by element, through the real `tracer run` on Xvfb with a real accessibility
bus: `element: {role: push button, name: "+"}` clicks the calculator's "+" and never "M+",
after the window moved and with a larger font (the pixels differ, the elements do not), and
the run record says it found it by element; without a tree a one-character text target is
exact or refused, never a near miss; Tk, which exposes no tree, runs on its text as before;
wait_for and assert name elements too (with a state or the text they hold), and without a tree
such a condition fails at once, saying why."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import A11yBus, start_calc
from tests.conftest import APPS, Display, run_tracer
from tests.e2e.conftest import last_run, park_pointer, run_dir, tracer_env, xdotool
from tests.programs import LoggedProgram, stop_program, wait_until

pytestmark = pytest.mark.display

PLUS = """\
- click:
    element: {role: push button, name: "+", window: "%s"}
"""


@pytest.fixture(scope="module")
def calc(a11y_bus: A11yBus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedProgram]:
    app = start_calc(a11y_bus, tmp_path_factory.mktemp("calc") / "calc.jsonl", "calc", (800, 100))
    yield app
    app.stop()


def button_centres(bus: A11yBus, *names: str) -> dict[str, tuple[int, int]]:
    """Where the calculator's push buttons of these names are, as its tree says."""
    from tracer_cli.desktop.platforms.atspi import AtspiElements

    reader = AtspiElements(bus.address())
    try:
        return {name: reader.find("push button", name)[0].center for name in names}
    finally:
        reader.close()


def run_macro(env: dict[str, str], folder: Path, text: str, name: str = "m.yaml") -> Any:
    env = {**env, "TRACER_OCR": "tesseract"}  # (starts in a fraction of the time rapidocr takes)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return run_tracer("run", str(path), "--yes", env=env, timeout=120)


def pressed(app: LoggedProgram, count: int) -> list[str]:
    wait_until(lambda: len(app.events("button")) >= count, 15, f"{count} button presses")
    return [e["label"] for e in app.events("button")]


def found(env: dict[str, str]) -> list[dict[str, Any]]:
    lines = (run_dir(env) / "steps.jsonl").read_text().splitlines()
    return [f for line in lines for f in json.loads(line).get("found", [])]


def test_an_element_anchor_clicks_plus_never_m_plus(a11y_bus: A11yBus, a11y_screen: Display,
                                                   calc: LoggedProgram, tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    calc.clear()
    env = tracer_env(a11y_screen, **a11y_bus.env())
    done = run_macro(env, tmp_path, PLUS % "calc")
    assert done.returncode == 0, done.stderr
    assert pressed(calc, 1) == ["+"]
    (where,) = found(env)
    assert where["by"] == "element"
    assert where["element"] == {"role": "push button", "name": "+", "window": "calc",
                                "app": "gtk_calc.py", "states": ["sensitive"]}
    assert last_run(env)["run"]["status"] == "done"


def test_it_still_clicks_plus_after_the_window_moved(a11y_bus: A11yBus, a11y_screen: Display,
                                                     calc: LoggedProgram, tmp_path: Path) -> None:
    wid = xdotool(a11y_screen, "search", "--name", "^calc$").split()[-1]
    xdotool(a11y_screen, "windowmove", wid, "500", "380")
    wait_until(lambda: "X=500" in xdotool(a11y_screen, "getwindowgeometry", "--shell", wid),
               10, "the window moved")
    calc.clear()
    env = tracer_env(a11y_screen, **a11y_bus.env())
    done = run_macro(env, tmp_path, PLUS % "calc")
    assert done.returncode == 0, done.stderr
    assert pressed(calc, 1) == ["+"]
    (where,) = found(env)
    assert where["box"][1] >= 380  # found where the window is now


def test_a_larger_font_changes_pixels_not_elements(a11y_bus: A11yBus, a11y_screen: Display,
                                                   tmp_path: Path) -> None:
    config = tmp_path / "config" / "gtk-3.0"
    config.mkdir(parents=True)
    (config / "settings.ini").write_text("[Settings]\ngtk-font-name = DejaVu Sans 40\n")
    big = start_calc(a11y_bus, tmp_path / "big.jsonl", "big calc", (20, 420),
                     XDG_CONFIG_HOME=str(tmp_path / "config"))
    try:
        env = tracer_env(a11y_screen, **a11y_bus.env())
        done = run_macro(env, tmp_path, PLUS % "big calc")
        assert done.returncode == 0, done.stderr
        assert pressed(big, 1) == ["+"]
        (where,) = found(env)
        left, top, right, bottom = where["box"]
        assert bottom - top > 55  # the 40-point font made the button taller than the default (49)
    finally:
        big.stop()


def test_without_a_tree_a_short_text_is_exact_or_refused(a11y_screen: Display,
                                                         calc: LoggedProgram,
                                                         tmp_path: Path) -> None:
    calc.clear()
    env = tracer_env(a11y_screen)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    done = run_macro(env, tmp_path, '- click: {text: "+"}\n  timeout: 1\n')
    labels = [e["label"] for e in calc.events("button")]
    assert "M+" not in labels
    if done.returncode == 0:  # (Tesseract here reads no lone "+": the run is refused)
        assert labels == ["+"]
        assert found(env)[0]["by"] == "text"
    else:
        assert labels == []
        assert "text '+'" in done.stderr and "Traceback" not in done.stderr


def test_tk_runs_on_its_text_as_before(a11y_bus: A11yBus, a11y_screen: Display,
                                       tmp_path: Path) -> None:
    state = tmp_path / "tk.json"
    proc = __import__("subprocess").Popen(
        [sys.executable, str(APPS / "tk_form.py"), str(state)], env=a11y_bus.env())
    try:
        wait_until(lambda: state.exists() and state.read_text(), 30, "tk_form's state")
        env = tracer_env(a11y_screen, **a11y_bus.env())
        done = run_macro(env, tmp_path, """\
- click:
    element: {role: check box, name: Send me the monthly newsletter and product news}
    text: monthly newsletter
- wait_for: {element: {role: label, name: Order a T-shirt}, text: Order a T-shirt}
""")
        assert done.returncode == 0, done.stderr
        wait_until(lambda: json.loads(state.read_text())["agree"] is True, 10, "the box ticked")
        assert [f["by"] for f in found(env)] == ["text", "text"]  # the condition's too
    finally:
        stop_program(proc)


def test_a_recorded_macro_keeps_the_element_of_each_click(a11y_bus: A11yBus,
                                                          a11y_screen: Display,
                                                          calc: LoggedProgram,
                                                          tmp_path: Path) -> None:
    from tests.conftest import ROOT
    from tracer_cli.macro.load import load

    centers = button_centres(a11y_bus, "+", "1")
    out = tmp_path / "calc.yaml"
    log = tmp_path / "record.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracer_cli", "record", str(out)],
            env=a11y_bus.env(TRACER_OCR="tesseract"),
            cwd=ROOT, stdout=sink, stderr=sink)
    try:
        wait_until(lambda: "recording monitor" in log.read_text() or proc.poll() is not None, 30,
                   "the recorder armed")
        calc.clear()
        for count, name in enumerate(("1", "+"), 1):
            xdotool(a11y_screen, "mousemove", *map(str, centers[name]), "click", "1")
            pressed(calc, count)
        xdotool(a11y_screen, "key", "ctrl+alt+shift+k")
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        stop_program(proc)
    clicks = [node.step.click for node in load(out).steps]  # type: ignore[attr-defined]
    assert [(c.element.role, c.element.name, c.element.window) for c in clicks] == \
        [("push button", "1", None), ("push button", "+", None)]
    assert all(c.point is not None for c in clicks)
    calc.clear()
    env = tracer_env(a11y_screen, **a11y_bus.env())
    done = run_tracer("run", str(out), "--yes", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert pressed(calc, 2) == ["1", "+"]
    assert [f["by"] for f in found(env)] == ["element", "element"]


def test_an_exported_run_keeps_the_element_of_each_click(a11y_bus: A11yBus,
                                                         a11y_screen: Display,
                                                         calc: LoggedProgram,
                                                         tmp_path: Path) -> None:
    from tests.e2e.conftest import click, done, plan
    from tracer_cli.macro.load import load

    x, y = button_centres(a11y_bus, "+")["+"]
    point = (round(x * 1000 / a11y_screen.width), round(y * 1000 / a11y_screen.height))
    script = tmp_path / "plan.jsonl"
    script.write_text(json.dumps(plan(click(*point, "+ button"))) + "\n"
                      + json.dumps(plan(done("pressed"))) + "\n", encoding="utf-8")
    calc.clear()
    env = tracer_env(a11y_screen, **a11y_bus.env(TRACER_OCR="tesseract"))
    ran = run_tracer("do", "press plus", "--backend", "script", "--script", str(script), "--yes",
                     env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert pressed(calc, 1) == ["+"]
    line = json.loads((run_dir(env) / "steps.jsonl").read_text().splitlines()[0])
    assert line["element"]["role"] == "push button" and line["element"]["name"] == "+"
    out = tmp_path / "plus.yaml"
    exported = run_tracer("logs", "export-macro", "last", str(out), env=env, timeout=180)
    assert exported.returncode == 0, exported.stderr
    (node,) = load(out).steps
    element = node.step.click.element  # type: ignore[attr-defined]
    assert (element.role, element.name, element.window) == ("push button", "+", None)
    calc.clear()
    replay = run_tracer("run", str(out), "--yes", env=env, timeout=120)
    assert replay.returncode == 0, replay.stderr
    assert pressed(calc, 1) == ["+"]
    assert found(env)[0]["by"] == "element"


ENTERED = """\
- click: {element: {role: push button, name: C, window: calc}}
- click: {element: {role: push button, name: "1", window: calc}}
- click: {element: {role: push button, name: "2", window: calc}}
- wait_for: {element: {role: text, name: Display, window: calc, text: "12"}}
- assert: {element: {role: push button, name: "+", window: calc, state: sensitive}}
- assert: {element: {role: push button, name: "M+", window: calc, state: not focused}}
- wait_for: {element: {role: push button, name: "M*", window: calc}, gone: true}
- assert:
    element: {role: text, name: Display, window: calc, text: "99"}
    message: the display does not show 99
"""


def test_wait_for_and_assert_name_elements(a11y_bus: A11yBus, a11y_screen: Display,
                                           calc: LoggedProgram, tmp_path: Path) -> None:
    park_pointer(a11y_screen)
    calc.clear()
    env = tracer_env(a11y_screen, **{**a11y_bus.env(), "COLUMNS": "200", "TRACER_OCR": "tesseract"})
    (tmp_path / "m.yaml").write_text(ENTERED, encoding="utf-8")
    dry = run_tracer("run", str(tmp_path / "m.yaml"), "--dry-run", env=env, timeout=60)
    assert dry.returncode == 0, dry.stderr
    (plus,) = [row for row in dry.stdout.splitlines() if "'+' in 'calc' sensitive" in row]
    assert "on the screen now" in plus and "not on" not in plus  # the dry run checks it too
    ran = run_macro(env, tmp_path, ENTERED)
    assert ran.returncode == 1, ran.stderr
    assert "m.yaml:8" in ran.stderr and "assertion failed: the display does not show 99" in ran.stderr
    assert "the tree has text 'Display', editable" in ran.stderr and "holding '12'" in ran.stderr
    assert pressed(calc, 3) == ["C", "1", "2"]
    lines = [json.loads(x) for x in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    assert [line["status"] for line in lines] == ["ok"] * 7 + ["failed"]
    shown = lines[3]["found"][0]
    assert shown["by"] == "element" and shown["element"]["name"] == "Display"
    assert "text" not in shown["element"]  # (what a field holds may be secret: not recorded)
    assert lines[4]["found"][0]["element"]["states"] == ["sensitive"]


def test_an_element_condition_without_a_tree_fails_at_once(a11y_screen: Display,
                                                           calc: LoggedProgram,
                                                           tmp_path: Path) -> None:
    env = tracer_env(a11y_screen)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    ran = run_macro(env, tmp_path, "- wait_for: {element: {role: push button, name: '+'}}\n")
    assert ran.returncode == 1
    assert "cannot be checked: no accessibility tree here" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    (line,) = [json.loads(x) for x in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    assert line["timings"].get("find", 0.0) < 1.0  # not the 10 s a wait_for may wait
