"""The part of a step's screenshot the report shows first: the window acted in wins, else the
area around the step's points (a margin, on the screen, never a tiny crop, of a sane shape),
else what the step before showed or what is drawn on an empty screen; and the drawn part of an
empty screen is found cheaply, JPEG noise and all."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image, ImageDraw

from tracer_cli.report.region import (
    ASPECT,
    MARGIN,
    MIN_SIZE,
    NO_ZOOM,
    PAD,
    Region,
    choose,
    content_box,
)

SCREEN = (1920, 1080)


def inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2]
            and inner[3] <= outer[3])


def sane(region: Region, size: tuple[int, int] = SCREEN) -> None:
    """What every region is: on the screen, at least the minimum size, of a sane shape."""
    assert inside(region.box, (0, 0, *size))
    assert region.width >= min(size[0], MIN_SIZE[0]) and region.height >= min(size[1], MIN_SIZE[1])
    assert ASPECT[0] - 0.01 <= region.width / region.height <= ASPECT[1] + 0.01


def test_the_window_wins() -> None:
    window = (300, 200, 1000, 700)  # 700x500: small on a 1920x1080 screen, shown whole
    drawn = (0, 0, 1920, 1080)
    region = choose(SCREEN, [(400, 300)], window=window, content=drawn)
    assert region is not None and region.source == "window"
    assert region.box == (300 - PAD, 200 - PAD, 1000 + PAD, 700 + PAD)
    sane(region)
    # ...over what is drawn on the screen, and over the step before
    previous = Region((0, 0, 640, 400), "action")
    assert choose(SCREEN, [], window=window, previous=previous).box == region.box  # type: ignore[union-attr]


def test_in_a_large_window_the_points_area_stays_inside_it() -> None:
    window = (200, 100, 1800, 1000)
    region = choose(SCREEN, [(250, 150)], window=window)
    assert region is not None and region.source == "action"
    assert inside(region.box, window)  # pushed inside the window, not onto the desktop beside it
    assert region.box[0] < 250 < region.box[2] and region.box[1] < 150 < region.box[3]
    sane(region)


def test_a_point_gets_a_margin_box_on_the_screen() -> None:
    region = choose(SCREEN, [(960, 540)])
    assert region is not None and region.source == "action"
    (left, top, right, bottom) = region.box
    assert (left + right) / 2 == pytest.approx(960, abs=1) and (top + bottom) / 2 == pytest.approx(540, abs=1)
    assert right - 960 >= MARGIN * SCREEN[0] and bottom - 540 >= MARGIN * SCREEN[1]
    sane(region)
    for corner in ((3, 3), (1917, 3), (3, 1077), (1917, 1077)):  # moved onto the screen
        region = choose(SCREEN, [corner])
        assert region is not None and region.box[0] <= corner[0] <= region.box[2]
        assert region.box[1] <= corner[1] <= region.box[3]
        sane(region)
    assert choose(SCREEN, [(1700, 60)]).box[2] == 1920  # type: ignore[union-attr]


def test_a_drag_shows_both_ends_with_a_margin() -> None:
    start, end = (500, 400), (1100, 700)
    region = choose(SCREEN, [start, end])
    assert region is not None
    left, top, right, bottom = region.box
    assert left <= 500 - MARGIN * SCREEN[0] and right >= 1100 + MARGIN * SCREEN[0]
    assert top <= 400 - MARGIN * SCREEN[1] and bottom >= 700 + MARGIN * SCREEN[1]
    sane(region)


def test_a_tiny_target_still_gets_a_region_of_the_minimum_size() -> None:
    region = choose(SCREEN, [], boxes=[(900, 500, 910, 508)])  # a found 10x8 icon
    assert region is not None
    assert (region.width, region.height) == (max(MIN_SIZE[0], SCREEN[0] // 3),
                                             max(MIN_SIZE[1], SCREEN[1] // 3))
    sane(region)
    big = (3840, 2160)  # a third of each side on a large screen
    region = choose(big, [(100, 100)])
    assert region is not None and (region.width, region.height) == (1280, 720)
    sane(region, big)
    small_window = choose(SCREEN, [(50, 50)], window=(40, 40, 80, 70))  # a tiny dialog
    assert small_window is not None and small_window.width >= MIN_SIZE[0]
    sane(small_window)


def test_a_tall_or_flat_region_keeps_a_sane_shape() -> None:
    tall = choose(SCREEN, [(900, 20), (900, 1060)])  # a vertical drag over the whole height
    flat = choose(SCREEN, [(20, 500), (1300, 500)])
    assert tall is not None and flat is not None
    sane(tall)
    sane(flat)


def test_a_step_that_acted_on_nothing_falls_back() -> None:
    previous = Region((100, 100, 740, 500), "action")
    assert choose(SCREEN, [], previous=previous) == Region(previous.box, "previous")
    drawn = (600, 300, 1300, 800)
    region = choose(SCREEN, [], content=drawn)  # nothing before: what is drawn on the screen
    assert region is not None and region.source == "content"
    assert region.box == (600 - PAD, 300 - PAD, 1300 + PAD, 800 + PAD)
    assert choose(SCREEN, []) is None  # nothing to go by: the whole screen
    # a region of a larger screenshot than this one is not taken over
    assert choose((1280, 800), [], previous=Region((1200, 700, 1900, 1080), "action")) is None


def test_about_the_whole_screen_is_no_zoom() -> None:
    assert choose(SCREEN, [(10, 10), (1910, 1070)]) is None
    assert choose(SCREEN, [], content=(0, 0, 1920 * NO_ZOOM + 20, 1080)) is None
    assert choose((64, 40), [(10, 10)]) is None  # a screen smaller than the minimum
    assert choose(SCREEN, [(-50, -50), (5000, 10)]) is None  # off the screen: nothing to zoom on


def test_points_on_an_empty_screen_show_the_window_drawn_there() -> None:
    drawn = (100, 120, 740, 540)  # a 640x420 window on a black 1920x1080 screen
    region = choose(SCREEN, [(300, 300)], content=drawn)
    assert region is not None and region.source == "content"
    assert region.box == (100 - PAD, 120 - PAD, 740 + PAD, 540 + PAD)
    # a click beside it (on the empty screen) is shown around the click instead
    beside = choose(SCREEN, [(1500, 900)], content=drawn)
    assert beside is not None and beside.source == "action"
    assert beside.box[0] < 1500 < beside.box[2]


def window_on_black(size: tuple[int, int] = SCREEN, box: tuple[int, int, int, int] = (100, 120, 739, 539),
                    background: str = "black") -> Image.Image:
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=(214, 214, 214))
    draw.text((box[0] + 20, box[1] + 20), "Name", fill="black")
    return image


def test_the_drawn_part_of_an_empty_screen_is_found_cheaply() -> None:
    image = window_on_black()
    started = time.perf_counter()
    found = content_box(image)
    elapsed = time.perf_counter() - started
    assert found is not None
    assert all(abs(a - b) <= 4 for a, b in zip(found, (100, 120, 740, 540), strict=True)), found
    assert elapsed < 0.25, f"{elapsed:.3f} s"  # once per step, at report time
    # JPEG noise on the black is still empty (macro screenshots are JPEGs)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=80)
    noisy = Image.open(io.BytesIO(buf.getvalue()))
    assert content_box(noisy) == pytest.approx(found, abs=4)
    # a window in a corner: three corners are still the background
    assert content_box(window_on_black(box=(0, 0, 500, 400))) == pytest.approx((0, 0, 500, 400), abs=4)
    on_grey = content_box(window_on_black(background="#3c3c50", box=(600, 300, 900, 500)))
    assert on_grey == pytest.approx((600, 300, 900, 500), abs=4)


def test_a_screen_drawn_edge_to_edge_or_empty_has_no_drawn_part() -> None:
    desktop = window_on_black()
    ImageDraw.Draw(desktop).rectangle((0, 0, 1919, 30), fill="#303030")  # a top bar
    assert content_box(desktop) is None  # corners differ: no background to tell apart
    assert content_box(Image.new("RGB", SCREEN, "black")) is None
    assert content_box(Image.new("RGB", (3, 2), "white")) is None
