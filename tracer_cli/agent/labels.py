"""Reading a forecast click's target on the screen: does the text the model named stand at the
point it gave? It lets a step whose target appeared only after the step before (a menu item once
its menu opened, a dialog's button) run from the forecast without a model call.

A target is a description ("Save As... in the File menu", "Autosave checkbox"); its label is a
quoted part of it, or its first words ("Save As...", "Autosave"). The OCR layer reads only a
strip of the screen around the point (OCR is the slow part), and the label must be the text
nearest the point on the point's own row: a neighbour in a menu bar or the item above in a menu
does not count. An empty field has no text of its own: its label is the text nearest it on its
left or just above it, as forms and dialogs place them.

A label "reads" the name when it is the name and little more (a colon, an asterisk, an OCR slip),
or when the name is its last part after a colon ("Billing address: City")."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.vision.ocr import Box, OcrEngine, TextBox

REACH = 0.15  # how far the label may lie from the point on its row, as a fraction of the width
ROW = 0.03  # half the height of the strip read, as a fraction of the height
ABOVE = 2.5  # how far above an empty field its label may end, in the field's heights
STRIP_SIDE = 1024  # the OCR detector's longest side for a strip (a strip is narrower: its own size)
ARTICLES = {"the", "a", "an"}
# Verbs that open a target written as an action (a Qwen3-VL step's "Action:" line).
VERBS = {"click", "left-click", "double-click", "right-click", "press", "select", "choose",
         "pick", "tap", "hit", "open", "activate"}
# Words that end a label in a description: what the element is, or where.
STOP = {"the", "a", "an", "in", "on", "of", "to", "at", "and", "or", "for", "with", "from", "under",
        "below", "above", "next", "button", "field", "menu", "checkbox", "check", "box", "link", "tab",
        "icon", "item", "option", "radio", "theme", "plan", "entry", "input", "label", "toggle",
        "switch", "dropdown", "list", "control", "setting", "text"}


def label(target: str) -> str:
    """The label a target description names: its first quoted part, else its leading words
    up to a word such as "in", "button" or "field" ("" when there is none), after a verb that
    opens a description written as an action ("Click the OK button of the dialog": "OK")."""
    quoted = re.findall(r"['\"“‘]([^'\"”’]{1,60})['\"”’]", target)
    if quoted and quoted[0].strip():
        return quoted[0].strip()
    words = target.split()
    if len(words) > 1 and words[0].casefold() in VERBS:
        rest = words[2:] if words[1].casefold() == "on" else words[1:]
        after = _leading(rest)
        if after:  # (not "Open button": the verb is the label there)
            return after
    return _leading(words)


def _leading(words: list[str]) -> str:
    """A description's leading words up to a word that ends a label (STOP), articles first
    left out; "" for less than two characters."""
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
        import threading

        self.engine_name = engine
        self._engine: OcrEngine | None = None
        self._making = threading.Lock()
        self._warming: threading.Thread | None = None
        self.reads = 0

    def warm(self) -> None:
        """Make the engine on a thread of its own now (its models take a second or two to
        load), so that the first read does not wait for it: once, while a model call runs."""
        import threading

        if self._warming is None and self._engine is None:
            self._warming = threading.Thread(target=self.engine, name="ocr-warm", daemon=True)
            self._warming.start()

    def finish(self, timeout: float = 10.0) -> None:
        """Wait for a warm-up still making the engine: a thread left inside the OCR runtime's
        native code when the process exits aborts it."""
        if self._warming is not None:
            self._warming.join(timeout)

    def engine(self) -> OcrEngine | None:
        with self._making:
            return self._make()

    def _make(self) -> OcrEngine | None:
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
        """The label ``target`` names as read at ``point`` (0..1000 of ``image``): the text
        nearest the point on its row, or an empty field's label beside or above it."""
        ready = self._ready(image, point, target)
        if ready is None:
            return None
        from tracer_cli.vision.ocr import Box, read_region

        engine, name, (px, py), reach, region = ready
        field = _field(image, point)
        if field is not None:  # its label may stand left of it or above it: one read for all
            region = region.union(Box(int(field.left - reach), int(field.top - ABOVE * field.height),
                                      field.right, field.bottom))
        self.reads += 1
        lines = read_region(engine, image, region)
        found = label_at(lines, px, py, name, reach)
        if found is None and field is not None:
            found = field_label(lines, field, name, reach)
        return found

    def phrase(self, image: Image.Image, point: tuple[float, float], target: str) -> TextBox | None:
        """The text at ``point`` (0..1000 of ``image``) with its box, when it reads the label
        ``target`` names: the phrase nearest the point on its row. No field's label: the
        text itself must stand there."""
        ready = self._ready(image, point, target)
        if ready is None:
            return None
        from tracer_cli.vision.ocr import read_region

        engine, name, (px, py), reach, region = ready
        self.reads += 1
        return phrase_at(read_region(engine, image, region), px, py, name, reach)

    def _ready(self, image: Image.Image, point: tuple[float, float], target: str
               ) -> tuple[OcrEngine, str, tuple[float, float], float, Box] | None:
        """What a read at ``point`` needs: the engine, the label, the point in pixels, how far
        along its row the label may lie and the strip to read; None without a label or engine."""
        name = label(target)
        engine = self.engine() if name else None
        if engine is None:
            return None
        px, py = point[0] * image.width / COORD_MAX, point[1] * image.height / COORD_MAX
        reach, region = strip(image, px, py)
        return engine, name, (px, py), reach, region


def strip(image: Image.Image, px: float, py: float) -> tuple[float, Box]:
    """How far from pixel (px, py) a label may lie on its row, and the strip of ``image`` that
    OCR reads for it."""
    from tracer_cli.vision.ocr import Box

    reach, row = REACH * image.width, max(12.0, ROW * image.height)
    return reach, Box(int(px - reach), int(py - row), int(px + reach) + 1, int(py + row) + 1)


def _field(image: Image.Image, point: tuple[int, int]) -> Box | None:
    """The box of the element under ``point`` when it could be a field (wider than high)."""
    from tracer_cli.vision.elements import element_box
    from tracer_cli.vision.ocr import Box

    found = element_box(image, point)
    if found is None:
        return None
    box = Box(*found)
    return box if box.width >= 2 * box.height >= 8 else None


def label_at(lines: list[TextBox], x: float, y: float, name: str, reach: float) -> str | None:
    """The text nearest (x, y) on its row (at most ``reach`` pixels away) when it reads
    ``name`` (``reads``), else None."""
    found = phrase_at(lines, x, y, name, reach)
    return found.text if found is not None else None


def phrase_at(lines: list[TextBox], x: float, y: float, name: str, reach: float) -> TextBox | None:
    """The phrase nearest (x, y) on its row (at most ``reach`` pixels away), with its box,
    when it reads ``name``; else None."""
    from tracer_cli.vision.ocr import text_at

    row = _phrases([line for line in lines if line.box.top - 2 <= y <= line.box.bottom + 2])
    nearest = text_at(row, round(x), round(y), max_distance=round(reach),
                      max_words=len(name.split()))
    return nearest if nearest is not None and reads(nearest.text, name) else None


def field_label(lines: list[TextBox], field: Box, name: str, reach: float) -> str | None:
    """The label of the empty field ``field``: the text nearest it that ends at most ``reach``
    pixels left of it on its row, or just above it (ABOVE of its heights) over its width, when
    it reads ``name``. None when the field holds text itself (that text is what it shows)."""
    phrases = _phrases(lines)
    if any(field.contains(*line.box.center) for line in phrases):
        return None
    left = [(field.left - line.box.right, line) for line in phrases
            if field.top <= line.box.center[1] <= field.bottom
            and -2 <= field.left - line.box.right <= reach]
    above = [(field.top - line.box.bottom, line) for line in phrases
             if -2 <= field.top - line.box.bottom <= ABOVE * field.height
             and line.box.right > field.left and line.box.left < field.right]
    if not left and not above:
        return None
    _, nearest = min(left + above, key=lambda gap_line: gap_line[0])
    return nearest.text if reads(nearest.text, name) else None


def reads(text: str, name: str) -> bool:
    """Whether the label ``text`` is ``name`` and little more (a colon, an asterisk, an OCR
    slip), or ends with it after a colon ("Billing address: City")."""
    from tracer_cli.vision.ocr import Box, TextBox, find_text, max_errors

    length = len("".join(name.split()))

    def only(part: str) -> bool:
        return (len("".join(part.split())) <= length + 2 + max_errors(length)
                and bool(find_text([TextBox(part, Box(0, 0, 1, 1), 1.0)], name)))

    if only(text):
        return True
    head, colon, tail = text.rstrip(" :*").rpartition(":")
    return bool(colon and head.strip() and tail.strip() and only(tail.strip()))


def _phrases(lines: list[TextBox]) -> list[TextBox]:
    """Boxes side by side on a row that OCR read apart ("Save", "As...") joined into one when
    they are less than a line's height apart, as a label's words are."""
    import functools

    from tracer_cli.vision.ocr import Box, TextBox

    groups: list[list[TextBox]] = []
    for line in sorted(lines, key=lambda t: t.box.left):
        for group in groups:
            last = group[-1].box
            overlap = min(last.bottom, line.box.bottom) - max(last.top, line.box.top)
            if (overlap > min(last.height, line.box.height) / 2
                    and line.box.left - last.right <= max(line.box.height, 8)):
                group.append(line)
                break
        else:
            groups.append([line])
    return [g[0] if len(g) == 1 else
            TextBox(" ".join(t.text for t in g), functools.reduce(Box.union, (t.box for t in g)),
                    min(t.score for t in g)) for g in groups]
