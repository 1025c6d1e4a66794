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
    ("Click the OK button of the dialog.", "OK"),  # a Qwen3-VL step's Action line
    ("Select Zoom 200% in the View menu", "Zoom 200%"),
    ("Click on Save", "Save"),
    ("Open button", "Open"),  # the verb is the label
    ("Open", "Open"),
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


def test_an_empty_field_is_known_by_its_label_left_of_it_or_above_it() -> None:
    from tracer_cli.agent.labels import field_label

    field = Box(200, 100, 500, 130)
    left = [line("Email:", 120, 106, 185, 124)]
    assert field_label(left, field, "Email", 200) == "Email:"
    above = [line("File name", 210, 60, 300, 80), line("Save As", 300, 10, 380, 30)]
    assert field_label(above, field, "File name", 200) == "File name"
    assert field_label(above, field, "Save As", 200) is None  # the nearest above is "File name"
    assert field_label([line("Email:", 120, 106, 185, 124)], field, "Email", 50) is not None
    assert field_label([line("Email:", 20, 106, 85, 124)], field, "Email", 50) is None  # too far left
    beside = [line("File name", 600, 60, 690, 80)]  # above, but not over the field
    assert field_label(beside, field, "File name", 200) is None
    below = [line("File name", 210, 140, 300, 160)]
    assert field_label(below, field, "File name", 200) is None
    # A field that holds text shows that text: its label does not vouch for a click there.
    held = [line("Email:", 120, 106, 185, 124), line("ada@example.org", 210, 106, 380, 124)]
    assert field_label(held, field, "Email", 200) is None


@pytest.mark.parametrize(("text", "name", "expected"), [
    ("Email", "Email", True),
    ("Email: *", "Email", True),
    ("Save As: file name", "File name", True),  # the name after a colon
    ("Billing address: City", "City", True),
    ("Save As: file name", "Name", False),  # "file name" is more than "Name"
    ("Your email address here", "Email", False),  # a sentence holding the word
    ("City:", "Billing address", False),
    ("Emall", "Email", True),  # an OCR slip
])
def test_what_reads_as_a_label(text: str, name: str, expected: bool) -> None:
    from tracer_cli.agent.labels import reads

    assert reads(text, name) is expected


def test_the_reader_finds_an_empty_fields_label_above_it() -> None:
    """Real OCR on a dialog drawn with Pillow: a field whose label stands above it."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1280, 800), "#dcdcdc")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=20)
    draw.text((460, 335), "File name:", fill="black", font=font)
    draw.rectangle((450, 370, 850, 405), fill="white", outline="#808080")
    draw.text((460, 460), "Folder:", fill="black", font=font)
    draw.rectangle((560, 455, 850, 490), fill="white", outline="#808080")
    reader = OcrReader()
    if reader.engine() is None:
        pytest.skip("no OCR engine")
    field = (round(650 * 1000 / 1280), round(388 * 1000 / 800))
    assert reader(image, field, "File name field") == "File name:"
    assert reader(image, field, "Folder field") is None
    folder = (round(700 * 1000 / 1280), round(472 * 1000 / 800))
    assert reader(image, folder, "Folder field") == "Folder:"  # on its left
    assert reader(image, folder, "File name field") is None
