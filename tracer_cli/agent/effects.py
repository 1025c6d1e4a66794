"""Did an action change the screen? A comparison of the screenshots before and after, at the
model image's own size, pixel by pixel.

An action's effect can be small and away from the point acted on: a checkbox ticked by a click
on its label 100 pixels off, a caret that moved, one typed character. So a step counts as
*visible* when a handful of pixels changed anywhere in the region around the point acted on (a
window's worth: ``WINDOW`` of the screen each way) or in the element under it (a click below
the last line of a tall editor puts the caret at that line's end, however far), or anywhere at
all for keys, which have no point; or when a larger share of the whole screen changed (a new
window, a page); or, where the desktop has an accessibility tree, when the element acted on
changed state (checked, expanded, selected, focused, its text) with next to no pixels (GTK's
flat buttons)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image

NOISE = 16  # levels of any colour channel: a pixel that changed less did not change (dithering)
MIN_PIXELS = 3  # changed pixels that make a visible effect (a "." of a 13 px font is 4)
NO_EFFECT = 0.0005  # fraction of the screen: this much change anywhere is visible too
WINDOW = 0.3  # half the side of the region around the point where any change counts
NEAR = 0.08  # half the side of the box around the target, as a fraction of the screen


@dataclass(frozen=True)
class Effect:
    overall: float  # fraction of the screen that changed
    near: float | None  # fraction of the box around the point acted on, if there was one
    pixels: int = 0  # changed pixels around the point acted on (the whole screen without one)
    state: str = ""  # what the accessibility tree says changed about the element acted on

    @property
    def visible(self) -> bool:
        return self.pixels >= MIN_PIXELS or self.overall >= NO_EFFECT or bool(self.state)

    def to_dict(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {
            "overall": round(self.overall, 5),
            "near": None if self.near is None else round(self.near, 5), "pixels": self.pixels}
        if self.state:
            out["state"] = self.state
        return out


def changed_pixels(before: Image.Image, after: Image.Image) -> Any:
    """A boolean array (height x width): the pixels that changed by more than noise."""
    from tracer_cli.desktop.pixels import changed, colour

    return changed(colour(before), colour(after), NOISE)


def around(size: tuple[int, int], point: tuple[int, int], half: float) -> tuple[slice, slice]:
    """The rows and columns of the box of ``half`` the image each way around ``point``."""
    width, height = size
    cx, cy = point[0] * width / COORD_MAX, point[1] * height / COORD_MAX
    rx, ry = max(2, half * width), max(2, half * height)
    return (slice(max(0, int(cy - ry)), min(height, int(cy + ry) + 1)),
            slice(max(0, int(cx - rx)), min(width, int(cx + rx) + 1)))


def compare(before: Image.Image, after: Image.Image,
            point: tuple[int, int] | None = None) -> Effect:
    import numpy as np

    if before.size != after.size:
        return Effect(1.0, None, before.width * before.height)
    changed = changed_pixels(before, after)
    overall = float(changed.mean())
    if point is None:
        return Effect(overall, None, int(changed.sum()))
    from tracer_cli.desktop.pixels import grey, memo
    from tracer_cli.vision.elements import element_box_in

    near = changed[around(before.size, point, NEAR)]
    region = np.zeros(changed.shape, dtype=bool)
    region[around(before.size, point, WINDOW)] = True
    box = element_box_in(np.array(memo(before, "grey", grey)), point)  # a copy: floodFill writes
    if box is not None:
        region[box[1]:box[3], box[0]:box[2]] = True
    return Effect(overall, float(near.mean()) if near.size else 0.0, int((changed & region).sum()))
