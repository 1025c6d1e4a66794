"""The real `tracer` on headless sway (the wlroots platform) with GTK 3 programs native on
Wayland: `tracer do` fills in a form driven by the OpenAI-compatible test server, `tracer plan`
sends no input, a macro finds its targets by text (OCR) and by image, the MCP server's screenshot
and click tools, `tracer doctor --platform wlroots`, and `tracer record` refused with the
alternatives. The programs' own state says what happened."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_tracer
from tests.e2e.conftest import (
    click,
    desktop_ended_mid_run,
    done,
    last_run,
    plan,
    request_image,
    request_image_size,
)
from tests.e2e.sway import App, SwayDesktop, wait_until
from tracer_cli.agent.profiles.geometry import QWEN3_VL

pytestmark = pytest.mark.wlroots

W, H = 1280, 800


def model_point(desk: SwayDesktop, app: App, box: list[int]) -> tuple[int, int]:
    """The model point (0..1000) of a widget's centre; ``box`` in window layout units."""
    x, y = app.to_desktop(box[0] + box[2] / 2, box[1] + box[3] / 2)
    return round(x * 1000 / W), round(y * 1000 / H)


def pixel(point: tuple[int, int]) -> list[int]:
    """The desktop pixel tracer clicks for a model point on the 1280x800 monitor."""
    return [min(round(point[0] * W / 1000), W - 1), min(round(point[1] * H / 1000), H - 1)]


@pytest.fixture
def form(sway: SwayDesktop, tmp_path: Path) -> Iterator[tuple[App, Path]]:
    """A fresh tests/apps/gtk_form.py on its own workspace (the tests change its state)."""
    state = tmp_path / "form.json"
    app = sway.form("form", state)
    sway.wait_settled()
    try:
        yield app, state
    finally:
        app.stop()


@pytest.fixture(scope="module")
def probe(sway: SwayDesktop) -> App:
    return sway.probe("runs-probe")


def read(state: Path) -> dict[str, Any]:
    return json.loads(state.read_text())


def test_do_fills_in_the_gtk_form(sway: SwayDesktop, form: tuple[App, Path], chat_server: Any,
                                  runtime: Path) -> None:
    app, state = form
    boxes = read(state)["boxes"]
    name, large, agree = (model_point(sway, app, boxes[k]) for k in ("name", "large", "agree"))
    steps = [click(*name, "Name field"), {"action": "hotkey", "keys": ["ctrl", "a"]},
             {"action": "type", "text": "Ada Lovelace"}, click(*large, "Large"),
             click(*agree, "newsletter")]
    for step in steps:
        chat_server.queue(plan(step, done("not yet")))
    chat_server.queue(plan(done("ordered for Ada")))
    env = sway.env(runtime)
    result = run_tracer("do", "order a large shirt for Ada Lovelace", "--yes", "-b", "openai",
                        "--base-url", chat_server.base_url, "--no-zoom", env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ordered for Ada"
    assert "kill switch armed: press ctrl+alt+shift+k to stop" in result.stderr
    got = wait_until(lambda: (s := read(state))["agree"] and s, 5, "the form's new state")
    assert (got["name"], got["size"], got["agree"]) == ("Ada Lovelace", "large", True)
    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert record["run"]["monitor"]["width"] == W
    clicks = [s["points"][0] for s in record["steps"] if s["action"]["action"] == "click"]
    assert clicks == [pixel(name), pixel(large), pixel(agree)]
    for body in chat_server.requests:
        assert request_image_size(body) == QWEN3_VL.size(W, H)


def test_plan_sends_no_input(sway: SwayDesktop, probe: App, chat_server: Any,
                             runtime: Path) -> None:
    from PIL import Image

    probe.show()
    sway.wait_settled()
    probe.clear()
    forecast = plan(click(500, 500, "the canvas"), {"action": "type", "text": "x"}, done("ok"),
                    thought="click, then type")
    chat_server.queue(forecast)
    env = sway.env(runtime)
    result = run_tracer("plan", "click the canvas", "--json", "-b", "openai", "--base-url",
                        chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == forecast
    assert probe.events() == []  # not a key, not a click
    _, raw = request_image(chat_server.requests[0])
    import io

    with Image.open(io.BytesIO(raw)) as seen:
        assert seen.size == QWEN3_VL.size(W, H)
        # the probe's blue canvas fills the screen below its entry: the model saw the screen
        r, g, b = seen.convert("RGB").getpixel((seen.width // 2, seen.height * 3 // 4))
        assert b > 150 and r < 100, (r, g, b)
    record = last_run(env)
    assert record["run"]["kind"] == "plan" and record["run"]["status"] == "planned"


def test_a_macro_finds_its_targets_by_text_and_by_image(sway: SwayDesktop,
                                                        form: tuple[App, Path],
                                                        tmp_path: Path, runtime: Path) -> None:
    app, state = form
    boxes = read(state)["boxes"]
    # The "Large" radio button cut out of a screenshot, as a user (or the recorder) would.
    shot = sway.grab()
    x, y, w, h = (round(v) for v in (*app.to_desktop(*boxes["large"][:2]), *boxes["large"][2:]))
    shot.crop((x, y, x + w, y + h)).save(tmp_path / "large.png")
    name_x, _ = app.to_desktop(boxes["name"][0] + 40, 0)
    macro = tmp_path / "order.yaml"
    macro.write_text(
        "name: order on sway\n"
        "steps:\n"
        "  - wait_for: Order a T-shirt\n"
        f"  - click: {{text: Name, offset: [{round(name_x) - 45}, 0]}}   # the field right of it\n"
        "  - hotkey: ctrl+a\n"
        '  - type: "Grace Hopper on Wayland"\n'
        "  - click: {image: large.png}\n", encoding="utf-8")
    env = sway.env(runtime)
    result = run_tracer("run", str(macro), "--yes", env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    got = wait_until(lambda: (s := read(state))["size"] == "large" and s, 5, "the form's state")
    assert got["name"] == "Grace Hopper on Wayland"
    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert any(f.get("text") == "Name" for s in record["steps"] for f in s.get("found", []))


def test_mcp_screenshot_and_click(sway: SwayDesktop, probe: App, tmp_path: Path,
                                  runtime: Path) -> None:
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from tests.e2e.test_mcp import data, image

    probe.show()
    sway.wait_settled()
    probe.clear()
    env = sway.env(runtime)
    params = StdioServerParameters(command=sys.executable, args=["-m", "tracer_cli", "mcp"],
                                   env=env, cwd=str(ROOT))

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
    assert b > 150 and r < 100, (r, g, b)  # the probe's canvas
    assert not clicked.is_error, clicked
    press = wait_until(lambda: probe.events("press"), 5, "the probe to get the click")
    got = [round(v) for v in probe.to_desktop(press[0]["x"], press[0]["y"])]
    assert got == pixel((250, 750))


def test_doctor_rows_on_sway(sway: SwayDesktop, chat_server: Any, runtime: Path) -> None:
    env = sway.env(runtime)
    result = run_tracer("doctor", "--json", "--platform", "wlroots", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    rows = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    print("\n" + "\n".join(f"{n}: {c['status']}: {c['detail']}" for n, c in rows.items()
                           if n in ("platform", "display", "screen capture", "input control",
                                    "kill hotkey", "pause hotkey", "stop and pause")))
    assert rows["platform"]["detail"].startswith("sway (Wayland) ")
    assert rows["platform"]["detail"].endswith("(--platform wlroots)")
    assert rows["display"]["status"] == "ok" and "screencopy v3" in rows["display"]["detail"]
    assert rows["screen capture"]["status"] == "ok"
    assert "monitor 1 grabbed through wlr-screencopy (1280x800" in rows["screen capture"]["detail"]
    assert rows["input control"]["status"] == "ok"
    assert rows["kill hotkey"]["detail"] == ("ctrl+alt+shift+k: the kill switch arms (a sway "
                                             "binding)")
    assert rows["pause hotkey"]["detail"] == ("ctrl+alt+shift+p: pauses and hands back (a sway "
                                              "binding)")
    assert rows["stop and pause"]["status"] == "ok"


def test_record_is_refused_with_the_alternatives(sway: SwayDesktop, tmp_path: Path,
                                                 runtime: Path) -> None:
    result = run_tracer("record", str(tmp_path / "m.yaml"), env=sway.env(runtime), timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "tracer record cannot listen on sway" in lines[0]
    assert "tracer sandbox start" in lines[0] and "X11 session" in lines[0]


def test_the_compositor_going_away_ends_the_run_with_one_line(tmp_path: Path, runtime: Path,
                                                               background_tracer: Any) -> None:
    """A sway of its own (the session's must live on), ended while `tracer do` waits for its
    model: the run ends at once with the one line that says so, not as a user's stop."""
    from tests.compositors import HeadlessSway
    from tests.e2e.sway import SwayDesktop

    desk = SwayDesktop(HeadlessSway(xwayland=False).start(), tmp_path)
    try:
        code, stderr, waited = desktop_ended_mid_run(background_tracer, desk.env(runtime),
                                                     desk.stop)
    finally:
        desk.stop()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert "the Wayland compositor sway at " in stderr and "went away" in stderr
    assert "start the desktop again and rerun" in stderr
    assert waited < 3, f"tracer took {waited:.1f} s to notice"
    print(f"\n{stderr.strip()}\n({waited * 1000:.0f} ms after sway ended)")
