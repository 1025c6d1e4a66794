"""Image anchors: template matching, suppression, flat templates, cutting a unique anchor, and
finding a cut anchor again after a real X window moved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import Display, Program
from tests.e2e.conftest import grab, show_in_xterm, xdotool
from tracer_cli.errors import ActionError
from tracer_cli.vision.imagefind import cut_anchor, find_image
from tracer_cli.vision.ocr import Box


def icon(colour: str = "navy") -> Image.Image:
    image = Image.new("RGB", (24, 24), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((3, 3, 20, 20), outline=colour, width=3)
    draw.line((6, 18, 18, 6), fill="red", width=2)
    return image


def scene(points: list[tuple[int, int]], size: tuple[int, int] = (400, 300)) -> Image.Image:
    image = Image.new("RGB", size, (230, 230, 230))
    for x, y in points:
        image.paste(icon(), (x, y))
    return image


def test_one_object_gives_one_match() -> None:
    (match,) = find_image(scene([(100, 80)]), icon())
    assert match.box == Box(100, 80, 124, 104)
    assert match.score > 0.99


def test_every_copy_in_reading_order() -> None:
    found = find_image(scene([(300, 40), (20, 42), (150, 200)]), icon())
    assert [(m.box.left, m.box.top) for m in found] == [(20, 42), (300, 40), (150, 200)]


def test_adjacent_copies_are_separate_matches() -> None:
    found = find_image(scene([(100, 100), (124, 100)]), icon())
    assert [m.box.left for m in found] == [100, 124]


def test_not_there_and_confidence() -> None:
    other = Image.new("RGB", (24, 24), "white")
    ImageDraw.Draw(other).rectangle((4, 4, 19, 19), outline="green", width=3)
    assert find_image(scene([(100, 80)]), other) == []
    assert find_image(scene([(100, 80)]), other, confidence=-1.0)  # anything goes


def test_template_larger_than_haystack() -> None:
    assert find_image(Image.new("RGB", (20, 20), "white"), icon()) == []


def test_flat_template_is_rejected() -> None:
    with pytest.raises(ActionError) as err:
        find_image(scene([(100, 80)]), Image.new("RGB", (16, 16), (230, 230, 230)))
    assert "flat" in err.value.message and err.value.hint


def test_cut_anchor_grows_until_unique() -> None:
    # Two identical icons; a label next to only one of them makes a larger crop unique.
    image = scene([(100, 100), (300, 100)])
    ImageDraw.Draw(image).text((100, 130), "Trash", fill="black",
                               font=ImageFont.truetype("DejaVuSans.ttf", 14))
    crop, (dx, dy) = cut_anchor(image, 112, 112, size=24)
    assert crop.width > 24
    (match,) = find_image(image, crop)
    cx, cy = match.box.center
    assert (cx + dx, cy + dy) == (112, 112)


def test_cut_anchor_fails_on_a_flat_or_repeated_area() -> None:
    with pytest.raises(ActionError):
        cut_anchor(Image.new("RGB", (200, 200), "white"), 100, 100, size=16, max_size=64)
    tiles = Image.new("RGB", (256, 256), "white")
    for x in range(0, 256, 16):
        for y in range(0, 256, 16):
            ImageDraw.Draw(tiles).rectangle((x, y, x + 7, y + 7), fill="black")
    with pytest.raises(ActionError) as err:
        cut_anchor(tiles, 100, 100, size=16, max_size=64)
    assert "times" in err.value.message


def test_cut_anchor_near_the_edge() -> None:
    image = scene([(0, 0)], size=(200, 100))
    crop, offset = cut_anchor(image, 2, 3, size=32)
    (match,) = find_image(image, crop)
    assert (match.box.center[0] + offset[0], match.box.center[1] + offset[1]) == (2, 3)


# --- a real window, moved ----------------------------------------------------------------------




@pytest.mark.display
def test_cut_anchor_is_found_after_the_window_moved(display: Display, programs: Callable[..., Program],
                                                    tmp_path: Path) -> None:
    title = "tracer-imagefind"
    window = show_in_xterm(programs, display, tmp_path, title, "40x8+60+50",
                           ["Settings", "  [ Apply ]   [ Close ]", "version 7.1"])
    before = grab(display)
    # "Apply" is in the second row, columns 4..8 of a 6x13 font, 2 px inside the window.
    point = (60 + 2 + 6 * 6, 50 + 2 + 13 + 6)
    crop, (dx, dy) = cut_anchor(before, *point)
    assert len(find_image(before, crop)) == 1

    xdotool(display, "windowmove", "--sync", window, "700", "420")
    geometry = xdotool(display, "getwindowgeometry", window)
    assert "700,420" in geometry, geometry
    after = grab(display)
    (match,) = find_image(after, crop)
    cx, cy = match.box.center
    assert (cx + dx, cy + dy) == (point[0] + 640, point[1] + 370)
    assert match.score > 0.98


def test_cut_anchor_on_a_long_stripe_is_placed_exactly_or_refused() -> None:
    # An empty entry field: a long box outline with nothing in it. A crop of its edge also
    # matches a few pixels to either side: such a crop is no anchor, however large.
    image = Image.new("RGB", (800, 300), "#d9d9d9")
    draw = ImageDraw.Draw(image)
    draw.rectangle([100, 120, 700, 150], outline="#404040", fill="#ffffff")
    draw.text((20, 128), "Name", fill="#000000")
    with pytest.raises(ActionError, match="no unique image anchor"):
        cut_anchor(image, 400, 135, size=16, max_size=128)
    # A shorter field: a 128 px crop of its middle slides along it by a few pixels, all equally
    # good; suppression would call that one match, placed at the left end of the slide.
    short = Image.new("RGB", (800, 300), "#d9d9d9")
    ImageDraw.Draw(short).rectangle([100, 200, 250, 230], outline="#404040", fill="#ffffff")
    with pytest.raises(ActionError, match="also matches a few pixels away"):
        cut_anchor(short, 175, 215, size=128, max_size=128)
    crop, offset = cut_anchor(image, 130, 135, size=16)  # near the field's end and its label
    found = find_image(image, crop)
    assert len(found) == 1
    cx, cy = found[0].box.center
    assert (cx + offset[0], cy + offset[1]) == (130, 135)
