"""The element under a point of a screenshot: the region of the element's own colour around the
point, bounded by its borders (a text field's inside, a button's face), found by a flood fill.
What an action may have changed (effects), what the checks of adaptive re-planning allow to
change (speculate) and where an empty field's label stands (labels) start from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image


def element_box(image: Image.Image, point: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box of the element under ``point`` (0..1000): the region of the element's own colour
    around the point, bounded by its borders (a text field's inside, a button's face). None when
    that region is the window's background (over a quarter of the screen) or cannot be found.
    Pixels of ``image``: (left, top, right, bottom)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - opencv (and numpy with it) is a dependency
        return None
    return element_box_in(np.array(image.convert("L")), point)


def element_box_in(gray: Any, point: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """``element_box`` on an image's grey levels (a writable uint8 array)."""
    try:
        import cv2
        import numpy as np
    except ImportError:  # pragma: no cover - opencv is a dependency
        return None
    height, width = gray.shape
    px = min(width - 1, round(point[0] * width / COORD_MAX))
    py = min(height - 1, round(point[1] * height / COORD_MAX))
    # Seed on the element's own colour: the commonest grey near the point (not a letter on it).
    x0, y0 = max(0, px - 6), max(0, py - 6)
    near = gray[y0:py + 7, x0:px + 7]
    values, counts = np.unique(near, return_counts=True)
    ys, xs = np.nonzero(near == values[counts.argmax()])
    nearest = int(((ys + y0 - py) ** 2 + (xs + x0 - px) ** 2).argmin())
    seed = (int(xs[nearest] + x0), int(ys[nearest] + y0))
    mask = np.zeros((height + 2, width + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    # (MASK_ONLY leaves the image as it is, but OpenCV wants it writable all the same)
    _, _, _, (left, top, w, h) = cv2.floodFill(gray, mask, seed, 0, 3, 3, flags)
    if w * h > 0.25 * width * height:
        return None
    return left, top, left + w, top + h
