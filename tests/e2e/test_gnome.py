"""tracer on GNOME on Wayland, end to end: the real `tracer` command on a headless mutter (no
shell: fast) with GTK 3 programs native on Wayland and a Tk program through Xwayland, driven by
the OpenAI-compatible test server, macros, and the MCP server. The programs' own state says
what happened; the GTK probe tells where each click landed to the physical pixel."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import APPS, run_tracer
from tests.e2e.conftest import click, done, last_run, plan, run_dir, wait_until
from tests.gnome_session import Gnome, area_pixel

pytestmark = pytest.mark.display

NO_HOTKEYS = ("--kill-hotkey", "", "--pause-hotkey", "")  # mutter alone runs no gsd-media-keys


def model(chat_server: Any) -> list[str]:
    return ["-b", "openai", "--base-url", chat_server.base_url]


def point(box: list[int], width: int, height: int) -> tuple[int, int]:
    """The model point (0..1000) of a box's centre on a WIDTHxHEIGHT monitor."""
    x, y, w, h = box
    return round((x + w / 2) * 1000 / width), round((y + h / 2) * 1000 / height)


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def start_form(gnome: Gnome, tmp_path: Path, x11: bool = False) -> Path:
    """tests/apps/gtk_form.py full screen on Wayland (or tk_form.py through Xwayland), once it
    is drawn and has told where its widgets are."""
    state = tmp_path / ("tk-form.json" if x11 else "gtk-form.json")
    if x11:
        gnome.start([sys.executable, str(APPS / "tk_form.py"), str(state)], x11=True)
    else:
        gnome.start(["/usr/bin/python3", str(APPS / "gtk_form.py"), str(state), "--fullscreen"])
    wait_until(lambda: read_state(state).get("boxes", {}).get("order", [0, 0, 0, 0])[2] > 0,
               20, "the form to show")
    gnome.grab()  # drawn and settled
    return state


def test_do_fills_a_gtk_form_native_on_wayland(gnome_mutter: Gnome, chat_server: Any,
                                               tmp_path: Path) -> None:
    state = start_form(gnome_mutter, tmp_path)
    boxes = read_state(state)["boxes"]
    size = (gnome_mutter.width, gnome_mutter.height)
    steps = [click(*point(boxes["name"], *size), "Name field"),
             {"action": "hotkey", "keys": ["ctrl", "a"]},
             {"action": "type", "text": "Ada Lovelace"},
             click(*point(boxes["large"], *size), "Large"),
             click(*point(boxes["agree"], *size), "newsletter")]
    for step in steps:
        chat_server.queue(plan(step, done("not yet")))
    chat_server.queue(plan(done("ordered")))
    env = gnome_mutter.env()
    result = run_tracer("do", "order a large T-shirt for Ada Lovelace", "--yes",
                        *model(chat_server), *NO_HOTKEYS, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ordered"
    wait_until(lambda: read_state(state)["agree"], 5, "the form to take the last click")
    form = read_state(state)
    assert (form["name"], form["size"], form["agree"]) == ("Ada Lovelace", "large", True)
    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert record["run"]["monitor"]["width"] == 1280
    assert "GNOME (Wayland) wayland-0" in json.dumps(record["run"])


def test_plan_forecasts_on_gnome_and_touches_nothing(gnome_mutter: Gnome, chat_server: Any,
                                                     tmp_path: Path) -> None:
    state = start_form(gnome_mutter, tmp_path)
    boxes = read_state(state)["boxes"]
    forecast = plan(click(*point(boxes["large"], 1280, 800), "Large"), done("planned"),
                    thought="Pick the large size.")
    chat_server.queue(forecast)
    env = gnome_mutter.env()
    result = run_tracer("plan", "pick the large size", "--json", *model(chat_server), env=env,
                        timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == forecast
    assert read_state(state)["size"] == "small"  # a plan never acts
    assert (run_dir(env) / "preview.png").is_file()


def test_macro_clicks_by_text_and_by_image(gnome_mutter: Gnome, tmp_path: Path) -> None:
    state = start_form(gnome_mutter, tmp_path)
    boxes = read_state(state)["boxes"]
    x, y, w, h = boxes["order"]
    gnome_mutter.grab().crop((x - 4, y - 4, x + w + 4, y + h + 4)).save(tmp_path / "order.png")
    macro = tmp_path / "order.yaml"
    macro.write_text("- click: Large\n- click: {text: monthly newsletter}\n"
                     "- click: {image: order.png}\n", encoding="utf-8")
    env = gnome_mutter.env()
    result = run_tracer("run", str(macro), *NO_HOTKEYS, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: read_state(state).get("focus") == "order", 5, "the Order button's focus")
    form = read_state(state)
    assert (form["size"], form["agree"], form["focus"]) == ("large", True, "order")
    steps = [json.loads(line) for line in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    (ox, oy) = steps[2]["points"][0]
    assert x <= ox < x + w and y <= oy < y + h


def test_do_acts_on_an_x11_program_through_xwayland(gnome_mutter: Gnome, chat_server: Any,
                                                    tmp_path: Path) -> None:
    state = start_form(gnome_mutter, tmp_path, x11=True)
    boxes = read_state(state)["boxes"]
    steps = [click(*point(boxes["large"], 1280, 800), "Large"),
             click(*point(boxes["name"], 1280, 800), "Name field"),
             {"action": "hotkey", "keys": ["end"]},
             {"action": "type", "text": " (1906-1992), USN!"}]
    for step in steps:
        chat_server.queue(plan(step, done("not yet")))
    chat_server.queue(plan(done("done")))
    result = run_tracer("do", "fill the Tk form", "--yes", *model(chat_server), *NO_HOTKEYS,
                        env=gnome_mutter.env(), timeout=120)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: read_state(state).get("name") == "Grace Hopper (1906-1992), USN!", 5,
               "the Tk entry's text")
    assert read_state(state)["size"] == "large"


TEXTS = ["café — 5 € 中文", "Hello, World! 123 ~`!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/"]


def test_typed_text_is_exact_or_refused_naming_the_characters(
        gnome_mutter: Gnome, chat_server: Any) -> None:
    """Characters the keymap has go by keysym, the others (é, —, €, 中) through the clipboard;
    a character nothing can type is refused before any key of the text is sent."""
    from tracer_cli.desktop.actuator import LiveActuator
    from tracer_cli.errors import ActionError

    app = gnome_mutter.probe()
    for text in TEXTS:
        chat_server.queue(plan({"action": "type", "text": text}, done("not yet")))
    chat_server.queue(plan(done("typed")))
    env = gnome_mutter.env()
    result = run_tracer("do", "type the texts", "--yes", *model(chat_server), *NO_HOTKEYS,
                        env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: app.text() == "".join(TEXTS), 5, "the entry to hold both texts")
    assert [s["outcome"].split(" ")[0] for s in last_run(env)["steps"]] == ["ok", "ok", "done"]

    actuator = LiveActuator(gnome_mutter.platform().open_input())  # what a run's input does
    try:
        with pytest.raises(ActionError, match=r"cannot type '\\x07': this desktop's keyboard"):
            actuator.type_text("ok\x07")
    finally:
        actuator.close()
    gnome_mutter.grab()
    assert app.text() == "".join(TEXTS)  # not even the "ok" before it


def test_clicks_land_on_the_exact_pixel(gnome_mutter: Gnome, chat_server: Any) -> None:
    check_pixel_matrix(gnome_mutter, chat_server, monitor=1)


def check_pixel_matrix(gnome: Gnome, chat_server: Any, monitor: int, scale: int = 1,
                       left: int = 0) -> None:
    """Model points all over monitor ``monitor`` clicked by `tracer do`: the probe's press, in
    physical pixels, is the pixel the screenshot shows at that desktop point."""
    app = gnome.probe(monitor - 1)
    picture = gnome.grab(monitor)
    steps = [click(x, y, f"point {x},{y}") for x, y in
             ((500, 500), (123, 877), (999, 999), (31, 303), (777, 111), (333, 667),
              (901, 450), (250, 750), (640, 360))]
    for step in steps:
        chat_server.queue(plan(step, done("not yet")))
    chat_server.queue(plan(done("clicked")))
    env = gnome.env()
    result = run_tracer("do", "click the points", "--yes", *model(chat_server), *NO_HOTKEYS,
                        "--monitor", str(monitor), "--no-zoom", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    geometry = last_run(env)["run"]["monitor"]
    assert geometry["left"] == left and geometry["input_scale"] == [1.0, 1.0]
    top = geometry["top"]
    points = [tuple(s["points"][0]) for s in last_run(env)["steps"] if s.get("points")]
    assert len(points) == len(steps)
    presses = [app.wait("press", 5) for _ in points]
    assert {p["scale"] for p in presses} == {scale}
    assert any(x % 2 for x, _ in points) and any(y % 2 for _, y in points)  # odd pixels too
    errors = []
    for (dx, dy), press in zip(points, presses, strict=True):
        ax, ay = area_pixel(picture.getpixel((dx - left, dy - top)))
        errors.append((press["x"] * scale - ax, press["y"] * scale - ay))
    print(f"\nmonitor {monitor} ({picture.width}x{picture.height}): errors {errors}")
    assert errors == [(0, 0)] * len(points)


def test_mcp_screenshot_and_click_on_gnome(gnome_mutter: Gnome, tmp_path: Path) -> None:
    import anyio

    from tests.e2e.test_mcp import data, image, stdio

    state = start_form(gnome_mutter, tmp_path)
    boxes = read_state(state)["boxes"]
    env = gnome_mutter.env()

    async def test() -> None:
        async with stdio(env, tmp_path / "server.log", *NO_HOTKEYS) as client:
            shot = await client.call_tool("screenshot", {})
            info = data(shot)
            assert image(shot).size == (info["width"], info["height"])
            x, y = point(boxes["agree"], 1280, 800)
            done_click = await client.call_tool("click", {"x": x, "y": y, "target": "newsletter"})
            assert not done_click.is_error

    anyio.run(test)
    wait_until(lambda: read_state(state).get("agree") is True, 5, "the check box to be ticked")


def test_doctor_rows_on_mutter(gnome_mutter: Gnome) -> None:
    result = run_tracer("doctor", "--platform", "gnome", "--json", "-b", "openai", "--base-url",
                        "http://127.0.0.1:9/v1", env=gnome_mutter.env(), timeout=60)
    rows = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    for name in ("platform", "display", "PipeWire", "GStreamer pipewiresrc", "screen capture",
                 "input control"):
        assert rows[name]["status"] == "ok", rows[name]
    assert "RemoteDesktop" in rows["display"]["detail"]
    assert "1280x800" in rows["screen capture"]["detail"]
    shortcut = rows["stop shortcut"]
    assert shortcut["status"] == "skipped" and "tracer stop" in shortcut["detail"]
    assert rows["kill hotkey"]["status"] == "fail"
    assert "Settings > Keyboard" in rows["kill hotkey"]["fix"]
    print("\n" + "\n".join(f"{n}: {c['status']}: {c['detail']}" for n, c in rows.items()
                           if n in ("display", "screen capture", "input control",
                                    "stop shortcut", "kill hotkey")))


def test_record_is_refused_with_the_alternatives(gnome_mutter: Gnome, tmp_path: Path) -> None:
    result = run_tracer("record", str(tmp_path / "m.yaml"),
                        env=gnome_mutter.env(), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "tracer sandbox start" in result.stderr and "X11" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1



class ClipboardOwner:
    """Another remote desktop session owning the clipboard with some text, as a program of the
    user's would."""

    def __init__(self, gnome: Gnome, text: str) -> None:
        from tracer_cli.desktop.platforms.dbus_client import Bus

        self.text = text
        self.bus = Bus(gnome.session.env["DBUS_SESSION_BUS_ADDRESS"])
        (self.path,) = self.bus.call("org.gnome.Mutter.RemoteDesktop",
                                     "/org/gnome/Mutter/RemoteDesktop",
                                     "org.gnome.Mutter.RemoteDesktop", "CreateSession")
        self.bus.subscribe(self._transfer, path=self.path, member="SelectionTransfer")
        self.call("Start")
        self.call("EnableClipboard", "a{sv}", ({},))
        self.call("SetSelection", "a{sv}", ({"mime-types": ("as", ["text/plain;charset=utf-8"])},))

    def call(self, method: str, sig: str = "", body: tuple = ()) -> tuple:
        return self.bus.call("org.gnome.Mutter.RemoteDesktop", self.path,
                             "org.gnome.Mutter.RemoteDesktop.Session", method, sig, body)

    def _transfer(self, msg: Any) -> None:
        (fd,) = self.call("SelectionWrite", "u", (msg.body[1],))
        with fd.to_file("wb") as pipe:
            pipe.write(self.text.encode())
        self.call("SelectionWriteDone", "ub", (msg.body[1], True))

    def read(self) -> str:
        (fd,) = self.call("SelectionRead", "s", ("text/plain;charset=utf-8",))
        with fd.to_file("rb") as pipe:
            os.set_blocking(pipe.fileno(), True)
            return pipe.read().decode()

    def close(self) -> None:
        self.call("Stop")
        self.bus.close()


def test_the_users_clipboard_text_is_offered_again_after_a_paste(gnome_mutter: Gnome) -> None:
    from tracer_cli.desktop.platforms.gnome import GnomePlatform

    app = gnome_mutter.probe()
    owner = ClipboardOwner(gnome_mutter, "the user's own text")
    saved = dict(os.environ)
    os.environ.update(gnome_mutter.session.full_env)
    try:
        keyboard = GnomePlatform().open_input()
        try:
            keyboard.type_char("€")  # not on the keymap: pasted
            wait_until(lambda: app.text() == "€", 5, "the pasted €")
            assert owner.read() == "the user's own text"  # what a Ctrl+V of the user's gives
        finally:
            keyboard.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        owner.close()
