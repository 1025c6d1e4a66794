"""The accessibility tree on sway: GTK 3 programs native on Wayland report element boxes in their
windows' coordinates, and tracer places them through sway's tree. Two calculators float at
known places, one decorated by sway, one drawing its own decorations and shadows (a header
bar); the element at a point is the button a real click there reaches (checked at the box's
edges, by the program's own log); a window on a hidden workspace has no elements, one under
another window none where it is covered; `tracer run` clicks an element anchor; doctor's row
says how boxes are placed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import CALC, A11yBus, clicked, start_a11y_bus
from tests.conftest import APPS, run_tracer
from tests.e2e.conftest import done, last_run, plan, run_dir
from tests.e2e.sway import SYSTEM_PYTHON, App, SwayDesktop, wait_until
from tracer_cli.desktop.elements import Element

pytestmark = pytest.mark.wlroots

W, H = 320, 360  # each calculator's window, as sway shows it


class SwayScreen:
    """What tests/a11y.py asks of a display: the environment of a program on it."""

    def __init__(self, desk: SwayDesktop) -> None:
        self.desk = desk
        self.name = desk.sway.env["WAYLAND_DISPLAY"]

    def env(self) -> dict[str, str]:
        return self.desk.sway.client_env(XDG_RUNTIME_DIR=self.desk.sway.runtime_dir)


@pytest.fixture(scope="module")
def bus(sway: SwayDesktop) -> Iterator[A11yBus]:
    started = start_a11y_bus(SwayScreen(sway))  # type: ignore[arg-type]
    yield started
    started.stop()


def float_at(desk: SwayDesktop, app: App, x: int, y: int) -> None:
    assert desk.sway.ipc is not None
    desk.sway.ipc.command(f"[pid={app.pid}] move position {x} {y}")
    wait_until(lambda: (r := app.node()["rect"])["x"] == x and r["y"] == y, 5,
               f"the window at {x},{y}")


def drawn_at_size(bus: A11yBus, titles: list[str]) -> None:
    """Until each program's own tree says its window took the size sway gave (its shadows
    around it, for one that draws them)."""
    from tracer_cli.desktop.platforms.atspi import AtspiElements

    raw = AtspiElements(bus.address())  # (no placement: the programs' own words)
    try:
        def sized() -> bool:
            raw.forget()
            sizes = {w.name: (w.box[2] - w.box[0], w.box[3] - w.box[1]) for w in raw.windows()}
            return all(t in sizes and sizes[t][0] >= W and sizes[t][1] >= H and sizes[t][0] < 2 * W
                       for t in titles)

        try:
            wait_until(sized, 10, "the programs drawn at their new size")
        except AssertionError:
            raise AssertionError(str([(w.name, w.box) for w in raw.windows()])) from None
    finally:
        raw.close()


def calc(desk: SwayDesktop, bus: A11yBus, folder: Path, title: str, at: tuple[int, int],
         **env: str) -> App:
    """A calculator floating at ``at``, W x H (sway's rule for its title: from its first
    frame, so the program never has to take a new size)."""
    assert desk.sway.ipc is not None
    desk.sway.ipc.command(f'for_window [title="^{title}$"] "floating enable, resize set {W} '
                          f'{H}, move position {at[0]} {at[1]}"')
    log = folder / f"{title}.jsonl"
    log.write_text("")
    app = desk.launch([SYSTEM_PYTHON, str(CALC), str(log), title], "el-calc", log=log,
                      a11y=bus.session, **env)
    wait_until(lambda: app.events("ready"), 15, f"{title} drawn")
    return app


@pytest.fixture(scope="module")
def calcs(sway: SwayDesktop, bus: A11yBus,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, App]]:
    """'plain' decorated by sway at (100, 150); 'drawn' with its own header bar and shadows at
    (700, 250); both floating on the workspace el-calc."""
    folder = tmp_path_factory.mktemp("calcs")
    apps = {"plain": calc(sway, bus, folder, "plain calc", (100, 150))}
    apps["drawn"] = calc(sway, bus, folder, "drawn calc", (700, 250), CALC_HEADERBAR="1")
    float_at(sway, apps["plain"], 100, 150)
    float_at(sway, apps["drawn"], 700, 250)
    drawn_at_size(bus, ["plain calc", "drawn calc"])
    sway.wait_settled()
    yield apps
    for app in apps.values():
        app.stop()
        sway.apps.remove(app)


@pytest.fixture
def elements(sway: SwayDesktop, bus: A11yBus, calcs: dict[str, App],
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.session)
    monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
    reader = sway.platform().elements()
    assert reader.available, reader.reason
    wait_until(lambda: (reader.forget(), len(reader.find("push button", "+")) == 2)[1], 20,
               "both calculators in the tree")
    yield reader
    reader.close()


def plus_of(elements: Any, title: str) -> Element:
    elements.forget()
    (plus,) = [e for e in elements.find("push button", "+") if e.window == title]
    return plus


@pytest.mark.parametrize("kind", ["plain", "drawn"])
def test_the_box_is_where_a_click_lands(sway: SwayDesktop, calcs: dict[str, App], elements: Any,
                                        kind: str) -> None:
    app = calcs[kind]
    title = f"{kind} calc"
    (window,) = [w for w in elements.windows() if w.name == title]
    node = app.node()
    assert window.box == (node["rect"]["x"], node["rect"]["y"],
                          node["rect"]["x"] + node["window_rect"]["width"],
                          node["rect"]["y"] + node["window_rect"]["height"])
    plus = plus_of(elements, title)
    left, top, right, bottom = plus.box
    at = elements.at(*plus.center)
    assert at is not None and (at.role, at.name, at.window) == ("push button", "+", title)
    assert window.box[0] <= left < right <= window.box[2]
    # Its first and last pixels on each axis are the button's; the next ones out are not.
    cx, cy = plus.center
    (equals,) = [e for e in elements.find("push button", "=") if e.window == title]
    inside = [(left, cy), (right - 1, cy), (cx, top), (cx, bottom - 1)]
    assert clicked(sway.keyboard, app, inside, equals.center) == ["+"] * 4 + ["="], plus.box
    outside = [(left - 1, cy), (cx, top - 1), (cx, bottom)]  # (the grid's gaps, or a neighbour)
    assert "+" not in clicked(sway.keyboard, app, outside, equals.center), plus.box
    app.clear()


def test_hidden_and_covered_windows_have_no_elements(sway: SwayDesktop, calcs: dict[str, App],
                                                     elements: Any) -> None:
    assert sway.sway.ipc is not None
    plain = plus_of(elements, "plain calc")
    sway.sway.ipc.command("workspace el-empty")
    try:
        elements.forget()
        assert elements.at(*plain.center) is None
        assert elements.find("push button", "+") == []
    finally:
        sway.sway.ipc.command("workspace el-calc")
    assert plus_of(elements, "plain calc") == plain
    # The drawn calculator over the plain one's "+": what is there is the drawn one's.
    left, top = plain.box[0] - 20, plain.box[1] - 20
    float_at(sway, calcs["drawn"], left, top)
    try:
        def covered() -> bool:  # (sway restacks, and the trees follow, on their own time)
            elements.forget()
            at = elements.at(*plain.center)
            return at is None or at.window == "drawn calc"

        wait_until(covered, 10, "the drawn calculator over the plain one's '+'")
        assert [e.window for e in elements.find("push button", "+")] == ["drawn calc"]
    finally:
        float_at(sway, calcs["drawn"], 700, 250)


def test_tracer_run_clicks_an_element_anchor_and_doctor_says_how(
        sway: SwayDesktop, bus: A11yBus, calcs: dict[str, App], runtime: Path,
        tmp_path: Path) -> None:
    env = sway.env(runtime, DBUS_SESSION_BUS_ADDRESS=bus.session, TRACER_OCR="tesseract")
    env.pop("AT_SPI_BUS_ADDRESS", None)
    macro = tmp_path / "plus.yaml"
    macro.write_text('- click:\n    element: {role: push button, name: "+", window: "drawn calc"}\n',
                     encoding="utf-8")
    app = calcs["drawn"]
    app.clear()
    result = run_tracer("run", str(macro), "--yes", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: app.events("button"), 10, "the click")
    assert [e["label"] for e in app.events("button")] == ["+"]
    assert calcs["plain"].events("button") == []
    lines = (run_dir(env) / "steps.jsonl").read_text().splitlines()
    (where,) = [f for line in lines for f in json.loads(line).get("found", [])]
    assert where["by"] == "element" and where["element"]["window"] == "drawn calc"
    assert last_run(env)["run"]["status"] == "done"

    script = tmp_path / "plan.jsonl"
    script.write_text(json.dumps(plan(done())) + "\n", encoding="utf-8")
    doctor = run_tracer("doctor", "--json", "-b", "script", "--script", str(script), env=env)
    (row,) = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "accessibility tree"]
    assert row["status"] == "ok", row
    assert "2 programs expose a tree: gtk_calc.py" in row["detail"]
    assert "placed through sway's window tree" in row["detail"]


def test_at_scale_2_boxes_count_physical_pixels(sway: SwayDesktop, calcs: dict[str, App],
                                                elements: Any) -> None:
    """The output at scale 2: a window unit is two desktop pixels; still exact at the edges."""
    assert sway.sway.ipc is not None
    app = calcs["drawn"]
    float_at(sway, app, 20, 20)
    sway.sway.ipc.command("output HEADLESS-1 scale 2")
    try:
        def placed() -> Any:
            elements.forget()
            return [w for w in elements.windows() if w.name == "drawn calc"
                    and w.box == (40, 40, 40 + 2 * W, 40 + 2 * H)]

        wait_until(placed, 10, "the window at scale 2")
        sway.wait_settled()
        wait_until(lambda: [e for e in (elements.forget(), elements.find("push button", "+"))[1]
                            if e.window == "drawn calc"], 10, "the drawn calculator's '+' at scale 2")
        plus = plus_of(elements, "drawn calc")
        (equals,) = [e for e in elements.find("push button", "=") if e.window == "drawn calc"]
        left, top, right, bottom = plus.box
        cx, cy = plus.center
        inside = [(left, cy), (right - 1, cy), (cx, top), (cx, bottom - 1)]
        assert clicked(sway.keyboard, app, inside, equals.center) == ["+"] * 4 + ["="], plus.box
        outside = [(left - 1, cy), (cx, top - 1), (cx, bottom)]
        assert "+" not in clicked(sway.keyboard, app, outside, equals.center), plus.box
    finally:
        sway.sway.ipc.command("output HEADLESS-1 scale 1")
        sway.sway.wait_outputs([(1280, 800)])
        float_at(sway, app, 700, 250)
        app.clear()


def test_a_qt_form_is_placed_the_same_way(sway: SwayDesktop, bus: A11yBus, elements: Any,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Qt 5 (PyQt5, QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1) native on Wayland answers in its
    window's coordinates too: the check box's edge pixels toggle it, the next ones out do not
    (a radio button clicked after them says when every click was handled)."""
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):  # (opencv's, for its own Qt)
        monkeypatch.delenv(name, raising=False)
    assert sway.sway.ipc is not None
    sway.sway.ipc.command('for_window [title="^qt calc form$"] "floating enable, resize set 420 '
                          '380, move position 420 300"')
    log = tmp_path / "qt.jsonl"
    log.write_text("")
    qt = sway.launch([SYSTEM_PYTHON, str(APPS / "qt_probe.py"), str(log), "qt calc form"], "el-calc",
                     log=log, a11y=bus.session, QT_QPA_PLATFORM="wayland",
                     QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1")
    try:
        wait_until(lambda: qt.events("ready"), 15, "the Qt form drawn")

        def named(role: str, name: str) -> Element:
            def found() -> list[Element]:
                elements.forget()
                return elements.find(role, name, window="qt calc form")

            return wait_until(found, 20, f"the Qt form's {name!r} placed")[0]  # type: ignore[no-any-return]

        tick = named("check box", "Send me the monthly newsletter")
        radios = {size: named("radio button", f"{size.title()} (fits most people)")
                  for size in ("small", "large")}
        assert tick.box[0] >= 420 and tick.box[1] >= 300

        def toggles(points: list[tuple[int, int]], then: str) -> int:
            qt.clear()
            for x, y in [*points, radios[then].center]:
                sway.keyboard.click(x, y)
                sway.keyboard.session.sync()
            wait_until(lambda: any(e["size"] == then for e in qt.events("state")), 10, then)
            return len(qt.events("state")) - 1

        left, top, right, bottom = tick.box
        cx, cy = tick.center
        assert toggles([(left, cy), (right - 1, cy), (cx, top), (cx, bottom - 1)], "large") == 4
        assert toggles([(left - 1, cy), (cx, top - 1), (cx, bottom)], "small") == 0
    finally:
        qt.stop()
        sway.apps.remove(qt)
