"""Where the ink is on a screenshot near a point, so that a marker can keep off it: the rows of
the line of text under a click, how much text a box would cover, how far a stroke can go before
it meets ink. Read from small crops around the point (a marker is laid out for every step of a
report). Where a stroke may go, ink is where the grey levels of a pixel's 3x3 neighbourhood differ
by ``CONTRAST`` or more: the strokes of dark text on a light ground and of light text on a dark
one, with a pixel of margin around them, not flat colours and gradients. What a box covers is
counted against the box's commonest grey level (its ground), without the lines that cross it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

CONTRAST = 40  # grey levels
LINE_CORNER = 3  # pixels beside a line (a button's side) whose ink is its corner, not text
Box = tuple[float, float, float, float]  # left, top, right, bottom


class Ink:
    """The ink of one screenshot, read where it is asked for."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image

    def _grey(self, box: Box, margin: int = 0) -> tuple[Any, tuple[int, int, int, int], tuple[int, int]]:
        """The grey levels (int16) of the part of ``box`` on the image, with up to ``margin``
        pixels more on each side where the image has them; that part (left, top, right,
        bottom), and where it starts in the array."""
        import numpy as np

        w, h = self.image.size
        left, top = max(0, int(box[0])), max(0, int(box[1]))
        right, bottom = min(w, math.ceil(box[2])), min(h, math.ceil(box[3]))
        if right <= left or bottom <= top:
            return np.zeros((0, 0), np.int16), (left, top, left, top), (0, 0)
        l0, t0 = max(0, left - margin), max(0, top - margin)
        r0, b0 = min(w, right + margin), min(h, bottom + margin)
        grey = np.asarray(self.image.crop((l0, t0, r0, b0)).convert("L"), dtype=np.int16)
        return grey, (left, top, right, bottom), (left - l0, top - t0)

    def mask(self, box: Box) -> tuple[Any, int, int]:
        """Ink (a boolean array) of the part of ``box`` on the image, with a pixel of margin
        around every stroke, and that part's left and top."""
        import numpy as np

        grey, (left, top, right, bottom), (dx, dy) = self._grey(box, 1)
        if not grey.size:
            return np.zeros((0, 0), bool), left, top
        grey = np.pad(grey, 1, mode="edge")  # (at the image's edges)
        rows, cols = bottom - top, right - left
        shifted = [grey[dy + j:dy + j + rows, dx + i:dx + i + cols] for j in range(3) for i in range(3)]
        return np.max(shifted, axis=0) - np.min(shifted, axis=0) >= CONTRAST, left, top

    def text(self, box: Box) -> int:
        """How many pixels in ``box`` (and a pixel around it) stand out from its commonest grey
        level, leaving out rows and columns that do so from side to side (a border, a rule,
        the edge of a window: nothing to read)."""
        import numpy as np

        grey, _, _ = self._grey((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1))
        if not grey.size:
            return 0
        ground = np.bincount(grey.ravel()).argmax()
        ink = np.abs(grey - ground) >= CONTRAST
        ink[ink.mean(axis=1) > 0.9, :] = False
        ink[:, ink.mean(axis=0) > 0.9] = False
        return int(ink.sum())

    def line(self, point: tuple[float, float], near: int, reach: int, wide: int = 0
             ) -> tuple[int, int] | None:
        """The first and last row of the line of text at ``point``: the rows around it with ink
        within ``near`` columns of it, grown by the ink within ``wide`` columns that joins them
        (a capital, an ascender, a descender of a letter further out), but not by a line that
        runs on above and below them (the side of a button round a short word). None when there
        is no ink at the point (nor a row or two away), or when the ink goes on for ``reach``
        rows up or down (a picture, not a line of text)."""
        import numpy as np

        x, y = round(point[0]), round(point[1])
        wide = max(wide, near)
        # (the lines are looked for a little further out: a corner within reach, its line not)
        out = wide + LINE_CORNER
        ink, left, top = self.mask((x - out, y - reach, x + out + 1, y + reach + 1))
        if not ink.size:
            return None
        core = _run(ink[:, max(0, x - near - left):x + near + 1 - left].any(axis=1), y - top)
        if core is None:
            return None
        first, last = core
        # columns inked through the core that run on past it both ways: lines, not letters;
        # with the columns next to them (where a rounded corner bends the line away)
        span = max(2, (last - first + 1) // 4)
        up = np.cumprod(ink[first - 1::-1, :], axis=0).sum(axis=0) if first > 0 else 0
        down = np.cumprod(ink[last + 1:, :], axis=0).sum(axis=0)
        lines = ink[first:last + 1, :].all(axis=0) & (up >= span) & (down >= span)
        lines = np.convolve(lines, np.ones(2 * LINE_CORNER + 1), mode="same") > 0
        within = np.abs(np.arange(ink.shape[1]) + left - x) <= wide
        band = _run(ink[:, within & ~lines].any(axis=1), y - top)
        if band is None:
            return None
        first, last = band
        if (first == 0 and top > 0) or (last == len(ink) - 1 and top + len(ink) < self.image.size[1]):
            return None
        return top + first, top + last

    def free(self, x: float, start: float, end: float, half_width: float) -> float:
        """How far a stroke ``half_width`` either side of column ``x`` can go from row
        ``start`` towards row ``end`` (up or down) before it meets ink, in rows."""
        down = end >= start
        first = math.ceil(start) if down else math.floor(start)  # the first row past ``start``
        low, high = (first, end) if down else (end, first)
        ink, _, top = self.mask((x - half_width, low, x + half_width + 1, high + 1))
        rows = ink.any(axis=1) if ink.size else []
        for i in range(len(rows)) if down else range(len(rows) - 1, -1, -1):
            if rows[i]:
                return max(0.0, abs(top + i - start) - 1)
        return abs(end - start)


def _run(rows: Any, at: int) -> tuple[int, int] | None:
    """The first and last index of the run of true ``rows`` at index ``at`` (or a row or two
    away from it)."""
    start = next((i for i in (at, at - 1, at + 1, at - 2, at + 2) if 0 <= i < len(rows) and rows[i]), None)
    if start is None:
        return None
    first = last = start
    while first > 0 and rows[first - 1]:
        first -= 1
    while last < len(rows) - 1 and rows[last + 1]:
        last += 1
    return first, last
