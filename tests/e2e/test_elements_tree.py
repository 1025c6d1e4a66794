"""The accessibility tree read over the real AT-SPI registry on Xvfb: a GTK 3 calculator
exposes its buttons (role, exact name, box in desktop pixels, states, an entry's text); Tk
exposes nothing and gets no element; a hung application costs a bounded wait, not a stall."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.a11y import A11yBus, start_calc
from tests.conftest import APPS, Display
from tests.e2e.conftest import xdotool
from tests.programs import LoggedProgram, stop_program, wait_until
from tracer_cli.desktop.elements import Element
from tracer_cli.desktop.platforms.atspi import LOOKUP_BUDGET, AtspiElements
from tracer_cli.desktop.platforms.x11 import TopWindow, X11Platform

pytestmark = pytest.mark.display


@pytest.fixture(scope="module")
def calc(a11y_bus: A11yBus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedProgram]:
    app = start_calc(a11y_bus, tmp_path_factory.mktemp("calc") / "calc.jsonl", "calc tree", (700, 100))
    yield app
    app.stop()


@pytest.fixture(scope="module")
def tk(a11y_bus: A11yBus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tests/apps/tk_form.py at the top left, beside the calculator; its state file."""
    state = tmp_path_factory.mktemp("tk") / "tk.json"
    proc = subprocess.Popen([sys.executable, str(APPS / "tk_form.py"), str(state)],
                            env=a11y_bus.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: state.exists() and state.read_text(), 30, "tk_form's state")
        yield state
    finally:
        stop_program(proc)


@pytest.fixture
def elements(a11y_bus: A11yBus, a11y_screen: Display,
             calc: LoggedProgram) -> Iterator[AtspiElements]:
    reader = AtspiElements(a11y_bus.address(), TopWindow(X11Platform(a11y_screen.name)))
    wait_until(lambda: reader.find("push button", "+"), 20, "the calculator in the tree")
    yield reader
    reader.close()


def test_a_point_names_the_button_under_it_exactly(elements: AtspiElements) -> None:
    (plus,) = elements.find("push button", "+")
    (memory,) = elements.find("push button", "M+")
    assert plus.box != memory.box
    at_plus = elements.at(*plus.center)
    assert at_plus is not None and (at_plus.role, at_plus.name) == ("push button", "+")
    assert at_plus.window == "calc tree" and at_plus.app == "gtk_calc.py"
    assert at_plus.path[0] == "frame" and at_plus.path[-1] == "push button"
    assert {"showing", "sensitive", "enabled"} <= at_plus.states
    at_memory = elements.at(*memory.center)
    assert at_memory is not None and at_memory.name == "M+"
    assert elements.find("push button", "M") == []  # names match whole, never in part


def test_boxes_are_desktop_pixels(elements: AtspiElements, a11y_screen: Display) -> None:
    (window,) = [w for w in elements.windows() if w.name == "calc tree"]
    wid = xdotool(a11y_screen, "search", "--name", "^calc tree$").split()[-1]
    geometry = xdotool(a11y_screen, "getwindowgeometry", "--shell", wid)
    values = dict(line.split("=") for line in geometry.split())
    x, y, w, h = (int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    assert window.box == (x, y, x + w, y + h)


def test_a_click_shows_in_the_entrys_text(elements: AtspiElements, calc: LoggedProgram,
                                         a11y_screen: Display) -> None:
    (one,) = elements.find("push button", "1")
    xdotool(a11y_screen, "mousemove", str(one.center[0]), str(one.center[1]), "click", "1")
    wait_until(lambda: calc.events("button"), 10, "the calculator's button event")
    entry = next(e for e in elements.active_window() if e.role == "text")
    wait_until(lambda: (elements.reread(entry) or entry).text == "1", 10, "the entry's text")
    assert [e["label"] for e in calc.events("button")] == ["1"]


def test_tk_exposes_nothing_and_gets_no_element(elements: AtspiElements, tk: Path) -> None:
    import json

    x, y, w, h = json.loads(tk.read_text())["boxes"]["name"]
    assert elements.at(x + w // 2, y + h // 2) is None
    assert "gtk_calc.py" in elements.applications()
    assert len(elements.applications()) == 1


def test_a_window_on_top_without_a_tree_hides_the_one_below(elements: AtspiElements, tk: Path,
                                                             a11y_screen: Display) -> None:
    (plus,) = elements.find("push button", "+")
    wid = xdotool(a11y_screen, "search", "--name", "^tk form$").split()[-1]
    xdotool(a11y_screen, "windowmove", wid, str(plus.box[0] - 20), str(plus.box[1] - 20))
    try:
        wait_until(lambda: (elements.forget(), elements.at(*plus.center))[1] is None, 10,
                   "the Tk form over the calculator's + to hide it")
        assert elements.find("push button", "+") == []  # a macro would click the Tk form
        assert len(elements.find("push button", "M+")) == 1  # (not covered)
    finally:
        xdotool(a11y_screen, "windowmove", wid, "0", "0")
    wait_until(lambda: (elements.forget(), elements.at(*plus.center))[1] is not None, 10,
               "the calculator's + seen again")


def test_a_lookup_is_quick_and_cached_per_screen(elements: AtspiElements) -> None:
    (plus,) = elements.find("push button", "+")
    times = []
    for _ in range(20):
        elements.forget()
        started = time.perf_counter()
        assert elements.at(*plus.center) is not None
        times.append(time.perf_counter() - started)
    assert sorted(times)[10] < 0.05  # (the benchmark measures ~5 ms)
    started = time.perf_counter()
    elements.at(*plus.center)
    assert time.perf_counter() - started < 0.001  # the same screen: answered from the cache


def test_a_hung_application_costs_a_bounded_wait(elements: AtspiElements,
                                                 calc: LoggedProgram) -> None:
    (plus,) = elements.find("push button", "+")
    elements.forget()
    os.kill(calc.pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        assert elements.at(*plus.center) is None
        assert time.perf_counter() - started < LOOKUP_BUDGET + 0.15
        elements.forget()
        started = time.perf_counter()
        assert elements.at(*plus.center) is None  # left out for a while: no second wait
        assert time.perf_counter() - started < 0.05
    finally:
        os.kill(calc.pid, signal.SIGCONT)


def test_doctor_says_whether_the_bus_is_on_and_who_exposes_a_tree(a11y_bus: A11yBus,
                                                                  calc: LoggedProgram, tk: Path,
                                                                  tmp_path: Path) -> None:
    import json

    from tests.conftest import run_tracer
    from tests.e2e.conftest import done, plan

    script = tmp_path / "plan.jsonl"
    script.write_text(json.dumps(plan(done())) + "\n", encoding="utf-8")

    def row(env: dict[str, str]) -> dict[str, object]:
        proc = run_tracer("doctor", "--json", "-b", "script", "--script", str(script), env=env)
        return next(c for c in json.loads(proc.stdout)["checks"]
                    if c["name"] == "accessibility tree")

    on = row(a11y_bus.env())
    assert on["status"] == "ok" and "1 program exposes a tree: gtk_calc.py" in str(on["detail"])
    bare = a11y_bus.env()
    bare.pop("DBUS_SESSION_BUS_ADDRESS")
    bare["XDG_RUNTIME_DIR"] = str(tmp_path)
    off = row(bare)
    assert off["status"] == "skipped"
    assert str(off["detail"]).startswith("off (pixels only): no session D-Bus")


def test_a_chromium_page_and_a_qt_form_expose_theirs(a11y_bus: A11yBus, tmp_path: Path) -> None:
    """Qt 5 (QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1) and, over it, Chromium
    (--force-renderer-accessibility, ACCESSIBILITY_ENABLED=1) answer as GTK does."""
    from tests.a11y import start_chromium, start_qt

    reader = AtspiElements(a11y_bus.address(), TopWindow(X11Platform(a11y_bus.display.name)))
    qt = start_qt(a11y_bus, tmp_path / "qt.jsonl")
    chromium = None
    try:
        def box() -> list[Element]:
            reader.forget()
            return reader.find("check box", "Send me the monthly newsletter", window="qt tree")

        try:
            (tick,) = wait_until(box, 60, "the Qt form's check box in the tree")
        except AssertionError:
            err = Path(f"{tmp_path / 'qt.jsonl'}.err")
            raise AssertionError(f"no Qt tree; the program: alive={qt.poll() is None}, "
                                 f"printed {err.read_text()[-800:]!r}; the tree's windows: "
                                 f"{[(w.name, w.app) for w in reader.windows()]}") from None
        at = reader.at(*tick.center)
        assert at is not None and at.role == "check box" and at.window == "qt tree"
        chromium = start_chromium(a11y_bus, APPS / "calc.html", tmp_path / "profile", "500,0")

        def page() -> list[Element]:
            reader.forget()
            return reader.find("push button", "+", window="calc []")

        (plus,) = wait_until(page, 60, "the page's + button in the tree")
        assert plus.box[0] > 500  # (over the Qt window, which lies below it there)
        at = reader.at(*plus.center)
        assert at is not None and (at.role, at.name, at.app) == ("push button", "+", "Chromium")
        (memory,) = reader.find("push button", "M+", window="calc []")
        assert memory.box != plus.box and reader.at(*memory.center).name == "M+"  # type: ignore[union-attr]
    finally:
        reader.close()
        stop_program(qt)
        if chromium is not None:
            stop_program(chromium)
