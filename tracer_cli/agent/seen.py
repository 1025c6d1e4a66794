"""Grounding without a second look: a click whose target the screen already shows at the
planner's point is placed on it, and no zoom turn or grounder call is made for it.

The screen "shows" the target when, at the planner's point,
- the accessibility tree has an element a user acts on whose name the target names (a push
  button 'OK' for "the OK button"): the click goes to the element's centre;
- or, where the tree has nothing to say there, OCR reads the target's label on the point's row
  and the point lies on that text (or within one text height of it): the click goes to the
  point, moved onto the text if it was beside it.

Anything else (another named element there, a label beside a field, text a little way off, a
long text where the spot in it matters) is placed as before, by the zoom turn or the grounder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.labels import OcrReader
    from tracer_cli.desktop.elements import Element

# Words of a target that mean an input field: its label is beside it, not the place to click.
FIELD_WORDS = frozenset({"field", "entry", "input", "textbox", "box", "area", "bar", "combo",
                         "dropdown", "spinner", "slider"})
MAX_SHARE = 0.1  # an element wider and taller than this share of the screen is no single target


@dataclass(frozen=True)
class Seen:
    """Where a click goes because the screen shows its target there."""

    pixel: tuple[int, int]  # on the monitor's screenshot (full resolution)
    by: str  # "element" or "text"
    what: str  # the element or the text found ("push button 'OK'", "'OK'")

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "found": self.what}


def by_element(element: Element | None, target: str, origin: tuple[int, int],
               screen: tuple[int, int]) -> Seen | None:
    """The element under the planner's point, when it is one a user acts on and the target
    names it; its centre on the monitor (``origin``: the monitor's top-left on the desktop,
    ``screen``: its size). A long text (a document, a terminal) is not: where in it matters."""
    from tracer_cli.agent.speculate import names_target

    if element is None or not element.anchorable or not names_target(target, element.name):
        return None
    if "multi-line" in element.states or element.role in ("terminal", "document text"):
        return None
    left, top, right, bottom = element.box
    if (right - left) * (bottom - top) > MAX_SHARE * screen[0] * screen[1]:
        return None
    x, y = element.center[0] - origin[0], element.center[1] - origin[1]
    if not (0 <= x < screen[0] and 0 <= y < screen[1]):
        return None
    return Seen((x, y), "element", element.describe())


def names_a_field(target: str) -> bool:
    """Whether a target describes an input field ("the Name field"): a label read there is
    beside the field, not on it."""
    return any(word in FIELD_WORDS for word in re.findall(r"[a-z]+", target.casefold()))


def by_text(read: OcrReader, image: Image.Image, point: tuple[float, float],
            target: str) -> Seen | None:
    """The target's label read on ``image`` (the full-resolution screen) on the point's row,
    when the point (0..1000) lies on that text or within one text height of it: the point
    itself when on the text, else the text's pixel nearest it (a few pixels inside). Not the
    text's centre: a label may be left-aligned in its element (a menu item, a list row), and a
    point on the text is on the element already."""
    from tracer_cli.plan import COORD_MAX

    if names_a_field(target):
        return None
    found = read.phrase(image, point, target)
    if found is None:
        return None
    box = found.box
    px, py = point[0] * image.width / COORD_MAX, point[1] * image.height / COORD_MAX
    margin = box.height
    if not (box.left - margin <= px <= box.right + margin and box.top - 2 <= py <= box.bottom + 2):
        return None
    inset_x, inset_y = min(3, box.width // 2), min(3, box.height // 2)
    x = min(max(round(px), box.left + inset_x), box.right - 1 - inset_x)
    y = min(max(round(py), box.top + inset_y), box.bottom - 1 - inset_y)
    return Seen((x, y), "text", repr(found.text))
