"""The accessibility tree on KDE Plasma (headless KWin): GTK 3 calculators native on Wayland, one
decorated by KWin, one drawing its own header bar and shadows, report element boxes in their
windows' coordinates; tracer places them through KWin's window list (scripting). The element at
a point is the button a real click there reaches (edge pixels, by the program's own log); where
one window covers the other only the one on top has elements; doctor's row says how boxes are
placed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import CALC, A11yBus, clicked, start_a11y_bus
from tests.conftest import run_tracer
from tests.e2e.conftest import done, plan
from tests.e2e.kde import SYSTEM_PYTHON, App, KdeDesktop
from tests.programs import wait_until
from tracer_cli.desktop.platforms.kde_windows import activate

pytestmark = pytest.mark.kde


class KWinScreen:
    """What tests/a11y.py asks of a display: the environment of a program on it."""

    def __init__(self, desk: KdeDesktop) -> None:
        self.desk = desk
        self.name = desk.kwin.env["WAYLAND_DISPLAY"]

    def env(self) -> dict[str, str]:
        return self.desk.kwin.client_env()


@pytest.fixture(scope="module")
def bus(kde: KdeDesktop) -> Iterator[A11yBus]:
    started = start_a11y_bus(KWinScreen(kde))  # type: ignore[arg-type]
    yield started
    started.stop()


@pytest.fixture(scope="module")
def calcs(kde: KdeDesktop, bus: A11yBus,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, App]]:
    folder = tmp_path_factory.mktemp("calcs")
    apps = {}
    for kind, extra in (("plain", {}), ("drawn", {"CALC_HEADERBAR": "1"})):
        log = folder / f"{kind}.jsonl"
        log.write_text("")
        apps[kind] = kde.launch([SYSTEM_PYTHON, str(CALC), str(log), f"{kind} calc"], log,
                                a11y=bus.session, **extra)
        wait_until(lambda app=apps[kind]: app.events("ready"), 15, f"{kind} calc drawn")
    kde.wait_settled()
    yield apps
    for app in apps.values():
        app.stop()
        kde.apps.remove(app)


@pytest.fixture(scope="module")
def elements(kde: KdeDesktop, bus: A11yBus, calcs: dict[str, App]) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AT_SPI_BUS_ADDRESS", bus.address())
        reader = kde.platform().elements()
    assert reader.available, reader.reason
    wait_until(lambda: (reader.forget(), len(reader.find("push button", "+")))[1], 20,
               "a calculator in the tree")
    yield reader
    reader.close()


def test_the_box_is_where_a_click_lands(kde: KdeDesktop, calcs: dict[str, App],
                                        elements: Any) -> None:
    """KWin places new windows apart (a cascade): each calculator's '+' where it is seen."""
    for kind, app in calcs.items():
        title = f"{kind} calc"
        activate(kde.platform().bus(), app.pid)  # (on top: the other may overlap it)
        wait_until(lambda app=app: app.window().active, 5, "the window to have the focus")
        elements.forget()
        (plus,) = [e for e in elements.find("push button", "+") if e.window == title]
        (equals,) = [e for e in elements.find("push button", "=") if e.window == title]
        at = elements.at(*plus.center)
        assert at is not None and (at.name, at.window) == ("+", title)
        bx, by, _, _ = app.window().buffer  # (the surface's corner: not the desktop's)
        assert (bx, by) != (0, 0) and plus.box[0] > bx
        left, top, right, bottom = plus.box
        cx, cy = plus.center
        inside = [(left, cy), (right - 1, cy), (cx, top), (cx, bottom - 1)]
        assert clicked(kde.keyboard, app, inside, equals.center) == ["+"] * 4 + ["="], \
            (kind, plus.box)
        outside = [(left - 1, cy), (cx, top - 1), (cx, bottom)]
        assert "+" not in clicked(kde.keyboard, app, outside, equals.center), (kind, plus.box)


def test_doctor_says_how_boxes_are_placed(kde: KdeDesktop, bus: A11yBus, calcs: dict[str, App],
                                          tmp_path: Path) -> None:
    env = kde.env(tmp_path / "runtime", AT_SPI_BUS_ADDRESS=bus.address())
    script = tmp_path / "plan.jsonl"
    script.write_text(json.dumps(plan(done())) + "\n", encoding="utf-8")
    doctor = run_tracer("doctor", "--json", "--platform", "kde", "-b", "script", "--script",
                        str(script), env=env, timeout=60)
    (row,) = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "accessibility tree"]
    assert row["status"] == "ok", row
    assert "2 programs expose a tree: gtk_calc.py" in row["detail"]
    assert "placed through KWin's window list" in row["detail"]


def test_a_covered_window_has_no_elements_where_it_is_covered(kde: KdeDesktop,
                                                              calcs: dict[str, App],
                                                              elements: Any) -> None:
    """KWin places the second window over the first (a cascade): the one on top counts."""
    def raise_(app: App) -> None:
        activate(kde.platform().bus(), app.pid)
        wait_until(lambda: app.window().active, 5, "the window to have the focus")
        elements.forget()

    raise_(calcs["plain"])
    (plus,) = [e for e in elements.find("push button", "+") if e.window == "plain calc"]
    (drawn,) = [w for w in elements.windows() if w.name == "drawn calc"]
    assert drawn.contains(*plus.center)  # (KWin's cascade: they overlap there)
    at = elements.at(*plus.center)
    assert at is not None and (at.name, at.window) == ("+", "plain calc")
    raise_(calcs["drawn"])
    at = elements.at(*plus.center)
    assert at is not None and at.window == "drawn calc"
    assert [e.window for e in elements.find("push button", "+")] == ["drawn calc"]
