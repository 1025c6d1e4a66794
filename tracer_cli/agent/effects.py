"""Did an action change the screen? A cheap comparison of the screenshots before and after,
overall and around the point acted on, at a quarter of the model image's size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image

NO_EFFECT = 0.0005  # fraction of (downsampled) pixels: below this nothing visible happened
NEAR = 0.08  # half the side of the box around the target, as a fraction of the screen


@dataclass(frozen=True)
class Effect:
    overall: float  # fraction of the screen that changed
    near: float | None  # fraction of the box around the point acted on, if there was one

    @property
    def visible(self) -> bool:
        return self.overall >= NO_EFFECT

    def to_dict(self) -> dict[str, float | None]:
        return {"overall": round(self.overall, 5),
                "near": None if self.near is None else round(self.near, 5)}


def _changed(diff: Image.Image) -> float:
    histogram = diff.histogram()
    return sum(histogram[16:]) / max(1, diff.width * diff.height)  # 16/255: not noise


def compare(before: Image.Image, after: Image.Image,
            point: tuple[int, int] | None = None) -> Effect:
    from PIL import ImageChops

    if before.size != after.size:
        return Effect(1.0, None)
    size = (max(1, before.width // 4), max(1, before.height // 4))
    a = before.convert("L").resize(size)
    b = after.convert("L").resize(size)
    diff = ImageChops.difference(a, b)
    near = None
    if point is not None:
        cx, cy = point[0] * size[0] / COORD_MAX, point[1] * size[1] / COORD_MAX
        rx, ry = max(2, NEAR * size[0]), max(2, NEAR * size[1])
        box = (max(0, int(cx - rx)), max(0, int(cy - ry)), min(size[0], int(cx + rx) + 1),
               min(size[1], int(cy + ry) + 1))
        near = _changed(diff.crop(box))
    return Effect(_changed(diff), near)
