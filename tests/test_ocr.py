"""OCR: the text-matching rules on hand-made lines, and the real engines (RapidOCR, Tesseract)
reading real X programs (a Tk form, an xterm) captured from an Xvfb display."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.conftest import EXAMPLES, ROOT, Display, Program
from tests.e2e.conftest import grab, show_in_xterm, wait_for_window, xdotool
from tracer_cli.errors import ConfigError
from tracer_cli.vision.ocr import (
    Box,
    Match,
    TextBox,
    char_boxes,
    find_text,
    get_engine,
    max_errors,
    read_region,
    reading_order,
    text_at,
)


def line(text: str, left: int, top: int, width: int | None = None, height: int = 20,
         parts: tuple[TextBox, ...] = ()) -> TextBox:
    width = width if width is not None else 10 * len(text)
    return TextBox(text, Box(left, top, left + width, top + height), 0.99, parts)


# --- Box ---------------------------------------------------------------------------------------


def test_box_geometry() -> None:
    box = Box(10, 20, 50, 40)
    assert (box.width, box.height, box.center) == (40, 20, (30, 30))
    assert box.shifted(5, -5) == Box(15, 15, 55, 35)
    assert box.contains(10, 20) and not box.contains(50, 40)
    assert box.distance(30, 30) == 0 and box.distance(52, 30) == 3


# --- find_text rules ---------------------------------------------------------------------------


def test_whole_line_match_keeps_the_line_box() -> None:
    lines = [line("Save", 100, 50)]
    assert find_text(lines, "Save") == [Match(Box(100, 50, 140, 70), 1.0, "Save")]


def test_case_and_whitespace_insensitive() -> None:
    lines = [line("SaveAs", 10, 10), line("SAVE  AS", 10, 40)]
    found = find_text(lines, "Save As")
    assert [m.text for m in found] == ["SaveAs", "SAVE  AS"]
    assert all(m.score == 1.0 for m in found)


def test_short_queries_tolerate_no_error() -> None:
    assert max_errors(4) == 0
    assert find_text([line("Cave", 0, 0)], "Save") == []
    assert find_text([line("Sava", 0, 0)], "Save") == []


def test_longer_queries_tolerate_small_errors() -> None:
    assert (max_errors(5), max_errors(8), max_errors(9), max_errors(14), max_errors(21)) == (
        1, 1, 2, 2, 3)
    assert [m.text for m in find_text([line("Cancal", 0, 0)], "Cancel")] == ["Cancal"]
    assert find_text([line("Cencal", 0, 0)], "Cancel") == []  # two edits for six characters
    found = find_text([line("Preferences...", 0, 0)], "Prefrences")  # one lost letter
    assert len(found) == 1 and 0.8 < found[0].score < 1.0


def test_ocr_look_alikes_are_folded() -> None:
    assert [m.text for m in find_text([line("F1le", 0, 0)], "File")] == ["F1le"]
    assert [m.text for m in find_text([line("L0G", 0, 0)], "log")] == ["L0G"]
    assert find_text([line("F1le", 0, 0)], "File", exact=True) == []


def test_word_boundaries() -> None:
    lines = [line("Saved", 0, 0), line("autosave on", 0, 30), line("SaveAs", 0, 60),
             line("Save, Close", 0, 90)]
    assert [m.text for m in find_text(lines, "Save")] == ["Save", "Save"]
    assert [m.box.top for m in find_text(lines, "Save")] == [60, 90]
    assert [m.text for m in find_text([line("OKCancel", 0, 0)], "Cancel")] == ["Cancel"]
    assert find_text([line("v2.0 build", 0, 0)], "2.0")[0].text == "2.0"  # letter/digit change


def test_part_of_a_line_gets_its_own_box() -> None:
    lines = [line("OK   Cancel", 100, 200, width=110)]  # 10 px per character
    (match,) = find_text(lines, "Cancel")
    assert match.text == "Cancel"
    assert match.box == Box(150, 200, 210, 220)
    (ok,) = find_text(lines, "ok")
    assert ok.box == Box(100, 200, 120, 220)


def test_part_boxes_from_the_engine_win_over_proportion() -> None:
    # The engine placed "OK" at 100..120 and "Cancel" far to the right at 300..360.
    parts = (TextBox("OK", Box(100, 200, 120, 220), 1.0), TextBox("Cancel", Box(300, 200, 360, 220), 1.0))
    lines = [line("OK Cancel", 100, 200, width=260, parts=parts)]
    (match,) = find_text(lines, "Cancel")
    assert match.box == Box(300, 200, 360, 220)
    assert char_boxes(lines[0])[2] is None  # the space


def test_exact_is_case_sensitive_substring() -> None:
    lines = [line("save as", 0, 0), line("Save As", 0, 30), line("Save Astrid", 0, 60)]
    assert [m.box.top for m in find_text(lines, "Save As", exact=True)] == [30, 60]
    assert find_text(lines, "SaveAs", exact=True) == []


def test_matches_in_reading_order_and_every_occurrence() -> None:
    lines = [line("OK", 300, 102), line("OK", 50, 100), line("OK OK", 10, 300)]
    found = find_text(lines, "OK")
    assert [(m.box.left, m.box.top) for m in found] == [(50, 100), (300, 102), (10, 300), (40, 300)]


def test_empty_query_matches_nothing() -> None:
    assert find_text([line("Save", 0, 0)], "  ") == []


def test_reading_order_rows() -> None:
    boxes = [Box(200, 11, 220, 30), Box(10, 12, 40, 31), Box(0, 50, 20, 70)]
    ordered = reading_order(boxes, key=lambda b: b)
    assert ordered == [Box(10, 12, 40, 31), Box(200, 11, 220, 30), Box(0, 50, 20, 70)]


# --- text_at -----------------------------------------------------------------------------------


def test_text_at_short_line_and_near_miss() -> None:
    lines = [line("Save As", 100, 100), line("Cancel", 300, 100)]
    assert text_at(lines, 110, 110).text == "Save As"
    assert text_at(lines, 305, 95).text == "Cancel"  # 5 px above
    assert text_at(lines, 305, 60) is None
    assert text_at(lines, 250, 110) is None


def test_text_at_narrows_a_long_line() -> None:
    long_line = line("File Edit View Go Bookmarks Tools Help", 0, 0)  # 10 px per character
    word = text_at([long_line], 155, 10)  # in "Go" (characters 15 and 16)
    assert word is not None and word.text == "Go"
    assert word.box == Box(150, 0, 170, 20)
    # Widgets far apart that OCR put on one line: the group under the point.
    parts = tuple(TextBox(t, Box(x, 0, x + 10 * len(t), 20), 1.0)
                  for t, x in (("Open", 0), ("a", 50), ("file", 70), ("Cancel", 400)))
    far = TextBox("Open a file Cancel", Box(0, 0, 460, 20), 1.0, parts)
    assert text_at([far], 420, 10).text == "Cancel"
    assert text_at([far], 20, 10).text == "Open a file"


# --- engines -----------------------------------------------------------------------------------


def test_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        get_engine("easyocr")
    assert "rapidocr" in err.value.hint


def test_auto_without_any_engine_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import tracer_cli.vision.ocr as ocr

    get_engine.cache_clear()
    monkeypatch.setattr(ocr, "rapidocr_available", lambda: False)
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    try:
        with pytest.raises(ConfigError) as err:
            get_engine()
        assert "tesseract-ocr" in err.value.hint and "rapidocr" in err.value.hint
    finally:
        get_engine.cache_clear()


def test_get_engine_is_cached_and_auto_prefers_rapidocr() -> None:
    assert get_engine("rapidocr") is get_engine("rapidocr")
    assert get_engine().name == "rapidocr"


def test_importing_ocr_does_not_import_heavy_modules() -> None:
    code = ("import sys, tracer_cli.vision.ocr, tracer_cli.vision.imagefind; "
            "print(sorted(m for m in ('cv2', 'numpy', 'rapidocr_onnxruntime', 'pytesseract', "
            "'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert out.stdout.strip() == "[]"


ENGINES = ["rapidocr", pytest.param("tesseract", marks=pytest.mark.skipif(
    not shutil.which("tesseract"), reason="tesseract-ocr is not installed"))]


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_reads_a_drawn_image(engine: str) -> None:
    """A synthetic check that also runs without a display: black text on white."""
    from PIL import ImageFont

    image = Image.new("RGB", (640, 200), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("DejaVuSans.ttf", 28)
    draw.text((40, 40), "Open Settings", fill="black", font=font)
    draw.text((360, 120), "Quit", fill="black", font=font)
    lines = get_engine(engine).read(image)
    (settings,) = find_text(lines, "Settings")
    assert Box(140, 35, 300, 85).contains(*settings.box.center), settings
    (quit_,) = find_text(lines, "quit")
    assert Box(360, 115, 430, 165).contains(*quit_.box.center), quit_
    # Only the lower half: the same words, in full-image coordinates.
    lower = read_region(get_engine(engine), image, Box(300, 100, 640, 200))
    assert [m.box for m in find_text(lower, "Quit")] == [quit_.box] or \
        abs(find_text(lower, "Quit")[0].box.center[0] - quit_.box.center[0]) <= 3


# --- real programs on Xvfb ---------------------------------------------------------------------





def demo_form(display: Display, programs: Callable[..., Program]) -> Image.Image:
    program = programs(display, [sys.executable, str(EXAMPLES / "demo_form.py")], "demo form")
    wait_for_window(program, "^tracer demo form$")
    return grab(display)


def widget(display: Display, relx: float, rely: float, half_w: int, half_h: int) -> Box:
    """demo_form.py places widgets by their centre at fractions of the screen."""
    x, y = round(relx * display.width), round(rely * display.height)
    return Box(x - half_w, y - half_h, x + half_w, y + half_h)


@pytest.mark.display
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("size", ["1280", "1920"])
def test_engine_finds_the_labels_of_a_tk_form(engine: str, size: str, request: pytest.FixtureRequest,
                                              programs: Callable[..., Program],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    display: Display = request.getfixturevalue(f"display_{size}")
    monkeypatch.setenv("DISPLAY", display.name)
    image = demo_form(display, programs)
    lines = get_engine(engine).read(image)
    texts = " | ".join(t.text for t in lines)
    # The buttons are about 8-10 characters wide and one line high; a box centre must lie on them.
    for query, relx, rely in (("Blue", 0.4, 0.45), ("Green", 0.6, 0.45), ("Submit", 0.5, 0.65)):
        found = find_text(lines, query)
        assert len(found) == 1, f"{query!r} in {texts}"
        assert widget(display, relx, rely, display.height // 12, display.height // 50).contains(
            *found[0].box.center), (query, found, display.width)
    (name,) = find_text(lines, "Name")
    x, y = name.box.center
    assert x < 0.3 * display.width and abs(y - 0.3 * display.height) < display.height // 50
    # "none" is the end of the line "Colour: none": its box is the right part of that line.
    (none,) = find_text(lines, "none")
    (colour_line,) = find_text(lines, "Colour: none")
    assert none.box.left > colour_line.box.center[0] and none.box.right <= colour_line.box.right + 2
    assert find_text(lines, "Red") == []
    assert text_at(lines, *find_text(lines, "Submit")[0].box.center).text == "Submit"


XTERM_LINES = ["first line alpha", "Save As", "OK   Cancel", "release 2024.3 notes",
               "the quick brown fox jumps"]


@pytest.mark.display
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_reads_an_xterm(engine: str, display: Display, programs: Callable[..., Program],
                               tmp_path: Path) -> None:
    title = "tracer-ocr-xterm"
    window = show_in_xterm(programs, display, tmp_path, title, "60x12+40+30", XTERM_LINES)
    geometry = xdotool(display, "getwindowgeometry", window)
    assert "40,30" in geometry, geometry
    image = grab(display)
    lines = get_engine(engine).read(image)
    texts = " | ".join(t.text for t in lines)
    rows = []
    for text in ("first line alpha", "Save As", "Cancel", "2024.3", "brown fox"):
        found = find_text(lines, text)
        assert len(found) == 1, f"{text!r} in {texts}"
        rows.append(found[0].box.center)
    # Rows follow each other down the window (one terminal row each), starting near its top.
    ys = [y for _, y in rows]
    assert 30 < ys[0] < 30 + 25 and ys == sorted(ys)
    steps = [b - a for a, b in zip(ys, ys[1:], strict=False)]
    assert max(steps) - min(steps) <= 4 and 10 <= min(steps) <= 20, ys
    # "Cancel" is the right part of "OK   Cancel": at columns 5..10 of a 6 px wide font.
    cancel_x = rows[2][0]
    assert 40 + 5 * 6 <= cancel_x <= 40 + 12 * 6, rows[2]
    assert find_text(lines, "Cave") == [] and find_text(lines, "Save As", exact=True)


def test_a_phrase_is_found_across_word_boxes_of_one_row() -> None:
    # Engines sometimes box each word of a line separately.
    words = [line("Save", 8, 16, 69), line("42", 74, 17, 43), line("notes", 113, 18, 79),
             line("Cancel", 400, 16, 60)]
    [found] = find_text(words, "save 42 notes")
    assert (found.box.left, found.box.right) == (8, 192) and found.text == "Save 42 notes"
    assert [m.text for m in find_text(words, "42 notes")] == ["42 notes"]
    assert find_text(words, "notes Cancel") == []  # far apart: two widgets, not one phrase
    assert len(find_text([line("Save 42 notes", 8, 16)], "Save 42 notes")) == 1  # no double
