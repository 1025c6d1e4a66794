"""Finding a small image (an anchor cut from an earlier screenshot) on the screen.

OpenCV template matching on grayscale (normalised cross-correlation), then non-maximum
suppression so that one object on the screen gives one match. OpenCV and numpy are imported
when a function is called, never on import of this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer_cli.errors import ActionError
from tracer_cli.vision.ocr import Box, Match, reading_order

if TYPE_CHECKING:
    from PIL import Image

MIN_CONTRAST = 4.0  # grey-level standard deviation below which a template is "flat"


def _gray(image: Image.Image):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.asarray(image.convert("L"), dtype=np.uint8)


def _scores(haystack: Image.Image, template: Image.Image):  # type: ignore[no-untyped-def]
    """The similarity of ``template`` at every position of ``haystack`` (-1..1)."""
    import cv2
    import numpy as np

    tpl = _gray(template)
    if float(tpl.std()) < MIN_CONTRAST:
        raise ActionError("the image anchor is flat (one colour): it would match anywhere",
                          "cut the anchor around something with an edge or text in it")
    scores = cv2.matchTemplate(_gray(haystack), tpl, cv2.TM_CCOEFF_NORMED)
    return np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0)


def _sharp(haystack: Image.Image, crop: Image.Image, left: int, top: int, confidence: float) -> bool:
    """Whether the crop matches only at its own place: a crop of a stripe (an empty entry
    field's border) also matches a few pixels along it, which suppression would merge into
    one match that lands anywhere on the stripe."""
    scores = _scores(haystack, crop)
    scores[max(0, top - 2):top + 3, max(0, left - 2):left + 3] = -1.0
    return float(scores.max()) < confidence


def find_image(haystack: Image.Image, template: Image.Image, confidence: float = 0.9,
               limit: int = 100) -> list[Match]:
    """Where ``template`` appears in ``haystack`` with a similarity of at least ``confidence``
    (0..1), one match per place, in reading order. Empty when the template is larger than
    the haystack. A flat template (one colour, no contrast) cannot be told apart from any
    other flat area: it raises ActionError."""
    import cv2
    import numpy as np

    tw, th = template.size
    if tw > haystack.width or th > haystack.height or tw == 0 or th == 0:
        return []
    scores = _scores(haystack, template)
    rx, ry = max(1, tw // 2), max(1, th // 2)
    # Candidates: local maxima over a window of about the template's size (a plateau of equal
    # scores keeps all its points; the suppression below keeps one of them).
    peaks = cv2.dilate(scores, np.ones((2 * ry + 1, 2 * rx + 1), np.uint8))
    ys, xs = np.nonzero((scores >= confidence) & (scores >= peaks))
    if len(xs) == 0:
        return []
    order = np.argsort(-scores[ys, xs], kind="stable")
    kept: list[Match] = []
    # Greedy non-maximum suppression: the best peak wins, peaks closer than half the template
    # size to a kept one are the same object.
    taken = np.zeros(scores.shape, dtype=bool)
    for idx in order:
        y, x = int(ys[idx]), int(xs[idx])
        if taken[y, x]:
            continue
        taken[max(0, y - ry):y + ry + 1, max(0, x - rx):x + rx + 1] = True
        kept.append(Match(Box(x, y, x + tw, y + th), round(float(scores[y, x]), 4)))
        if len(kept) >= limit:
            break
    return reading_order(kept)


def cut_anchor(image: Image.Image, x: int, y: int, size: int = 32, max_size: int = 256,
               confidence: float = 0.9) -> tuple[Image.Image, tuple[int, int]]:
    """Cut a template around (x, y), growing it (doubling from ``size``) until ``find_image``
    finds it exactly once on ``image``, up to ``max_size``.

    Returns the crop and the point's offset from the crop's centre (dx, dy): clicking at a
    match's centre plus this offset clicks the recorded point. Raises ActionError when no crop
    up to ``max_size`` is unique (a repeated pattern, or a flat area)."""
    if not (0 <= x < image.width and 0 <= y < image.height):
        raise ActionError(f"the point ({x}, {y}) is outside the {image.width}x{image.height} image",
                          "give a point on the screenshot")
    side = max(8, size)
    last_error = "it is not unique"
    while True:
        half = side // 2
        left = min(max(0, x - half), max(0, image.width - side))
        top = min(max(0, y - half), max(0, image.height - side))
        right, bottom = min(image.width, left + side), min(image.height, top + side)
        crop = image.crop((left, top, right, bottom))
        try:
            found = find_image(image, crop, confidence)
        except ActionError:
            found, last_error = [], "the area around it is flat"
        if len(found) == 1 and _sharp(image, crop, left, top, confidence):
            cx, cy = (left + right) // 2, (top + bottom) // 2
            return crop, (x - cx, y - cy)
        if len(found) > 1:
            last_error = f"it appears {len(found)} times"
        elif found:
            last_error = "it also matches a few pixels away (a stripe or an edge)"
        if side >= max_size or (right - left >= image.width and bottom - top >= image.height):
            raise ActionError(f"no unique image anchor around ({x}, {y}) up to {max_size} px: "
                              f"{last_error}", "use a text anchor or coordinates for this point")
        side = min(max_size, side * 2)
