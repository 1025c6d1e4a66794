"""Anchors: how a macro step finds its place again on a later screen. For a point on a
screenshot: the text under it (OCR), else a small picture cut around it that is unique there,
else the nearest label with an offset (an empty field), else a larger picture. Shared by the
recorder (macro/record.py) and the export of agent runs (macro/export.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.errors import ActionError, TracerError

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.vision.ocr import OcrEngine

OCR_AROUND = (400, 120)  # half width and height of the area read around a click
SMALL_IMAGE = 128  # the largest image anchor tried before a nearby text
LARGE_IMAGE = 256  # the largest image anchor at all
LABEL_DISTANCE = 300  # pixels from a click to a text that may anchor it (an empty field's label)


@dataclass
class Anchor:
    """A target as a macro writes it (``image`` is a PIL image until written) and its kind."""

    target: dict[str, Any]
    kind: str  # element, text, image, point
    note: str = ""  # why a weaker kind was used


def with_element(anchor: Anchor, element: dict[str, Any] | None) -> Anchor:
    """The anchor with the accessibility tree's element at its point (``{role, name,
    window}``) tried before its text or image; unchanged without one."""
    if not element:
        return anchor
    return Anchor({"element": dict(element), **anchor.target}, "element", anchor.note)


def _usable(text: str) -> bool:
    text = text.strip()
    return len(text) >= 2 and sum(c.isalnum() for c in text) >= 2 and len(text) <= 60


def _text_target(lines: list[Any], text: str, x: int, y: int, within: float) -> dict[str, Any] | None:
    """A text target for the point: ``text`` as a replay finds it in ``lines`` (the match
    nearest the point, as the runner picks it), if that match lies within ``within`` pixels of
    the point, with the offset from its centre to the point."""
    from tracer_cli.vision.ocr import find_text

    matches = find_text(lines, text)
    if not matches:
        return None
    best = min(matches, key=lambda m: (m.box.center[0] - x) ** 2 + (m.box.center[1] - y) ** 2)
    if best.box.distance(x, y) > within:
        return None
    cx, cy = best.box.center
    target: dict[str, Any] = {"text": text, "point": [int(x), int(y)]}  # the macro escapes it
    if (x - cx, y - cy) != (0, 0):
        target["offset"] = [int(x - cx), int(y - cy)]
    return target


def _image_target(image: Image.Image, x: int, y: int, size: int, max_size: int,
                  confidence: float) -> tuple[dict[str, Any] | None, str]:
    from tracer_cli.vision.imagefind import cut_anchor

    try:
        crop, (dx, dy) = cut_anchor(image, x, y, size=size, max_size=max_size, confidence=confidence)
    except ActionError as exc:
        return None, exc.message
    target: dict[str, Any] = {"image": crop, "point": [int(x), int(y)]}
    if (dx, dy) != (0, 0):
        target["offset"] = [int(dx), int(dy)]
    if confidence != 0.9:
        target["confidence"] = confidence
    return target, ""


def _squeeze(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def typed_by_user(text: str, typed: Iterable[str]) -> bool:
    """Whether ``text`` (read on the screen) is, or holds, something typed during the
    recording: content, not a label of the program, so no anchor for another replay."""
    seen = _squeeze(text)
    if not seen:
        return False
    for t in typed:
        t = _squeeze(t)
        if len(t) >= 3 and (t in seen or (len(seen) >= 3 and seen in t)):
            return True
    return False


def _label_rank(box: Any, x: int, y: int) -> tuple[bool, float]:
    """How likely a text is the label of the field clicked at (x, y): a label starts above the
    point or level with it, left of it or above it; nearest first, rows counting more than
    columns (the label of the row, not of the field above)."""
    placed = box.top <= y and (box.right <= x or box.bottom <= y)
    dx = max(box.left - x, 0, x - box.right)
    dy = max(box.top - y, 0, y - box.bottom)
    return not placed, dx + 3 * dy


def anchor_for(image: Image.Image, x: int, y: int, engine: OcrEngine | None,
               confidence: float = 0.9, typed: Iterable[str] = ()) -> Anchor:
    """The anchor of a click at (x, y) of ``image`` (a screenshot of the monitor, in its
    pixels), the first of:

    1. the text under the point, when OCR reads some there;
    2. a small image cut around the point (up to SMALL_IMAGE px, unique on the screenshot);
    3. the nearest text within LABEL_DISTANCE px (an empty field's label), with the offset;
    4. a larger image (up to LARGE_IMAGE px: it may take in things around the window);
    5. the bare point.

    Text typed during the recording (``typed``) is content, not an anchor. Text targets carry
    the offset from where a replay finds the text to the point. The point is always kept: it
    picks the nearest of several matches."""
    typed = list(typed)
    point = [int(x), int(y)]
    notes = []
    lines: list[Any] = []
    if engine is not None:
        from tracer_cli.vision.ocr import Box, read_region, text_at

        ax, ay = OCR_AROUND
        try:
            lines = read_region(engine, image, Box(x - ax, y - ay, x + ax, y + ay))
        except TracerError as exc:
            notes.append(f"OCR failed: {exc.message}")
        hit = text_at(lines, x, y)
        if hit is not None and _usable(hit.text) and not typed_by_user(hit.text, typed):
            target = _text_target(lines, hit.text.strip(), x, y, 8)
            if target is not None:
                return Anchor(target, "text")
    target, problem = _image_target(image, x, y, 32, SMALL_IMAGE, confidence)
    if target is not None:
        return Anchor(target, "image")
    labels = sorted((line for line in lines if _usable(line.text)
                     and not typed_by_user(line.text, typed) and line.box.distance(x, y) <= LABEL_DISTANCE),
                    key=lambda line: _label_rank(line.box, x, y))
    for label in labels[:3]:
        target = _text_target(lines, label.text.strip(), x, y, LABEL_DISTANCE)
        if target is not None:
            return Anchor(target, "text", "the nearest text, with an offset")
    target, problem = _image_target(image, x, y, LARGE_IMAGE, LARGE_IMAGE, confidence)
    if target is not None:
        return Anchor(target, "image", "a large image")
    notes.append(problem)
    return Anchor({"point": point}, "point", "; ".join(n for n in notes if n))
