"""The real `tracer` on a headless KWin (KDE Plasma's compositor, the kde platform) with a Qt 5
and a GTK 3 program native on Wayland: `tracer setup kde` and doctor's rows before and after it,
`tracer do` filling in the Qt form driven by the OpenAI-compatible test server, model points
landing on the exact pixel in both toolkits, text typed exactly or refused before any key,
a macro finding its targets by text and by image in the GTK form, the MCP server's screenshot
and click, `tracer record` refused with the alternatives, KWin ending mid-run, and `tracer
setup kde --undo`. The programs' own logs say what happened."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_tracer
from tests.e2e.conftest import click, desktop_ended_mid_run, done, last_run, plan
from tests.e2e.kde import App, KdeDesktop, wait_until

pytestmark = pytest.mark.kde

W, H = 1280, 800
# Model points (0..1000) away from the corners; the probes' canvases fill the screen below
# their entry (Qt: below its form), so the points low enough land on a canvas.
POINTS = [(1, 400), (123, 877), (500, 500), (999, 300), (333, 667), (750, 998), (640, 251)]
UNICODE = "café — 5 € 中文"
ASCII = "Hello, World! 123 ~`!@#$%^&*()-_=+[]{}\\|;:'\",.<>/?"


def pixel(point: tuple[int, int]) -> tuple[int, int]:
    """The desktop pixel tracer clicks for a model point on the 1280x800 monitor."""
    return min(round(point[0] * W / 1000), W - 1), min(round(point[1] * H / 1000), H - 1)


def model_point(app: App, box: list[float]) -> tuple[int, int]:
    """The model point of a widget's centre; ``box`` in window coordinates."""
    x, y = app.to_desktop(box[0] + box[2] / 2, box[1] + box[3] / 2)
    return round(x * 1000 / W), round(y * 1000 / H)


def rows(result: Any) -> dict[str, dict[str, Any]]:
    assert "Traceback" not in result.stderr, result.stderr
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_setup_kde_authorises_tracer_and_doctor_checks_it(kde: KdeDesktop, chat_server: Any,
                                                          runtime: Path) -> None:
    before = rows(kde.before_setup)
    assert before["authorisation"]["status"] == "fail"
    assert "no desktop entry authorises" in before["authorisation"]["detail"]
    assert "tracer setup kde" in before["authorisation"]["fix"]
    assert before["screen capture"]["status"] == "fail"
    assert "tracer setup kde" in before["screen capture"]["fix"]
    assert before["input control"]["status"] == "fail"
    written = kde.setup.stdout.strip().splitlines()
    assert len(written) == 1 and written[0].startswith("wrote ")
    entry = Path(written[0].removeprefix("wrote "))
    assert entry.parent == Path(kde.kwin.env["XDG_DATA_HOME"]) / "applications"
    text = entry.read_text()
    import os

    assert f"Exec={os.path.realpath(sys.executable)}\n" in text  # the interpreter KWin sees
    assert "X-KDE-DBUS-Restricted-Interfaces=org.kde.KWin.ScreenShot2\n" in text
    assert "X-KDE-Wayland-Interfaces=org_kde_kwin_fake_input\n" in text
    assert "KWin took it after" in kde.setup.stderr

    after = rows(run_tracer("doctor", "--json", "--platform", "kde", "-b", "openai",
                            "--base-url", chat_server.base_url, env=kde.env(runtime), timeout=60))
    print("\n" + "\n".join(f"{n}: {c['status']}: {c['detail']}" for n, c in after.items()
                           if n in ("platform", "display", "authorisation", "screen capture",
                                    "input control", "kill hotkey", "pause hotkey",
                                    "stop and pause")))
    assert after["platform"]["detail"].startswith("KDE Plasma (Wayland) ")
    assert after["display"]["status"] == "ok" and "fake input v4" in after["display"]["detail"]
    assert after["authorisation"]["status"] == "ok" and str(entry) in \
        after["authorisation"]["detail"]
    assert after["screen capture"]["status"] == "ok"
    assert "grabbed through KWin's ScreenShot2 (1280x800" in after["screen capture"]["detail"]
    assert after["input control"]["status"] == "ok"
    assert after["kill hotkey"]["detail"] == ("ctrl+alt+shift+k: the kill switch arms (a KDE "
                                              "global shortcut)")
    assert after["pause hotkey"]["detail"] == ("ctrl+alt+shift+p: pauses and hands back (a KDE "
                                               "global shortcut)")
    assert after["stop and pause"]["status"] == "ok"


@pytest.fixture
def qt_form(kde: KdeDesktop) -> Iterator[App]:
    app = kde.qt("qt-form")
    app.show()
    kde.wait_settled()
    try:
        yield app
    finally:
        app.stop()


def test_do_fills_in_the_qt_form(kde: KdeDesktop, qt_form: App, chat_server: Any,
                                 runtime: Path) -> None:
    app = qt_form
    boxes = app.events("ready")[0]["boxes"]
    name, large = (model_point(app, boxes[k]) for k in ("name", "large"))
    x, y, _, h = boxes["agree"]
    agree = model_point(app, [x, y, 20, h])  # its box: a QCheckBox answers on its label only
    steps = [click(*name, "Name field"), {"action": "hotkey", "keys": ["ctrl", "a"]},
             {"action": "type", "text": "Ada Lovelace"}, click(*large, "Large"),
             click(*agree, "newsletter")]
    for step in steps:
        chat_server.queue(plan(step, done("not yet")))
    chat_server.queue(plan(done("ordered for Ada")))
    env = kde.env(runtime)
    result = run_tracer("do", "order a large shirt for Ada Lovelace", "--yes", "-b", "openai",
                        "--base-url", chat_server.base_url, "--no-zoom", env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ordered for Ada"
    assert "kill switch armed: press ctrl+alt+shift+k to stop" in result.stderr
    state = wait_until(lambda: (s := app.events("state")) and s[-1]["agree"] and s[-1], 5,
                       "the form's new state")
    assert (state["name"], state["size"], state["agree"]) == ("Ada Lovelace", "large", True)
    record = last_run(env)
    assert record["run"]["status"] == "done" and record["run"]["monitor"]["width"] == W
    clicks = [s["points"][0] for s in record["steps"] if s["action"]["action"] == "click"]
    assert clicks == [list(pixel(p)) for p in (name, large, agree)]


def click_matrix(kde: KdeDesktop, app: App, chat_server: Any, runtime: Path) -> list[str]:
    """`tracer do` clicking every point of POINTS: each press on the exact pixel."""
    app.show()
    kde.wait_settled()
    app.clear()
    for x, y in POINTS:
        chat_server.queue(plan(click(x, y, "the canvas"), done("not yet")))
    chat_server.queue(plan(done("clicked")))
    result = run_tracer("do", "click the points", "--yes", "-b", "openai", "--base-url",
                        chat_server.base_url, "--no-zoom", env=kde.env(runtime), timeout=120)
    assert result.returncode == 0, result.stderr
    chat_server.requests.clear()
    presses = wait_until(lambda: len(p := app.events("press")) >= len(POINTS) and p, 5,
                         "every press")
    lines, errors = [], []
    for (x, y), press in zip(POINTS, presses, strict=True):
        want = pixel((x, y))
        got = app.to_desktop(press["x"], press["y"])
        error = max(abs(got[0] - want[0]), abs(got[1] - want[1]))
        errors.append(error)
        lines.append(f"({x},{y}) -> pixel {want}: the program got ({press['x']:g},{press['y']:g})"
                     f" = desktop ({got[0]:g},{got[1]:g}), error {error:g} px")
    assert errors == [0] * len(POINTS), lines
    return lines


@pytest.mark.parametrize("toolkit", ["qt", "gtk"])
def test_points_land_on_the_exact_pixel(kde: KdeDesktop, toolkit: str, chat_server: Any,
                                        runtime: Path) -> None:
    app = getattr(kde, toolkit)(f"matrix-{toolkit}", fullscreen=True)
    try:
        lines = click_matrix(kde, app, chat_server, runtime)
        print(f"\n{toolkit}:\n  " + "\n  ".join(lines))
    finally:
        app.stop()


@pytest.mark.parametrize("toolkit", ["qt", "gtk"])
def test_text_is_typed_exactly_or_refused_before_any_key(kde: KdeDesktop, toolkit: str,
                                                         chat_server: Any, runtime: Path) -> None:
    app = getattr(kde, toolkit)(f"typing-{toolkit}")
    try:
        app.show()
        kde.wait_settled()
        app.clear()
        chat_server.queue(plan({"action": "type", "text": ASCII}, done("not yet")),
                          plan({"action": "type", "text": UNICODE}, done("not yet")),
                          plan(done("typed")))
        result = run_tracer("do", "type the texts", "--yes", "-b", "openai", "--base-url",
                            chat_server.base_url, env=kde.env(runtime), timeout=90)
        assert result.returncode == 0, result.stderr
        texts = [e["text"] for e in app.events("text")]
        assert texts == [ASCII[:n] for n in range(1, len(ASCII) + 1)]  # exact, each in turn
        steps = last_run(kde.env(runtime))["steps"]
        second = steps[1]
        assert second["action"]["action"] == "type"
        print(f"\n{toolkit}: the field held {texts[-1]!r}; then {second['outcome']}")
        assert second["status"] == "error"
        assert second["outcome"] == ("error: cannot type 'é', '—', '€', '中', '文': this desktop's "
                                     "keyboard cannot produce them")
        downs = [e for e in app.events("key") if e["down"]]
        ups = [e for e in app.events("key") if not e["down"]]
        assert len(downs) == len(ups)  # every key let go
    finally:
        app.stop()


def test_a_macro_finds_its_targets_by_text_and_by_image_in_a_gtk_form(
        kde: KdeDesktop, tmp_path: Path, runtime: Path) -> None:
    state = tmp_path / "form.json"
    app = kde.gtk_form(state)
    try:
        app.show()
        boxes = json.loads(state.read_text())["boxes"]
        shot = kde.grab()
        # The "Large" radio button cut out of a screenshot, as a user (or the recorder) would.
        x, y = (round(v) for v in app.to_desktop(*boxes["large"][:2]))
        shot.crop((x, y, x + boxes["large"][2], y + boxes["large"][3])).save(tmp_path / "l.png")
        name_x, _ = app.to_desktop(boxes["name"][0] + 40, 0)
        label_x, _ = app.to_desktop(24, 0)  # the "Name" label: the grid's margin
        macro = tmp_path / "order.yaml"
        macro.write_text(
            "name: order on KDE\n"
            "steps:\n"
            "  - wait_for: Order a T-shirt\n"
            f"  - click: {{text: Name, offset: [{round(name_x - label_x) - 15}, 0]}}\n"
            "  - hotkey: ctrl+a\n"
            '  - type: "Grace Hopper on Plasma"\n'
            "  - click: {image: l.png}\n", encoding="utf-8")
        env = kde.env(runtime)
        result = run_tracer("run", str(macro), "--yes", env=env, timeout=90)

        assert result.returncode == 0, result.stderr
        got = wait_until(lambda: (s := json.loads(state.read_text()))["size"] == "large" and s,
                         5, "the form's state")
        assert got["name"] == "Grace Hopper on Plasma"
        record = last_run(env)
        assert record["run"]["status"] == "done"
        assert any(f.get("text") == "Name" for s in record["steps"] for f in s.get("found", []))
    finally:
        app.stop()


def test_mcp_screenshot_and_click(kde: KdeDesktop, tmp_path: Path, runtime: Path) -> None:
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from tests.e2e.test_mcp import data, image

    app = kde.qt("mcp", fullscreen=True)
    try:
        app.show()
        kde.wait_settled()
        app.clear()
        params = StdioServerParameters(command=sys.executable, args=["-m", "tracer_cli", "mcp"],
                                       env=kde.env(runtime), cwd=str(ROOT))

        async def session() -> tuple[Any, Any]:
            with (tmp_path / "server.log").open("a") as log:
                async with Client(stdio_client(params, errlog=log)) as client:
                    shot = await client.call_tool("screenshot", {})
                    clicked = await client.call_tool("click", {"x": 250, "y": 750,
                                                               "target": "the canvas"})
                    return shot, clicked

        shot, clicked = anyio.run(session)
        info = data(shot)
        picture = image(shot)
        assert picture.size == (info["width"], info["height"])
        r, g, b = picture.convert("RGB").getpixel((picture.width // 2, picture.height * 3 // 4))
        assert (r, g, b) == (51, 102, 204)  # the probe's blue canvas
        assert not clicked.is_error, clicked
        press = wait_until(lambda: app.events("press"), 5, "the probe to get the click")
        assert app.to_desktop(press[0]["x"], press[0]["y"]) == pixel((250, 750))
    finally:
        app.stop()


def test_record_is_refused_with_the_alternatives(kde: KdeDesktop, tmp_path: Path,
                                                 runtime: Path) -> None:
    result = run_tracer("record", str(tmp_path / "m.yaml"), env=kde.env(runtime), timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "tracer record cannot listen on KDE Plasma" in lines[0]
    assert "tracer sandbox start" in lines[0] and "X11 session" in lines[0]


def test_kwin_going_away_ends_the_run_with_one_line(tmp_path: Path, runtime: Path,
                                                    background_tracer: Any) -> None:
    """A KWin of its own (the session's must live on), authorised, ended while `tracer do`
    waits for its model: the run ends at once with the one line that says so."""
    from tests.kwin import HeadlessKWin

    kwin = HeadlessKWin(640, 480).start()
    try:
        env = kwin.client_env(TRACER_RUNTIME_DIR=str(runtime))
        assert run_tracer("setup", "kde", env=env, timeout=60).returncode == 0
        code, stderr, waited = desktop_ended_mid_run(background_tracer, env, kwin.stop)
    finally:
        kwin.stop()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert "KWin (KDE Plasma) at " in stderr and "went away" in stderr
    assert "start the desktop again and rerun" in stderr
    assert waited < 3, f"tracer took {waited:.1f} s to notice"
    line = next(x for x in stderr.splitlines() if "went away" in x)
    print(f"\n{line}\n({waited * 1000:.0f} ms after KWin ended)")


def test_setup_kde_undo_removes_the_authorisation(kde: KdeDesktop, runtime: Path) -> None:
    """Last: it takes the authorisation away, then gives it back through the real command."""
    from tracer_cli.desktop.platforms import kde_setup

    env = kde.env(runtime)
    undone = run_tracer("setup", "kde", "--undo", env=env, timeout=60)
    assert undone.returncode == 0, undone.stderr
    removed = undone.stdout.strip().splitlines()
    assert removed and all(line.startswith("removed ") for line in removed)
    assert not any(Path(line.removeprefix("removed ")).exists() for line in removed)
    assert not kde_setup.status(env=env).granted
    # KWin notices: a screenshot is refused again
    wait_until(lambda: kde_setup.wait_taken(env, timeout=0) is None, 10, "KWin to refuse")
    again = run_tracer("setup", "kde", env=env, timeout=60)
    assert again.returncode == 0 and "KWin took it after" in again.stderr, again.stderr
