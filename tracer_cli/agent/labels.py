"""Reading a forecast click's target on the screen: does the text the model named stand at the
point it gave? It lets a step whose target appeared only after the step before (a menu item once
its menu opened, a dialog's button) run from the forecast without a model call.

A target is a description ("Save As... in the File menu", "Autosave checkbox"); its label is a
quoted part of it, or its first words ("Save As...", "Autosave"). The OCR layer reads only a
strip of the screen around the point (OCR is the slow part), and the label must be the text
nearest the point on the point's own row: a neighbour in a menu bar or the item above in a menu
does not count."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.vision.ocr import OcrEngine, TextBox

REACH = 0.15  # how far the label may lie from the point on its row, as a fraction of the width
ROW = 0.03  # half the height of the strip read, as a fraction of the height
STRIP_SIDE = 1024  # the OCR detector's longest side for a strip (a strip is narrower: its own size)
ARTICLES = {"the", "a", "an"}
# Words that end a label in a description: what the element is, or where.
STOP = {"the", "a", "an", "in", "on", "of", "to", "at", "and", "or", "for", "with", "from", "under",
        "below", "above", "next", "button", "field", "menu", "checkbox", "check", "box", "link", "tab",
        "icon", "item", "option", "radio", "theme", "plan", "entry", "input", "label", "toggle",
        "switch", "dropdown", "list", "control", "setting", "text"}


def label(target: str) -> str:
    """The label a target description names: its first quoted part, else its leading words
    up to a word such as "in", "button" or "field" ("" when there is none)."""
    quoted = re.findall(r"['\"“‘]([^'\"”’]{1,60})['\"”’]", target)
    if quoted and quoted[0].strip():
        return quoted[0].strip()
    words = target.split()
    while words and words[0].casefold() in ARTICLES:
        words = words[1:]
    lead: list[str] = []
    for word in words:
        if word.casefold().strip(",.:;") in STOP:
            break
        lead.append(word.rstrip(",;:"))
    text = " ".join(lead)
    return text if len(text.strip(".")) >= 2 else ""


class OcrReader:
    """The OCR reader ``speculate.check`` calls; the engine is made on first use."""

    def __init__(self, engine: str = "auto") -> None:
        self.engine_name = engine
        self._engine: OcrEngine | None = None
        self.reads = 0

    def engine(self) -> OcrEngine | None:
        if self._engine is None:
            from tracer_cli.errors import TracerError
            from tracer_cli.vision.ocr import RapidOcrEngine, get_engine, rapidocr_available

            try:
                if self.engine_name in ("auto", "rapidocr") and rapidocr_available():
                    # The detector's default scales an image up until its short side is 736
                    # pixels: a 400x50 strip would be read at 6000x736, seconds instead of
                    # tenths. A strip is read at its own size.
                    self._engine = RapidOcrEngine(det_max_side=STRIP_SIDE)
                else:
                    self._engine = get_engine(self.engine_name)
            except TracerError:
                return None
        return self._engine

    def __call__(self, image: Image.Image, point: tuple[int, int], target: str) -> str | None:
        name = label(target)
        engine = self.engine() if name else None
        if engine is None:
            return None
        from tracer_cli.vision.ocr import Box, read_region

        px, py = point[0] * image.width / COORD_MAX, point[1] * image.height / COORD_MAX
        reach, row = REACH * image.width, max(12.0, ROW * image.height)
        region = Box(int(px - reach), int(py - row), int(px + reach) + 1, int(py + row) + 1)
        self.reads += 1
        return label_at(read_region(engine, image, region), px, py, name, reach)


def label_at(lines: list[TextBox], x: float, y: float, name: str, reach: float) -> str | None:
    """The text nearest (x, y) on its row (at most ``reach`` pixels away) when it reads
    ``name`` and little more (a label, not a sentence holding the word), else None."""
    from tracer_cli.vision.ocr import find_text, max_errors, text_at

    row = _phrases([line for line in lines if line.box.top - 2 <= y <= line.box.bottom + 2])
    nearest = text_at(row, round(x), round(y), max_distance=round(reach),
                      max_words=len(name.split()))
    if nearest is None or not find_text([nearest], name):
        return None
    length = len("".join(name.split()))
    if len("".join(nearest.text.split())) > length + 2 + max_errors(length):
        return None
    return nearest.text


def _phrases(row: list[TextBox]) -> list[TextBox]:
    """Boxes of one row that OCR read apart ("Save", "As...") joined into one when they are
    less than a line's height apart, as a label's words are."""
    import functools

    from tracer_cli.vision.ocr import Box, TextBox

    groups: list[list[TextBox]] = []
    for box in sorted(row, key=lambda t: t.box.left):
        if groups and box.box.left - groups[-1][-1].box.right <= max(box.box.height, 8):
            groups[-1].append(box)
        else:
            groups.append([box])
    return [g[0] if len(g) == 1 else
            TextBox(" ".join(t.text for t in g), functools.reduce(Box.union, (t.box for t in g)),
                    min(t.score for t in g)) for g in groups]
