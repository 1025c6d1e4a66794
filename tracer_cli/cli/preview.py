"""Dry-run pictures: the screenshot with a numbered marker at each forecast point and arrows
between them, plus a legend of every step (keyboard steps have no point but are listed)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tracer_cli.plan import COORD_MAX, Plan

if TYPE_CHECKING:
    from PIL import Image

COLOURS = ["#e6194b", "#f58231", "#ffe119", "#3cb44b", "#4363d8", "#911eb4", "#42d4f4",
           "#f032e6", "#9a6324", "#800000"]


def _arrow(draw, start, end, colour, width) -> None:  # type: ignore[no-untyped-def]
    """An arrow with a black outline, so it shows on light and dark screens alike."""
    (x1, y1), (x2, y2) = start, end
    if math.hypot(x2 - x1, y2 - y1) < 1:
        return
    head = max(10, width * 4)
    angle = math.atan2(y2 - y1, x2 - x1)
    left = (x2 - head * math.cos(angle - 0.4), y2 - head * math.sin(angle - 0.4))
    right = (x2 - head * math.cos(angle + 0.4), y2 - head * math.sin(angle + 0.4))
    draw.line([start, end], fill="#000000", width=width + 2)
    draw.line([start, end], fill=colour, width=width)
    draw.polygon([end, left, right], fill=colour, outline="#000000")


def _legend_origin(size, box, points) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The image corner where the legend box covers the fewest markers."""
    (w, h), (bw, bh) = size, box
    corners = [(0, 0), (w - bw, 0), (0, h - bh), (w - bw, h - bh)]

    def covered(corner: tuple[float, float]) -> int:
        cx, cy = corner
        return sum(cx - 20 <= x <= cx + bw + 20 and cy - 20 <= y <= cy + bh + 20 for x, y in points)

    return min(corners, key=covered)


def annotate(image: Image.Image, plan: Plan) -> Image.Image:
    """A forecast drawn on the screenshot the model saw (points 0..1000 of it)."""
    def at(x: int, y: int) -> tuple[float, float]:
        return x * image.width / COORD_MAX, y * image.height / COORD_MAX

    steps = [[at(x, y) for x, y in step.points()] for step in plan.trajectory]
    legend = [f"{n}. {s.describe()}" for n, s in enumerate(plan.trajectory, 1)]
    if plan.thought:
        legend.insert(0, plan.thought[:120])
    return draw_marks(image, steps, legend)


def draw_marks(image: Image.Image, steps: list[list[tuple[float, float]]],
               legend: list[str]) -> Image.Image:
    """Numbered markers at each step's pixel points (a second point: an arrow to it, as for a
    drag), white arrows from one step to the next, and a legend box in the emptiest corner."""
    from PIL import ImageDraw, ImageFont

    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    scale = max(1.0, out.width / 1280)
    radius, width = round(14 * scale), max(2, round(3 * scale))
    font = ImageFont.load_default(size=round(16 * scale))

    previous = None
    marks = []
    for number, points in enumerate(steps, 1):
        colour = COLOURS[(number - 1) % len(COLOURS)]
        if not points:
            continue
        if previous is not None:
            _arrow(draw, previous, points[0], "#ffffff", width)
        if len(points) > 1:
            _arrow(draw, points[0], points[1], colour, width)
            x2, y2 = points[1]
            draw.ellipse([x2 - radius / 2, y2 - radius / 2, x2 + radius / 2, y2 + radius / 2],
                         outline=colour, width=width)
        marks.append((number, points[0], colour))
        previous = points[-1]
    for number, (x, y), colour in marks:
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour,
                     outline="#000000", width=max(1, width // 2))
        draw.text((x, y), str(number), fill="#000000", font=font, anchor="mm")

    if not legend:
        return out
    line_h = round(20 * scale)
    box = (max(draw.textlength(t, font=font) for t in legend) + 16, line_h * len(legend) + 12)
    ox, oy = _legend_origin(out.size, box, [p for _, p, _ in marks])
    draw.rectangle([ox, oy, ox + box[0], oy + box[1]], fill="#202020", outline="#ffffff")
    for i, text in enumerate(legend):
        draw.text((ox + 8, oy + 6 + i * line_h), text, fill="#ffffff", font=font)
    return out
