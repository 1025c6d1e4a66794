"""Markers that do not hide their target: the word under a click stays readable, the number sits
beside the ring, keys typed after a click are written next to it; the same layout in the
`tracer plan` picture and the report's SVG."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont

from tracer_cli.cli.preview import annotate, draw_marks
from tracer_cli.plan import parse_plan, step_dict
from tracer_cli.vision.marks import Step, keys_label, layout, ring_arcs


def word_image(point: tuple[int, int], word: str = "Save") -> Image.Image:
    image = Image.new("RGB", (1280, 800), "white")
    ImageDraw.Draw(image).text(point, word, fill="black", font=ImageFont.load_default(size=15),
                               anchor="mm")
    return image


def changed(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> int:
    diff = ImageChops.difference(a.crop(box), b.crop(box)).convert("L").point(lambda v: 255 if v else 0)
    return diff.histogram()[255]


def test_the_word_under_a_click_stays_readable() -> None:
    point = (400, 300)
    before = word_image(point)
    after = draw_marks(before, [[point]], [])
    x, y = point
    word = before.convert("L").point(lambda v: v < 128 and 255).getbbox()  # the word's ink
    assert word is not None and word[0] < x - 10 and word[2] > x + 10
    # Nothing changed on the word's line: the ring is an arc above it and one below
    assert changed(before, after, (word[0] - 1, word[1] - 1, word[2] + 1, word[3] + 1)) == 0
    assert changed(before, after, (x - 20, word[1] - 12, x + 20, word[1] - 1)) > 20  # drawn there
    assert changed(before, after, (x - 20, word[3] + 1, x + 20, word[3] + 12)) > 20
    # The number is beside the ring, not on the point.
    mark = layout(before.size, [Step((point,))], image=before).marks[0]
    left, top, right, bottom = mark.tag
    assert not (left <= x <= right and top <= y <= bottom)
    assert changed(before, after, tuple(round(v) for v in mark.tag)) > 20  # drawn there


def test_off_text_the_marker_is_a_whole_ring_with_a_dot() -> None:
    """A click on an empty spot (or with no picture to read): the ring of a 1280-wide view,
    whole, the dot at the point, full ticks, the number up-right."""
    blank = Image.new("RGB", (1280, 800), "white")
    for image in (blank, None):
        mark = layout((1280, 800), [Step(((400, 300),))], image=image).marks[0]
        assert mark.clear is None and mark.radius == 13
        assert ring_arcs(mark, 4) == [(0.0, 360.0)]
        assert mark.ticks == [((400, 300 - 13 * 1.8), (400, 300 - 15)), ((400, 315), (400, 300 + 13 * 1.8))]
        assert mark.tag[0] > 400 and mark.tag[3] < 300
    after = draw_marks(blank, [[(400, 300)]], [])
    assert after.getpixel((400, 300)) == (0xE6, 0x19, 0x4B)  # the dot
    assert after.getpixel((400 - 12, 300)) != (255, 255, 255)  # the ring's side


def test_the_number_moves_to_a_side_that_fits() -> None:
    for point in ((2, 2), (1278, 2), (2, 798), (1278, 798), (640, 400)):
        tag = layout((1280, 800), [Step((point,))]).marks[0].tag
        assert 0 <= tag[0] and tag[2] <= 1280 and 0 <= tag[1] and tag[3] <= 800, point


def test_keys_go_beside_the_step_they_follow() -> None:
    plan = parse_plan(json.dumps({"trajectory": [
        {"action": "click", "x": 500, "y": 500, "target": "Name"},
        {"action": "type", "text": "Ada Lovelace"},
        {"action": "hotkey", "keys": ["ctrl", "s"]},
        {"action": "drag", "x": 100, "y": 100, "x2": 300, "y2": 200},
    ]}), 5)
    steps = [Step(tuple((x * 1.28, y * 0.8) for x, y in s.points()), keys_label(step_dict(s)))
             for s in plan.trajectory]
    result = layout((1280, 800), steps, first=7, dim_from=1)
    first, drag = result.marks
    assert first.number == 7 and not first.dimmed
    assert first.notes == ['types "Ada Lovelace"', "presses ctrl+s"]
    assert first.note_box is not None and first.note_box[0] >= first.tag[2]  # right of the number
    assert drag.number == 10 and drag.dimmed and drag.end == (384.0, 160.0)
    assert result.loose == []
    picture = annotate(Image.new("RGB", (1280, 800), "white"), plan)
    box = tuple(round(v) for v in first.note_box)
    assert changed(Image.new("RGB", (1280, 800), "white"), picture, box) > 100  # the text


def test_on_a_zoomed_in_part_the_markers_are_sized_for_it_and_stay_in_it() -> None:
    """The report's zoomed-in picture: the same points (image pixels), markers sized for the
    part shown, the number and the keys kept inside it rather than inside the whole image."""
    part = (900, 500, 1540, 900)  # 640x400 of a 1920x1080 screenshot
    point = (1530, 510)  # at the part's top-right corner
    steps = [Step((point,)), Step((), 'types "a long line of text that is typed here"')]
    whole = layout((1920, 1080), steps)
    zoomed = layout((1920, 1080), steps, within=part)
    assert (zoomed.left, zoomed.top, zoomed.width, zoomed.height) == (900, 500, 640, 400)
    assert (whole.left, whole.top, whole.width, whole.height) == (0, 0, 1920, 1080)
    mark = zoomed.marks[0]
    assert mark.point == whole.marks[0].point == point
    assert mark.radius < whole.marks[0].radius and zoomed.font < whole.font
    for box in (mark.tag, mark.note_box):
        assert box is not None
        assert part[0] <= box[0] and box[2] <= part[2] and part[1] <= box[1] and box[3] <= part[3], box


def test_keys_with_no_click_before_them_are_listed() -> None:
    result = layout((1280, 800), [Step((), 'types "x"'), Step(((10, 10),))])
    assert result.loose == ['types "x"'] and result.marks[0].notes == []


def test_keys_label_reads_plan_and_macro_steps() -> None:
    assert keys_label({"action": "type", "text": "hi"}) == 'types "hi"'
    assert keys_label({"hotkey": ["ctrl", "s"]}) == "presses ctrl+s"
    assert keys_label({"type": "hi"}) == 'types "hi"'
    assert keys_label({"action": "click", "x": 1, "y": 2}) == ""


# -- small text: the marker keeps off the glyphs whatever their size ---------------------------

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MESSAGE = "A new version is ready to deploy."


def font(name: str) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """"bitmap": PIL's own bitmap font (about 11 pixels high, like X11 core fonts); "N": PIL's
    TrueType font at N pixels; "dejavu N": DejaVu Sans at N pixels."""
    if name == "bitmap":
        return ImageFont.load_default_imagefont()
    if name.startswith("dejavu"):
        if not DEJAVU.is_file():
            pytest.skip(f"{DEJAVU} is not installed (apt-get install -y fonts-dejavu-core)")
        return ImageFont.truetype(str(DEJAVU), int(name.split()[1]))
    return ImageFont.load_default(size=int(name))


def ink(after: Image.Image, before: Image.Image) -> set[tuple[int, int]]:
    """The pixels that differ between two pictures."""
    diff = np.asarray(ImageChops.difference(after, before).convert("L"))
    return {(int(x), int(y)) for y, x in np.argwhere(diff > 0)}


def dialog(face: ImageFont.ImageFont | ImageFont.FreeTypeFont, word: str, dark: bool = False
           ) -> tuple[Image.Image, set[tuple[int, int]], set[tuple[int, int]], tuple[float, float]]:
    """A dialog like xmessage's: a line of message text, and 4 pixels under it a button
    labelled ``word``. Returns the picture, the pixels of the word's glyphs (antialiased edges
    included), those of the message line, and the middle of the word."""
    ground, button, text = ("#202124", "#303134", "#e8eaed") if dark else ("#ececec", "#dddddd", "black")
    base = Image.new("RGB", (1280, 800), ground)
    draw = ImageDraw.Draw(base)
    left, top, right, bottom = draw.textbbox((400, 300), word, font=face)
    draw.rounded_rectangle((left - 8, top - 6, right + 8, bottom + 6), 6, outline=text, fill=button)
    with_message = base.copy()
    message_bottom = draw.textbbox((0, 0), MESSAGE, font=face)[3]
    ImageDraw.Draw(with_message).text((370, top - 6 - 4 - message_bottom), MESSAGE, fill=text, font=face)
    picture = with_message.copy()
    ImageDraw.Draw(picture).text((400, 300), word, fill=text, font=face)
    return (picture, ink(picture, with_message), ink(with_message, base),
            ((left + right) / 2, (top + bottom) / 2))


@pytest.mark.parametrize("word", ["Later", "Cancel", "OK"])
@pytest.mark.parametrize("size", ["bitmap", "9", "10", "11", "dejavu 9", "dejavu 11", "15", "24", "40"])
def test_no_marker_pixel_lies_on_the_word_or_the_line_above(size: str, word: str) -> None:
    """The xmessage dialog of the report (X11 core fonts, ~10 pixels high): the ring ran
    through "Later" and the number covered "version" above it. At every size, no pixel of the
    ring, the ticks or the number lies on a glyph of the word clicked, nor of the line above."""
    picture, glyphs, above, point = dialog(font(size), word)
    after = draw_marks(picture, [[point]], [])
    marker = ink(after, picture)
    assert len(marker) > 150  # drawn: two arcs, a tick or two, the number
    assert not marker & glyphs, sorted(marker & glyphs)[:10]
    assert not marker & above, sorted(marker & above)[:10]
    mark = layout(picture.size, [Step((point,))], image=picture).marks[0]
    assert mark.clear is not None  # the text was seen: the rows of its letters within the ring's reach
    ys = [y for x, y in glyphs if abs(x - point[0]) <= mark.radius]
    assert mark.clear[0] < min(ys) and mark.clear[1] > max(ys)


@pytest.mark.parametrize("size", ["bitmap", "11", "24"])
def test_light_text_on_a_dark_ground_is_kept_clear_too(size: str) -> None:
    picture, glyphs, above, point = dialog(font(size), "Later", dark=True)
    marker = ink(draw_marks(picture, [[point]], []), picture)
    assert len(marker) > 150
    assert not marker & (glyphs | above)


def test_the_ring_is_sized_to_the_text_at_the_point() -> None:
    """Arcs that clear the line's rows by a few pixels: close to the old 13 pixels for text of
    10 to 15 pixels, larger for large text."""
    radii = {}
    for size in ("bitmap", "10", "15", "40"):
        picture, _, _, point = dialog(font(size), "Later")
        mark = layout(picture.size, [Step((point,))], image=picture).marks[0]
        assert mark.clear is not None
        radii[size] = mark.radius
        inner = mark.radius - 4  # the stroke and its halo
        for start, end in ring_arcs(mark, 4):
            for angle in (start, end):
                y = point[1] + inner * math.sin(math.radians(angle))
                assert y <= mark.clear[0] + 1e-9 or y >= mark.clear[1] - 1e-9, (size, angle)
    assert 10 <= radii["bitmap"] <= 15 and 10 <= radii["10"] <= 15 and 12 <= radii["15"] <= 16
    assert radii["40"] > 20


def test_a_macro_target_s_box_stands_for_the_text_when_the_picture_is_not_known() -> None:
    mark = layout((1280, 800), [Step(((82, 40),), box=(66, 36, 100, 46))]).marks[0]
    assert mark.clear == (35, 47)
    arcs = ring_arcs(mark, 4)
    assert len(arcs) == 2 and all(b - a < 180 for a, b in arcs)
    assert mark.tag[3] <= 35 or mark.tag[1] >= 47  # above or below the text's rows


def test_the_report_draws_the_same_arcs() -> None:
    from tracer_cli.report.render import _arcs

    picture, _, _, point = dialog(font("bitmap"), "Later")
    mark = layout(picture.size, [Step((point,))], image=picture).marks[0]
    assert mark.clear is not None
    paths = _arcs(mark, 1.0)
    assert len(paths) == 2
    for path in paths:  # "M x1 y1 A r r 0 large 1 x2 y2": both ends off the text's rows
        numbers = [float(v) for v in path.replace("M", "").replace("A", "").split()]
        for y in (numbers[1], numbers[-1]):
            assert y < mark.clear[0] or y > mark.clear[1], path
