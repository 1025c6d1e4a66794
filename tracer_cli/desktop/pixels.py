"""What is read from a screenshot: its colours and grey levels (what changed between two
screenshots is told by colour, so that a pale yellow pop-up leaving a white page counts; the
target match and the element finder work on grey levels), and a memo of what is worth computing
once per screenshot (its encoding for a model: a history screenshot is sent again with every
call).

Screenshots are PIL images, which cannot be dictionary keys; the memo holds the few latest by
identity, with a weak reference to tell a new image from an old one at a reused address. It
relies on a screenshot not being drawn on once taken (tracer draws on copies)."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

KEEP = 8  # entries: the screenshots of the last few model calls

_cache: OrderedDict[tuple[int, str], tuple[weakref.ref[Any], Any]] = OrderedDict()


def memo(image: Image.Image, kind: str, compute: Callable[[Image.Image], Any]) -> Any:
    """``compute(image)``, remembered for this image (by identity) under ``kind``. The value
    must not be changed by the caller (it is shared)."""
    key = (id(image), kind)
    held = _cache.get(key)
    if held is not None and held[0]() is image:
        _cache.move_to_end(key)
        return held[1]
    value = compute(image)
    _cache[key] = (weakref.ref(image), value)
    while len(_cache) > KEEP:
        _cache.popitem(last=False)
    return value


def grey(image: Image.Image) -> Any:
    """The image's grey levels as a uint8 array (height x width)."""
    import numpy as np

    return np.asarray(image.convert("L"))


def colour(image: Image.Image) -> Any:
    """The image's RGB values as a uint8 array (height x width x 3)."""
    import numpy as np

    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def changed(before: Any, after: Any, noise: int) -> Any:
    """A boolean array (height x width): where two RGB arrays of one size differ by ``noise``
    or more in any channel."""
    import cv2

    # Each channel to 0 or 255, then to grey: not zero where any channel is (a numpy max over
    # the channels takes tens of milliseconds on a 1920x1080 screenshot, this one or two).
    _, over = cv2.threshold(cv2.absdiff(before, after), noise - 1, 255, cv2.THRESH_BINARY)
    return cv2.cvtColor(over, cv2.COLOR_RGB2GRAY) > 0
