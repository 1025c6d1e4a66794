"""What is read from a screenshot: its grey levels (the effect check, the checks of adaptive
re-planning and the target match all start from them), and a memo of what is worth computing
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
