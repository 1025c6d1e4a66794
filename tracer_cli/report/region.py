"""The part of a step's screenshot a card shows first: the window acted on, else the area
around the step's points, else what the step before showed, else where anything is drawn on an
empty (Xvfb's black) screen. All boxes are (left, top, right, bottom) in screenshot pixels.

A window (the one the record names, or the drawn part of the screen, which on an empty screen
is the program's window) is shown whole when it is small; in a large one the area around the
points is shown, kept inside it. A region is never smaller than MIN_SIZE (a tiny target still
shows its surroundings), never narrower or flatter than ASPECT allows, always on the screen;
one that would cover nearly the whole screen is no zoom at all (None)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

Box = tuple[int, int, int, int]
FBox = tuple[float, float, float, float]
Pair = tuple[float, float]

MARGIN = 0.1  # around the points: this share of the screen's width (height) on each side
MIN_SIZE = (640, 400)  # pixels of the screenshot at least, and a third of each side of it
MIN_SHARE = 1 / 3
ASPECT = (0.75, 2.4)  # width / height of a region, at least and at most
WHOLE_WINDOW = 0.5  # a window of at most this share of the screen's area is shown whole
PAD = 8  # pixels around a window shown whole
NO_ZOOM = 0.85  # a region this share of both sides of the screen or more: the whole screen
BACKGROUND_TOLERANCE = 24  # of 255: JPEG noise on an empty screen is still empty
CONTENT_STEP = 4  # the drawn part is found on an image this many times smaller: cheap


SAID = {"window": "the window acted in", "content": "the drawn part of the screen",
        "action": "around the action", "previous": "as at the step before"}


@dataclass(frozen=True)
class Region:
    box: Box
    source: str  # what it was chosen from: window, content (the drawn part), action, previous

    @property
    def said(self) -> str:
        """What the region is, as the card's caption says it."""
        return SAID.get(self.source, self.source)

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def content_box(image: Image.Image) -> Box | None:
    """Where anything is drawn on an empty screen: the bounding box of the pixels unlike the
    background (the colour of at least three corners); None on a screen drawn edge to edge (its
    corners differ) or an empty one."""
    from PIL import Image, ImageChops

    small = image.convert("RGB").reduce(CONTENT_STEP) if min(image.size) >= 4 * CONTENT_STEP \
        else image.convert("RGB")
    w, h = small.size
    corners: list[tuple[int, ...]] = [small.getpixel(p)  # type: ignore[misc]
                                      for p in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    background = next((c for c in corners if sum(_alike(c, o) for o in corners) >= 3), None)
    if background is None:
        return None
    diff = ImageChops.difference(small, Image.new("RGB", small.size, background)).convert("L")
    found = diff.point(lambda v: 255 if v > BACKGROUND_TOLERANCE else 0).getbbox()
    if found is None:
        return None
    scale_x, scale_y = image.width / w, image.height / h
    return (int(found[0] * scale_x), int(found[1] * scale_y),
            min(image.width, round(found[2] * scale_x)), min(image.height, round(found[3] * scale_y)))


def _alike(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= BACKGROUND_TOLERANCE


def choose(size: tuple[int, int], points: Sequence[Pair] = (), boxes: Iterable[FBox] = (),
           window: FBox | None = None, content: FBox | None = None,
           previous: Region | None = None) -> Region | None:
    """The region to show of a screenshot of ``size``: ``points`` and ``boxes`` are what the
    step acted on or found, ``window`` the window the record says it acted in, ``content``
    the drawn part of the screen, ``previous`` the region of the step before (for a step that
    acted on nothing: wait, done). None: the whole screen."""
    screen: FBox = (0, 0, size[0], size[1])
    interest = _bound([*((x, y, x, y) for x, y in points), *boxes], screen)
    if window is not None and (_clip(window, screen) is None or _area(window) <= 0):
        window = None
    if window is not None:
        return _zoom(size, _bound([window, *([interest] if interest else [])], screen), interest,
                     "window")
    if interest is not None:
        if content is not None and _covers(content, interest):
            return _zoom(size, content, interest, "content")
        return _finish(size, _grow(interest, size), screen, "action")
    if previous is not None and previous.box[2] <= size[0] and previous.box[3] <= size[1]:
        return Region(previous.box, "previous")
    if content is not None:
        return _zoom(size, content, None, "content")
    return None


def _zoom(size: tuple[int, int], window: FBox, interest: FBox | None, source: str) -> Region | None:
    """A window: whole when small (or nothing was acted on), else the points' area inside it."""
    screen: FBox = (0, 0, size[0], size[1])
    inside = _clip(window, screen) or screen
    if interest is None or _area(inside) <= WHOLE_WINDOW * size[0] * size[1]:
        padded = (inside[0] - PAD, inside[1] - PAD, inside[2] + PAD, inside[3] + PAD)
        return _finish(size, padded, screen, source)
    return _finish(size, _grow(interest, size), inside, "action")


def _grow(box: FBox, size: tuple[int, int]) -> FBox:
    mx, my = MARGIN * size[0], MARGIN * size[1]
    return box[0] - mx, box[1] - my, box[2] + mx, box[3] + my


def _finish(size: tuple[int, int], box: FBox, limit: FBox, source: str) -> Region | None:
    """``box`` made at least the minimum size and of a sane shape, moved inside ``limit`` as
    far as it fits (and inside the screen always), in whole pixels; None when it is about the
    whole screen."""
    width, height = size
    min_w = min(width, max(MIN_SIZE[0], width * MIN_SHARE))
    min_h = min(height, max(MIN_SIZE[1], height * MIN_SHARE))
    w, h = max(box[2] - box[0], min_w), max(box[3] - box[1], min_h)
    w, h = max(w, h * ASPECT[0]), max(h, w / ASPECT[1])
    w, h = min(w, width), min(h, height)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    left = _place(cx - w / 2, w, limit[0], limit[2], width)
    top = _place(cy - h / 2, h, limit[1], limit[3], height)
    if w >= NO_ZOOM * width and h >= NO_ZOOM * height:
        return None
    return Region((round(left), round(top), round(left + w), round(top + h)), source)


def _place(start: float, length: float, low: float, high: float, end: float) -> float:
    """Where a span of ``length`` starting near ``start`` goes: inside low..high when it fits
    (else centred on it), and inside 0..end always."""
    if length <= high - low:
        start = min(max(start, low), high - length)
    else:
        start = (low + high - length) / 2
    return min(max(start, 0.0), end - length)


def _bound(boxes: Sequence[FBox], screen: FBox) -> FBox | None:
    """The box around ``boxes``, cut to the screen; None for none (or none on the screen)."""
    inside = [b for b in (_clip(b, screen) for b in boxes) if b is not None]
    if not inside:
        return None
    return (min(b[0] for b in inside), min(b[1] for b in inside),
            max(b[2] for b in inside), max(b[3] for b in inside))


def _clip(box: FBox, screen: FBox) -> FBox | None:
    left, top = max(box[0], screen[0]), max(box[1], screen[1])
    right, bottom = min(box[2], screen[2]), min(box[3], screen[3])
    return (left, top, right, bottom) if right >= left and bottom >= top else None


def _covers(outer: FBox, inner: FBox) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2]
            and inner[3] <= outer[3])


def _area(box: FBox) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
