"""`tracer logs report` checked in a real headless Chromium: a real `tracer do` run on Xvfb (the
demo form, a model served over HTTP), its report loaded over the DevTools protocol. No console
error, no request beyond the file itself, one card per step, each picture zoomed in on the part
of the screen that matters with each marker where the run record says the step acted, the
whole screen (markers in place) on a click or from the keyboard, keyboard navigation, every
phase's name and time readable; screenshots of the page are kept in test-artifacts/ for people
to look at."""

from __future__ import annotations

import base64
import io
import re
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.browser import Browser, artifacts
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    DEMO_FORM,
    Notes,
    click,
    done,
    last_run,
    park_pointer,
    plan,
    run_dir,
    tracer_env,
    wait_drawn,
    wait_for_window,
    wait_until,
)

pytestmark = pytest.mark.display

NAME, GREEN, SUBMIT = click(500, 300, "Name field"), click(600, 450, "Green button"), \
    click(500, 650, "Submit button")
TYPE = {"action": "type", "text": "Ada </script><img src=http://127.0.0.1:9/x.png>"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser(1400, 1000)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def run(display: Display, programs: Any, tmp_path: Path, chat_server: Any) -> dict[str, Any]:
    """A real agent run filling in examples/demo_form.py: a click, typing (with markup in it),
    two clicks from the forecast, a second model call, done."""
    result = tmp_path / "form.json"
    park_pointer(display)
    app = programs(display, [sys.executable, str(DEMO_FORM), "--out", str(result)], "demo_form")
    wait_for_window(app, "^tracer demo form$")
    wait_drawn(display)
    chat_server.queue(plan(NAME, TYPE, GREEN, SUBMIT, done(), thought="Fill in the form."),
                      plan(done("submitted")))
    env = tracer_env(display)
    proc = run_tracer("do", "fill in the form <b>now</b>", "--yes", "--base-url",
                      chat_server.base_url, env=env, timeout=90)
    assert proc.returncode == 0, proc.stderr
    wait_until(result.exists, 5, "the form to write its result")
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("report: tracer logs report ") and last.endswith(" --open")
    return {"env": env, "record": last_run(env), "dir": run_dir(env),
            "report_command": last.split(": ", 1)[1]}


def expected_point(record: dict[str, Any], step: dict[str, Any]) -> tuple[float, float]:
    """Where the step acted, in pixels of its screenshot: the input point of the record mapped
    through the monitor (worked out here, apart from the report's own code)."""
    monitor = record["run"]["monitor"]
    sx, sy = monitor["input_scale"]
    (x, y), (w, h) = step["points"][0], step["image_size"]
    return ((x * sx - monitor["left"]) * w / monitor["width"],
            (y * sy - monitor["top"]) * h / monitor["height"])


VIEW = """(() => {
    const frame = document.querySelector('#step-%s .frame.%s');
    if (!frame) return null;
    const img = frame.querySelector('img'), ring = frame.querySelector('.mark.lead .ring');
    const box = img.getBoundingClientRect(), r = ring && ring.getBoundingClientRect();
    return {left: box.left, top: box.top, width: box.width, height: box.height,
            natural: img.naturalWidth, src: img.src, region: frame.dataset.region || null,
            column: frame.parentNode.getBoundingClientRect().width,
            ring: r && [r.left + r.width / 2, r.top + r.height / 2],
            number: ring && ring.parentNode.dataset.number};
})()"""


def view(browser: Browser, step: int | str, which: str) -> dict[str, Any] | None:
    """What a card's picture (``zoom``: the part shown first, ``whole``: the whole screen) shows
    and where it is on the page."""
    return browser.evaluate(VIEW % (step, which))


def region_of(shown: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in shown["region"].split())


def on_page(shown: dict[str, Any], box: tuple[float, ...], point: tuple[float, float]) -> tuple[float, float]:
    """Where ``point`` (screenshot pixels) is on the page when the picture shows ``box`` of the
    screenshot over its element."""
    (x0, y0, x1, y1), (x, y) = box, point
    return (shown["left"] + (x - x0) * shown["width"] / (x1 - x0),
            shown["top"] + (y - y0) * shown["height"] / (y1 - y0))


def same_picture(src: str, screenshot: Path, box: tuple[int, ...]) -> float:
    """How far the picture a data: URI holds is from ``box`` of the screenshot file (the mean
    difference of grey levels, 0..255: a JPEG of the same pixels is a few)."""
    shown = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L")
    with Image.open(screenshot) as image:
        part = image.convert("L").crop(box).resize(shown.size, Image.Resampling.LANCZOS)
    return ImageStat.Stat(ImageChops.difference(shown, part)).mean[0]


def test_the_report_in_chromium(run: dict[str, Any], browser: Browser, tmp_path: Path) -> None:
    env, record = run["env"], run["record"]
    out = tmp_path / "report.html"
    made = run_tracer("logs", "report", "last", "--out", str(out), env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(out.resolve())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    print(f"5-step demo form report: {out.stat().st_size / 1e3:.0f} KB")
    assert out.stat().st_size < 2_000_000  # five steps

    browser.open(out.as_uri())
    browser.drain(0.5)
    assert browser.console_errors() == []
    assert browser.requests() == [out.as_uri()]  # nothing but the file itself: no network at all

    steps = record["steps"]
    cards = browser.evaluate("[...document.querySelectorAll('main .card')].map(c => c.dataset.step)")
    assert cards == [str(s["step"]) for s in steps]
    thumbs = "#filmstrip a img[src^='data:image/jpeg']"
    assert browser.evaluate(f"document.querySelectorAll(\"{thumbs}\").length") == 5
    # The typed markup is text on the page, not markup: no <img> came out of it (every picture
    # is one of a card's two views, a data: URI).
    assert browser.evaluate("[...document.querySelectorAll('main img')].every(i => "
                            "i.parentNode.matches('.shot > .frame') && i.src.startsWith('data:'))")
    assert browser.evaluate("document.querySelectorAll('main .frame.whole img').length") == 5
    assert "</script><img" in browser.evaluate("document.querySelector('#step-2 .keys').textContent")
    assert browser.evaluate("document.querySelector('h1').textContent") == "fill in the form <b>now</b>"
    header = browser.evaluate("document.querySelector('header').innerText")
    for text in ("done", "submitted", "model calls", "2", "3 steps without a model call", "model"):
        assert text in header, text
    # Every phase's name and time is written out whole, however short the phase (its slice of
    # the bar has no room for a label: the bar carries none).
    totals: dict[str, float] = {}
    for step in steps:
        for name, seconds in step["timings"].items():
            totals[name] = totals.get(name, 0.0) + seconds
    legend = browser.evaluate("""[...document.querySelectorAll('header .legend li')].map(li => ({
        phase: li.dataset.phase, text: li.innerText, width: li.getBoundingClientRect().width,
        cut: li.scrollWidth > li.clientWidth + 1,
        font: parseFloat(getComputedStyle(li).fontSize)}))""")
    assert sorted(item["phase"] for item in legend) == sorted(totals)
    for item in legend:
        assert not item["cut"] and item["width"] > 0 and item["font"] >= 11, item
        total = totals[item["phase"]]
        said = f"{total:.2f} s" if total < 10 else f"{total:.1f} s"  # as the page writes seconds
        assert re.match(rf"{item['phase']} {said} \d+%$", item["text"]), item
    assert browser.evaluate("document.querySelector('header .phases').innerText.trim()") == ""

    size = tuple(steps[0]["image_size"])
    for step in steps:
        zoom = view(browser, step["step"], "zoom")
        assert zoom is not None, f"step {step['step']} shows the whole screen, not zoomed in"
        box = region_of(zoom)
        # The picture is that part of the screenshot, at its own resolution, shown larger than
        # the whole screen would be in the same column, and of the same shape as the part.
        assert same_picture(zoom["src"], run["dir"] / step["screenshot"], box) < 6
        assert zoom["natural"] == box[2] - box[0]  # 1280 pixels wide: no preview scaling
        assert abs(zoom["width"] / zoom["height"] - (box[2] - box[0]) / (box[3] - box[1])) < 0.01
        assert zoom["width"] / (box[2] - box[0]) > 1.2 * zoom["column"] / size[0]
        assert 0 <= box[0] < box[2] <= size[0] and 0 <= box[1] < box[3] <= size[1]
        assert box[2] - box[0] >= 640 and box[3] - box[1] >= 400  # never a pointless tiny crop
        if not step.get("points"):  # typing, done: what the step before showed
            assert box == region_of(view(browser, step["step"] - 1, "zoom")), step["step"]
            continue
        ex, ey = expected_point(record, step)
        assert box[0] < ex < box[2] and box[1] < ey < box[3], (step["step"], box, ex, ey)
        mark = browser.evaluate(f"({{...document.querySelector('#step-{step['step']}').dataset}})")
        assert abs(float(mark["x"]) - ex) < 1 and abs(float(mark["y"]) - ey) < 1, (step["step"], mark)
        # ...and drawn there on the page, over the zoomed-in picture
        assert zoom["number"] == str(step["step"])
        cx, cy = on_page(zoom, box, (ex, ey))
        assert abs(zoom["ring"][0] - cx) < 2 and abs(zoom["ring"][1] - cy) < 2, (step["step"], zoom)
    # The first card shows the rest of the forecast, dimmed, numbered on from the step.
    dimmed = browser.evaluate("[...document.querySelectorAll('#step-1 .zoom .mark.dim')]"
                              ".map(m => m.dataset.number)")
    assert dimmed == ["3", "4"]  # the type step has no point: its text sits beside step 1
    assert 'types "Ada' in browser.evaluate("document.querySelector('#step-1 .zoom .mark.lead').textContent")
    assert "ran from the forecast" in browser.evaluate("document.querySelector('#step-3').innerText")

    browser.screenshot(artifacts() / "report.png")

    def current() -> str:
        return browser.evaluate("document.body.dataset.current")

    def top_of(step: str) -> float:
        return browser.evaluate(f"document.querySelector('#step-{step}').getBoundingClientRect().top")

    assert current() == "1"
    browser.press("j", "KeyJ", 74)
    assert current() == "2" and top_of("2") < 150
    browser.press("ArrowRight", "ArrowRight", 39)
    assert current() == "3" and top_of("3") < 150
    browser.screenshot(artifacts() / "report-step3.png")
    browser.press("k", "KeyK", 75)
    assert current() == "2"
    browser.press("End", "End", 35)
    assert current() == "5"
    browser.press("j", "KeyJ", 74)
    assert current() == "5"  # stays on the last
    browser.press("Home", "Home", 36)
    assert current() == "1"
    assert browser.evaluate("document.querySelector('#step-1').classList.contains('current')")

    # The whole screen: a click on the picture shows it at full size, the click's marker on
    # the same pixel of the screen; Escape goes back to the zoomed-in picture.
    zoom = view(browser, 1, "zoom")
    assert zoom is not None and view(browser, 1, "whole")["width"] == 0  # not shown meanwhile
    browser.click(zoom["left"] + 30, zoom["top"] + 30)
    assert browser.evaluate("document.querySelector('#step-1 .shot.full') !== null")
    whole = view(browser, 1, "whole")
    assert abs(whole["width"] - whole["natural"]) < 1  # shown at its own size
    assert same_picture(whole["src"], run["dir"] / steps[0]["screenshot"], (0, 0, *size)) < 6
    assert view(browser, 1, "zoom")["width"] == 0
    cx, cy = on_page(whole, (0, 0, *size), expected_point(record, steps[0]))
    assert abs(whole["ring"][0] - cx) < 2 and abs(whole["ring"][1] - cy) < 2, whole
    browser.screenshot(artifacts() / "report-whole.png")
    browser.press("Escape", "Escape", 27)
    assert browser.evaluate("document.querySelector('.shot.full') === null")
    assert view(browser, 1, "zoom")["width"] > 0
    assert browser.evaluate("document.activeElement.matches('#step-1 .frame.zoom')")
    # From the keyboard: from the card, Tab reaches the picture (a button), Space shows the
    # whole screen, Escape goes back to the picture.
    browser.press("Home", "Home", 36)
    assert browser.evaluate("document.activeElement.matches('#step-1')")
    browser.press("Tab", "Tab", 9)
    assert browser.evaluate("document.activeElement.matches('#step-1 .frame.zoom')")
    browser.press(" ", "Space", 32)
    assert browser.evaluate("document.querySelector('#step-1 .shot.full') !== null")
    assert browser.evaluate("document.activeElement.matches('#step-1 .frame.whole')")
    browser.press("Escape", "Escape", 27)
    assert browser.evaluate("document.querySelector('.shot.full') === null")
    assert browser.evaluate("document.activeElement.matches('#step-1 .frame.zoom')")
    browser.press("f", "KeyF", 70)
    assert browser.evaluate("document.querySelector('#step-1 .shot.full') !== null")
    assert view(browser, 1, "whole")["width"] > 0
    browser.press("j", "KeyJ", 74)  # moving on keeps the full view, now of the next step
    assert browser.evaluate("document.querySelector('#step-2 .shot.full') !== null")
    browser.press("Escape", "Escape", 27)
    # The filmstrip takes you to a step.
    thumb = browser.evaluate("(() => { const r = document.querySelector('#filmstrip a[data-step=\"4\"]')"
                             ".getBoundingClientRect(); return [r.left + 10, r.top + 10]; })()")
    browser.click(*thumb)
    assert current() == "4"
    browser.drain(0.2)
    assert browser.console_errors() == []


def test_the_report_command_the_run_names_works(run: dict[str, Any]) -> None:
    env = {**run["env"], "BROWSER": "true"}  # --open hands the file to a "browser" that exits 0
    args = run["report_command"].split()[1:]
    made = run_tracer(*args, env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    written = Path(made.stdout.strip())
    assert written.parent.name == run["record"]["run"]["id"] and written.name == "report.html"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


SAVE_NOTE = """\
name: save a note
steps:
  - click: Clear
  - click: {text: Name, offset: [180, 0]}
  - type: Ada Lovelace
  - click: Save
  - wait_for: "Saved Ada Lovelace"
"""


def test_a_macro_runs_report(display: Display, start_notes: Callable[..., Notes], tmp_path: Path,
                             browser: Browser) -> None:
    """Each card of a macro run: the step's file:line, what OCR found (its box drawn), and the
    marker at the point found on the screenshot the step looked at. The window is small on an
    empty (black) screen: each picture shows the window, and the whole screen is a click away."""
    notes = start_notes(display, "640x420+60+60")
    window = (60, 60, 700, 480)
    macro = tmp_path / "notes.yaml"
    macro.write_text(SAVE_NOTE, encoding="utf-8")
    env = tracer_env(display)
    ran = run_tracer("run", str(macro), env=env)
    assert ran.returncode == 0, ran.stderr
    assert notes.state()["saved"] == [["Ada Lovelace", ""]]
    assert ran.stderr.strip().splitlines()[-1].startswith("report: tracer logs report ")
    record = last_run(env)
    out = tmp_path / "macro.html"
    made = run_tracer("logs", "report", "--out", str(out), env=env, timeout=60)
    assert made.returncode == 0, made.stderr

    browser.open(out.as_uri())
    browser.drain(0.3)
    assert browser.console_errors() == [] and browser.requests() == [out.as_uri()]
    assert browser.evaluate("document.querySelectorAll('main .card').length") == 5
    save = record["steps"][3]
    assert save["found"][0]["text"] == "Save" and save["screenshot"].endswith(".jpg")
    card = browser.evaluate("""(() => {
        const card = document.querySelector('#step-4');
        const mark = card.querySelector('.mark.lead');
        return {text: card.innerText, x: +mark.dataset.x, y: +mark.dataset.y,
                boxes: card.querySelectorAll('.zoom rect.found').length,
                caption: card.querySelector('figcaption').innerText};
    })()""")
    assert "notes.yaml:6" in card["text"] and "\u201cSave\u201d" in card["text"]
    point = tuple(float(v) for v in save["found"][0]["point"])
    assert (card["x"], card["y"]) == point
    assert card["boxes"] == 1
    # Every picture is the window (what is drawn on the black screen), a few pixels around it.
    for step in record["steps"]:
        if "screenshot" not in step:
            continue
        zoom = view(browser, step["step"], "zoom")
        assert zoom is not None, step
        box = region_of(zoom)
        assert all(0 <= window[i] - box[i] <= 12 for i in (0, 1)), (box, window)
        assert all(0 <= box[i] - window[i] <= 12 for i in (2, 3)), (box, window)
        assert same_picture(zoom["src"], run_dir(env) / step["screenshot"], box) < 6
    assert card["caption"].startswith("the drawn part of the screen: ")
    box = region_of(view(browser, 4, "zoom"))
    browser.evaluate("document.querySelector('#step-4').scrollIntoView()")
    zoom = view(browser, 4, "zoom")
    cx, cy = on_page(zoom, box, point)
    assert abs(zoom["ring"][0] - cx) < 2 and abs(zoom["ring"][1] - cy) < 2, zoom
    browser.screenshot(artifacts() / "report-macro.png")
    browser.click(zoom["left"] + 20, zoom["top"] + 20)  # the whole screen, the mark in place
    assert browser.evaluate("document.querySelector('#step-4 .shot.full') !== null")
    whole = view(browser, 4, "whole")
    assert whole["width"] == whole["natural"] == save["image_size"][0]
    cx, cy = on_page(whole, (0, 0, *save["image_size"]), point)
    assert abs(whole["ring"][0] - cx) < 2 and abs(whole["ring"][1] - cy) < 2, whole
    browser.screenshot(artifacts() / "report-macro-whole.png")
    browser.press("Escape", "Escape", 27)
    # The typing step looked at nothing (no screenshot): its card says what it typed.
    typed = browser.evaluate("document.querySelector('#step-3 .keys').textContent")
    assert typed == 'types "Ada Lovelace"'
    assert browser.evaluate("document.querySelector('#step-3 .noshot') !== null")
    assert browser.console_errors() == []


def test_a_macro_that_clicks_points_makes_a_report(display: Display, clicklog: Any,
                                                   tmp_path: Path) -> None:
    """A click at a point finds no text (its `found` has a point and a score only): the real
    `tracer logs report` of such a run makes its page (it was a jinja2 UndefinedError)."""
    macro = tmp_path / "points.yaml"
    macro.write_text("- click: {point: [200, 150]}\n- click: [300, 250]\n", encoding="utf-8")
    env = tracer_env(display)
    ran = run_tracer("run", str(macro), env=env)
    assert ran.returncode == 0, ran.stderr
    assert [(p["x"], p["y"]) for p in clicklog.wait_presses(2)] == [(200, 150), (300, 250)]
    made = run_tracer("logs", "report", "last", env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    assert "Traceback" not in made.stderr
    page = Path(made.stdout.strip()).read_text(encoding="utf-8")
    assert "point at (200, 150), score 1</li>" in page and "point at (300, 250)" in page
    assert page.count('class="card ') == 2
