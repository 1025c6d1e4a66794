"""labels: the label a forecast target names, and whether OCR reads it at the target's point."""

from __future__ import annotations

import pytest

from tracer_cli.agent.labels import OcrReader, label, label_at
from tracer_cli.vision.ocr import Box, TextBox


@pytest.mark.parametrize(("target", "expected"), [
    ("Save As... in the File menu", "Save As..."),
    ("Zoom 200% in the View menu", "Zoom 200%"),
    ("the 'Save As...' menu item", "Save As..."),
    ("the Save As menu item", "Save As"),
    ("Autosave checkbox", "Autosave"),
    ("Close button of the tip pop-up", "Close"),
    ("OK", "OK"),
    ("File name field", "File name"),
    ("the empty area", "empty area"),
    ("the", ""),
])
def test_label(target: str, expected: str) -> None:
    assert label(target) == expected


def line(text: str, left: int, top: int, right: int, bottom: int) -> TextBox:
    return TextBox(text, Box(left, top, right, bottom), 0.9)


MENU = [line("Save", 20, 40, 60, 54), line("Save As...", 20, 60, 95, 74),
        line("Export", 20, 80, 70, 94)]


def test_the_label_nearest_the_point_on_its_row() -> None:
    assert label_at(MENU, 80, 67, "Save As...", 200) == "Save As..."  # right of its text
    assert label_at(MENU, 80, 47, "Save As...", 200) is None  # the item above: "Save"
    assert label_at(MENU, 80, 47, "Save", 200) == "Save"
    assert label_at(MENU, 80, 67, "Save", 200) is None  # "Save As..." is more than "Save"
    assert label_at(MENU, 400, 67, "Save As...", 200) is None  # too far along the row
    bar = [line("File", 10, 5, 40, 19), line("Edit", 60, 5, 90, 19)]
    assert label_at(bar, 75, 12, "File", 200) is None  # the neighbour in a menu bar
    assert label_at(bar, 75, 12, "Edit", 200) == "Edit"


class FakeEngine:
    name = "fake"

    def __init__(self, lines: list[TextBox]) -> None:
        self.lines, self.sizes = lines, []

    def read(self, image):  # type: ignore[no-untyped-def]
        self.sizes.append(image.size)
        return self.lines


def test_the_reader_reads_only_a_strip_around_the_point() -> None:
    from PIL import Image

    engine = FakeEngine([line("Cancel", 30, 5, 90, 20)])  # in the strip's own pixels
    reader = OcrReader()
    reader._engine = engine  # type: ignore[assignment]
    image = Image.new("RGB", (1280, 800), "white")
    assert reader(image, (500, 500), "Cancel button") is None  # not where the point is
    width, height = engine.sizes[0]
    assert width < 0.35 * 1280 and height < 0.1 * 800
    engine.lines = [line("Cancel", 150, 16, 230, 32)]  # over the point: (192, 24) of the strip
    assert reader(image, (500, 500), "Cancel button") == "Cancel"
    assert reader(image, (500, 500), "OK button") is None
    calls = len(engine.sizes)
    assert reader(image, (500, 500), "the") is None and len(engine.sizes) == calls  # no label: no OCR
