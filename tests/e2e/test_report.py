"""`tracer logs report` checked in a real headless Chromium: a real `tracer do` run on Xvfb (the
demo form, a model served over HTTP), its report loaded over the DevTools protocol. No console
error, no request beyond the file itself, one card per step, each marker where the run record
says the step acted, keyboard navigation, full size on click; a screenshot of the page is kept
in test-artifacts/ for people to look at."""

from __future__ import annotations

import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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
    return {"env": env, "record": last_run(env), "report_command": last.split(": ", 1)[1]}


def expected_point(record: dict[str, Any], step: dict[str, Any]) -> tuple[float, float]:
    """Where the step acted, in pixels of its screenshot: the input point of the record mapped
    through the monitor (worked out here, apart from the report's own code)."""
    monitor = record["run"]["monitor"]
    sx, sy = monitor["input_scale"]
    (x, y), (w, h) = step["points"][0], step["image_size"]
    return ((x * sx - monitor["left"]) * w / monitor["width"],
            (y * sy - monitor["top"]) * h / monitor["height"])


def test_the_report_in_chromium(run: dict[str, Any], browser: Browser, tmp_path: Path) -> None:
    env, record = run["env"], run["record"]
    out = tmp_path / "report.html"
    made = run_tracer("logs", "report", "last", "--out", str(out), env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(out.resolve())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
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
    # The typed markup is text on the page, not markup: no <img> came out of it.
    assert browser.evaluate("document.querySelectorAll('main img').length") == 5
    assert "</script><img" in browser.evaluate("document.querySelector('#step-2 .keys').textContent")
    assert browser.evaluate("document.querySelector('h1').textContent") == "fill in the form <b>now</b>"
    header = browser.evaluate("document.querySelector('header').innerText")
    for text in ("done", "submitted", "model calls", "2", "3 steps without a model call", "model"):
        assert text in header, text

    for step in steps:
        if not step.get("points"):
            continue
        ex, ey = expected_point(record, step)
        mark = browser.evaluate(f"""(() => {{
            const card = document.querySelector('#step-{step["step"]}');
            const img = card.querySelector('.shot img');
            const ring = card.querySelector('.mark.lead .ring');
            const box = img.getBoundingClientRect(), r = ring.getBoundingClientRect();
            return {{x: +card.dataset.x, y: +card.dataset.y, left: box.left, top: box.top,
                     scale: box.width / img.naturalWidth, natural: img.naturalWidth,
                     cx: r.left + r.width / 2, cy: r.top + r.height / 2,
                     number: ring.parentNode.dataset.number}};
        }})()""")
        assert abs(mark["x"] - ex) < 1 and abs(mark["y"] - ey) < 1, (step["step"], mark, ex, ey)
        assert mark["number"] == str(step["step"])
        # ...and drawn there on the page, over the scaled picture (JPEG preview width vs record)
        scale = mark["scale"] * mark["natural"] / step["image_size"][0]
        assert abs(mark["cx"] - (mark["left"] + ex * scale)) < 2
        assert abs(mark["cy"] - (mark["top"] + ey * scale)) < 2
    # The first card shows the rest of the forecast, dimmed, numbered on from the step.
    dimmed = browser.evaluate("[...document.querySelectorAll('#step-1 .mark.dim')]"
                              ".map(m => m.dataset.number)")
    assert dimmed == ["3", "4"]  # the type step has no point: its text sits beside step 1
    assert 'types "Ada' in browser.evaluate("document.querySelector('#step-1 .mark.lead').textContent")
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

    # Full size: a click on the picture, Escape back; f does the same from the keyboard.
    frame = browser.evaluate("(() => { const r = document.querySelector('#step-1 .frame')"
                             ".getBoundingClientRect(); return [r.left + 30, r.top + 30]; })()")
    browser.click(*frame)
    assert browser.evaluate("document.querySelector('.shot.full') !== null")
    natural = browser.evaluate("(() => { const i = document.querySelector('.shot.full img');"
                               " return [i.getBoundingClientRect().width, i.naturalWidth]; })()")
    assert abs(natural[0] - natural[1]) < 1  # shown at its own size
    browser.press("Escape", "Escape", 27)
    assert browser.evaluate("document.querySelector('.shot.full') === null")
    browser.press("f", "KeyF", 70)
    assert browser.evaluate("document.querySelector('#step-1 .shot.full') !== null")
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
    marker at the point found on the screenshot the step looked at."""
    notes = start_notes(display, "640x420+60+60")
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
                boxes: card.querySelectorAll('rect.found').length};
    })()""")
    assert "notes.yaml:6" in card["text"] and "\u201cSave\u201d" in card["text"]
    assert (card["x"], card["y"]) == tuple(float(v) for v in save["found"][0]["point"])
    assert card["boxes"] == 1
    # The typing step looked at nothing (no screenshot): its card says what it typed.
    typed = browser.evaluate("document.querySelector('#step-3 .keys').textContent")
    assert typed == 'types "Ada Lovelace"'
    assert browser.evaluate("document.querySelector('#step-3 .noshot') !== null")
    browser.evaluate("document.querySelector('#step-4').scrollIntoView()")
    browser.screenshot(artifacts() / "report-macro.png")


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
