"""The run report built from run records: a 30-step run stays small, a plan run shows its whole
forecast, records from before a field existed still make a page, text from the model or the
screen is escaped, and the command fails in one line when it cannot do its work."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import run_tracer
from tests.fakes import DONE, FakeScreen, examples, make_agent, make_settings, script, step_plan
from tracer_cli.agent.runlog import RunLog, find_run
from tracer_cli.report.model import build
from tracer_cli.report.render import render, write_report

WORDS = ("File Edit View Insert Format Tools Help Save Cancel OK Name Address Search Settings "
         "Downloads Documents Pictures Music Terminal Browser Inbox Reply Forward").split()


def busy_desktop(size: tuple[int, int] = (1920, 1080), seed: int = 1) -> Image.Image:
    """A screen full of windows, text and a photo-like patch: harder to compress than most."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (40, 70, 110))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    for _ in range(6):
        x, y = rng.randrange(0, size[0] - 600), rng.randrange(0, size[1] - 400)
        draw.rectangle([x, y, x + 600, y + 400], fill=(245, 245, 245), outline=(0, 0, 0))
        for row in range(y + 30, y + 390, 18):
            draw.text((x + 10, row), " ".join(rng.choices(WORDS, k=9)), fill=(20, 20, 20), font=font)
    noise = Image.effect_noise((320, 240), 60).convert("RGB")
    image.paste(noise, (size[0] - 360, 40))
    return image


def agent_run(tmp_path: Path, root: Path, clicks: int, screen: FakeScreen | None = None) -> RunLog:
    answers = [step_plan({"action": "click", "x": 100 + 25 * n, "y": 200 + 20 * (n % 30),
                          "target": f"button {n}"},
                         {"action": "type", "text": f"text {n}"}, thought=f"step {n} <of> many")
               for n in range(clicks)]
    agent, _, _ = make_agent(script(tmp_path, *answers, DONE),
                             make_settings(max_steps=clicks + 1), screen=screen)
    log = RunLog(root, "do", "a long task")
    agent.listeners.append(log)
    agent.run("a long task")
    return log


def test_a_30_step_run_makes_a_report_well_under_10_mb(tmp_path: Path) -> None:
    screen = FakeScreen((1920, 1080))
    screen.image = busy_desktop()
    log = agent_run(tmp_path, tmp_path / "runs", 29, screen)
    summary = find_run(tmp_path / "runs", "last")
    assert len(summary.steps()) == 30
    out = tmp_path / "report.html"
    report = write_report(summary, out)
    assert len(report.cards) == 30
    size = out.stat().st_size
    print(f"30-step report of a busy 1920x1080 screen: {size / 1e6:.2f} MB")
    # The promise is 10 MB: keep well under (the zoomed-in part of each step, a second and
    # sharper picture, adds about a fifth to the whole screen's preview).
    assert size < 7_500_000, f"{size / 1e6:.1f} MB"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert log.dir == summary.path


def test_cards_follow_the_record(tmp_path: Path) -> None:
    agent_run(tmp_path, tmp_path / "runs", 3)
    summary = find_run(tmp_path / "runs", "last")
    report = build(summary)
    steps = summary.steps()
    assert [c.number for c in report.cards] == [s["step"] for s in steps]
    first = report.cards[0]
    monitor = summary.meta["monitor"]
    (x, y), (w, h) = steps[0]["points"][0], steps[0]["image_size"]
    assert first.executed == pytest.approx(((x - monitor["left"]) * w / monitor["width"],
                                            (y - monitor["top"]) * h / monitor["height"]))
    assert first.marks is not None and [m.number for m in first.marks.marks] == [1]
    assert first.marks.marks[0].notes == ['types "text 0"']  # the forecast's next step
    assert first.thought == "step 0 <of> many"
    assert report.model_calls == 4 and report.status == "done"
    assert set(report.phases) >= {"capture", "model", "act"}


def test_text_from_the_model_is_escaped(tmp_path: Path) -> None:
    agent_run(tmp_path, tmp_path / "runs", 1)
    page = render(build(find_run(tmp_path / "runs", "last")))
    assert "step 0 &lt;of&gt; many" in page and "<of>" not in page
    # nothing that loads: every src is inline data, and the policy forbids the rest
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', page))
    assert "default-src 'none'" in page
    assert "http://" not in page.replace("http://www.w3.org", "")


def test_a_plan_run_shows_the_whole_forecast(tmp_path: Path) -> None:
    agent, _, _ = make_agent(script(tmp_path, step_plan(
        {"action": "click", "x": 100, "y": 100, "target": "A"},
        {"action": "type", "text": "hello"},
        {"action": "drag", "x": 300, "y": 300, "x2": 600, "y2": 400})))
    log = RunLog(tmp_path / "runs", "plan", "plan it")
    agent.listeners.append(log)
    agent.preview("plan it")
    log.finish("planned")
    card = build(find_run(tmp_path / "runs", "last")).cards[0]
    assert card.marks is not None
    assert [(m.number, m.dimmed) for m in card.marks.marks] == [(1, False), (3, False)]
    assert card.marks.marks[0].notes == ['types "hello"'] and card.marks.marks[1].end is not None


def test_an_old_record_still_makes_a_page(tmp_path: Path) -> None:
    """Written before image sizes, settings, monitor, timings or checks were recorded."""
    run = tmp_path / "runs" / "20250101-120000-do-old"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"id": run.name, "task": "old", "status": "done"}))
    Image.new("RGB", (640, 400), "white").save(run / "step-001.png")
    (run / "steps.jsonl").write_text(json.dumps({
        "step": 1, "screenshot": "step-001.png", "action": {"action": "click", "x": 500, "y": 500},
        "points": [[320, 200]], "outcome": "ok"}) + "\n" + json.dumps({"step": 2, "outcome": "ok"})
        + "\n{cut off by a cra")
    report = build(find_run(tmp_path / "runs", "last"))
    assert len(report.cards) == 2 and report.cards[0].executed == (320, 200)
    assert "old" in render(report)


def test_a_screenshot_outside_the_run_or_broken_is_left_out(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20250101-120000-do-odd"
    run.mkdir(parents=True)
    Image.new("RGB", (64, 40), "red").save(tmp_path / "elsewhere.png")
    (run / "broken.png").write_bytes(b"not a png")
    (run / "run.json").write_text(json.dumps({"id": run.name, "task": "odd", "status": "done"}))
    (run / "steps.jsonl").write_text("\n".join(json.dumps(line) for line in (
        {"step": 1, "screenshot": "../../elsewhere.png"}, {"step": 2, "screenshot": "broken.png"})))
    report = build(find_run(tmp_path / "runs", "last"))
    assert [c.image for c in report.cards] == ["", ""]
    assert "no screenshot recorded" in render(report)


def test_report_command_errors_are_one_line(tmp_path: Path, tracer_home: Path) -> None:
    none = run_tracer("logs", "report")
    assert none.returncode == 2 and "Traceback" not in none.stderr
    assert "no runs recorded" in none.stderr and len(none.stderr.strip().splitlines()) <= 2

    agent_run(tmp_path, tracer_home / "runs", 1)
    missing = run_tracer("logs", "report", "nosuchrun")
    assert missing.returncode == 2 and "no run 'nosuchrun'" in missing.stderr

    nowhere = run_tracer("logs", "report", "--out", str(tmp_path / "no" / "such" / "dir.html"))
    assert nowhere.returncode == 2 and "Traceback" not in nowhere.stderr
    assert "cannot write" in nowhere.stderr and "--out" in nowhere.stderr

    made = run_tracer("logs", "report", "last")
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    assert path.name == "report.html" and path.parent.parent == tracer_home / "runs"
    assert re.search(r"report of \S+: 2 steps, [\d.]+ KB", made.stderr)


def test_a_macro_step_that_clicked_a_point_makes_a_card(tmp_path: Path) -> None:
    """click: {point: [x, y]} finds no text: its `found` has a point and a score only."""
    run = tmp_path / "runs" / "20250101-120000-run-point"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"id": run.name, "kind": "run", "task": "point",
                                              "status": "done"}))
    Image.new("RGB", (640, 400), "white").save(run / "step-001.jpg")
    (run / "steps.jsonl").write_text(json.dumps({
        "step": 1, "where": "m.yaml:1", "action": {"click": {"point": [120, 40]}},
        "describe": "click (120,40)", "found": [{"point": [120, 40], "score": 1.0}],
        "points": [[120, 40]], "screenshot": "step-001.jpg", "image_size": [640, 400],
        "outcome": "ok", "status": "ok"}) + "\n")
    report = build(find_run(tmp_path / "runs", "last"))
    page = render(report)
    assert report.cards[0].executed == (120, 40)
    assert "point at (120, 40), score 1</li>" in page


def window_on_black(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    """An empty (Xvfb's black) screen with one small window on it."""
    image = Image.new("RGB", size, "black")
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=(220, 220, 220))
    draw.text((box[0] + 30, box[1] + 30), "Name", fill="black", font=ImageFont.load_default(size=14))
    return image


def picture(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_a_small_window_on_an_empty_screen_is_shown_zoomed_in(tmp_path: Path) -> None:
    """Each card shows the window, cut out at the screenshot's own resolution, with the markers
    laid out again for it; steps that acted on nothing (typing, done) show what the step before
    showed. The whole screen and its markers stay on the page, in the same coordinates."""
    screen = FakeScreen((1920, 1080))
    screen.image = window_on_black((1920, 1080), (100, 120, 739, 539))
    agent_run(tmp_path, tmp_path / "runs", 2, screen)
    report = build(find_run(tmp_path / "runs", "last"))
    assert [c.title.split()[0] for c in report.cards] == ["click", "click", "done"]
    first = report.cards[0]
    width, height = first.size  # the picture the model saw: the screen scaled to its budget
    sx, sy = width / 1920, height / 1080
    assert first.region is not None and first.region.source == "content"
    left, top, right, bottom = first.region.box
    assert left <= 100 * sx and top <= 120 * sy and right >= 740 * sx and bottom >= 540 * sy
    assert (right - left, bottom - top) == (640, 400)  # the window is smaller: the minimum
    assert first.executed is not None and left < first.executed[0] < right
    assert picture(first.crop).size == (640, 400)  # cut at the screenshot's own resolution
    assert picture(first.image).width == min(width, 1280)  # the whole screen: the preview
    assert [c.region.source for c in report.cards] == ["content", "content", "previous"]  # type: ignore[union-attr]
    assert len({c.region.box for c in report.cards}) == 1  # type: ignore[union-attr]
    zoom, whole = first.zoom_marks, first.marks
    assert zoom is not None and whole is not None
    assert (zoom.left, zoom.top, zoom.width, zoom.height) == (left, top, right - left, bottom - top)
    assert zoom.marks[0].point == whole.marks[0].point == first.executed  # one set of coordinates
    assert zoom.font < whole.font  # sized for the part shown, not for the whole screen
    assert left <= zoom.marks[0].tag[0] and zoom.marks[0].tag[2] <= right  # the number in view
    page = render(report)
    assert page.count(f'viewBox="{left} {top} {right - left} {bottom - top}"') == 3
    assert page.count(f'viewBox="0 0 {width} {height}"') == 3
    assert page.count('class="frame zoom"') == page.count('class="frame whole"') == 3
    assert "the drawn part of the screen: " in page and "as at the step before: " in page


def test_the_window_the_record_names_wins(tmp_path: Path) -> None:
    """A step's ``window`` (input points, like ``points``) is what its card zooms in on, over
    what else is drawn on the screen; a step without one falls back."""
    run = tmp_path / "runs" / "20250101-120000-do-window"
    run.mkdir(parents=True)
    monitor = {"left": 100, "top": 0, "width": 1280, "height": 800, "input_scale": [1, 1]}
    (run / "run.json").write_text(json.dumps({"id": run.name, "kind": "do", "task": "window",
                                              "status": "done", "monitor": monitor}))
    image = window_on_black((1280, 800), (300, 100, 900, 500))
    ImageDraw.Draw(image).rectangle((40, 620, 240, 780), fill="white")  # another window
    image.save(run / "step-001.png")
    lines = [{"step": 1, "screenshot": "step-001.png", "image_size": [1280, 800],
              "action": {"action": "click", "x": 400, "y": 300}, "points": [[500, 300]],
              "window": [400, 100, 1000, 500], "outcome": "ok"},
             {"step": 2, "screenshot": "step-001.png", "action": {"action": "click"},
              "points": [[500, 300]], "outcome": "ok"}]
    (run / "steps.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    first, second = build(find_run(tmp_path / "runs", "last")).cards
    assert first.executed == (400, 300)
    assert first.region is not None and first.region.source == "window"
    left, top, right, bottom = first.region.box
    assert left <= 300 - 8 and right >= 900 + 8 and top == 100 - 8 and bottom == 500 + 8
    assert right - left == 640  # the window padded is 616 wide: grown to the minimum
    assert second.region is not None and second.region.source == "action"  # no window named
    assert second.region.box != first.region.box


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
STEP_KEYS = ("step", "screenshot", "image_size", "plan", "revision", "from_forecast", "check",
             "attempts", "action", "points", "grounding", "risk", "effect", "outcome", "status",
             "timings", "where", "found", "describe", "monitor", "window")
META_KEYS = ("kind", "task", "status", "reason", "answer", "settings", "monitor", "started",
             "seconds", "model_calls", "forecast_steps", "pauses")


def _fields(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, object]]:
    return st.dictionaries(st.sampled_from(keys), JSON, max_size=len(keys))


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=_fields(META_KEYS), lines=st.lists(_fields(STEP_KEYS) | JSON, max_size=4),
       kind=st.sampled_from(["do", "plan", "run", None]))
def test_any_record_makes_a_page(tmp_path: Path, meta: dict[str, object], lines: list[object],
                                 kind: str | None) -> None:
    """Whatever a record holds or lacks (fields of the wrong type, lines that are no mapping),
    the report is made; a screenshot is there for every step that names step-001.png."""
    run = tmp_path / "runs" / "20250101-120000-run-any"
    run.mkdir(parents=True, exist_ok=True)
    if kind is not None:
        meta = {**meta, "kind": kind}
    (run / "run.json").write_text(json.dumps(meta))
    if not (run / "step-001.png").exists():
        Image.new("RGB", (64, 40), "white").save(run / "step-001.png")
    text = "\n".join(json.dumps({**line, "screenshot": "step-001.png"} if isinstance(line, dict)
                                and "screenshot" in line else line) for line in lines)
    (run / "steps.jsonl").write_text(text + "\n")
    render(build(find_run(tmp_path / "runs", "last")))
