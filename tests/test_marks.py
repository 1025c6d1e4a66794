"""Markers that do not hide their target: the word under a click stays readable, the number sits
beside the ring, keys typed after a click are written next to it; the same layout in the
`tracer plan` picture and the report's SVG."""

from __future__ import annotations

import json

from PIL import Image, ImageChops, ImageDraw, ImageFont

from tracer_cli.cli.preview import annotate, draw_marks
from tracer_cli.plan import parse_plan, step_dict
from tracer_cli.vision.marks import Step, keys_label, layout


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
    # Only the fine dot at the point and the ring's thin sides touch the word's line: within
    # the ring (radius 13) and the word's height, no more than the dot changed.
    inner = (x - 9, word[1], x + 10, word[3])
    assert changed(before, after, inner) <= 25  # a filled disc would change ~190
    # The number is beside the ring, not on the point.
    mark = layout(before.size, [Step((point,))]).marks[0]
    left, top, right, bottom = mark.tag
    assert not (left <= x <= right and top <= y <= bottom)
    assert changed(before, after, tuple(round(v) for v in mark.tag)) > 20  # drawn there


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
