"""Markers for steps drawn on a screenshot, laid out once and drawn two ways: into the image
(PIL, for `tracer plan` and macro dry-run pictures) and as SVG (the run report).

A marker never hides what it points at: a ring with crosshair ticks above and below it and a
fine dot at the point itself, the step's number in a tag BESIDE the ring (on the side where it covers the
fewest other markers), a drag's end joined by an arrow, and what a keyboard step types or presses
written next to the step it follows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

COLOURS = ["#e6194b", "#f58231", "#ffe119", "#3cb44b", "#4363d8", "#911eb4", "#42d4f4",
           "#f032e6", "#9a6324", "#800000"]
CHAR_WIDTH = 0.6  # of the font size: the width a character is given when laying out tags

Box = tuple[float, float, float, float]  # left, top, right, bottom
Point = tuple[float, float]


@dataclass(frozen=True)
class Step:
    """A step to mark: its points in image pixels (a second one: a drag's end), none for a
    keyboard step, whose ``keys`` (text typed, keys pressed) go beside the step before it."""

    points: tuple[Point, ...] = ()
    keys: str = ""


@dataclass
class Mark:
    number: int
    colour: str
    dimmed: bool  # a forecast step after the one executed
    point: Point
    end: Point | None  # a drag's end
    radius: float
    tag: Box  # the number's box, beside the ring
    notes: list[str] = field(default_factory=list)  # keys of the keyboard steps that follow
    note_box: Box | None = None

    @property
    def ink(self) -> str:
        """The number's colour on the tag: black on light colours, white on dark ones."""
        r, g, b = (int(self.colour[i:i + 2], 16) for i in (1, 3, 5))
        return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


@dataclass
class Layout:
    width: int  # of the part of the image the markers are seen in (all of it, or a zoomed view)
    height: int
    scale: float  # 1 for a 1280-wide view
    font: float  # font size in pixels
    marks: list[Mark]
    links: list[tuple[Point, Point, bool]]  # arrows from one step to the next (dimmed or not)
    loose: list[str]  # keys with no pointer step before them to sit beside
    left: float = 0  # where that part starts in the image (a zoomed view: its top-left corner)
    top: float = 0


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _inside(box: Box, bounds: Box) -> bool:
    return box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def keys_label(action: dict) -> str:  # type: ignore[type-arg]
    """What a keyboard step does, as it is written beside the step before it: ``types "Ada"``,
    ``presses ctrl+s``; "" for other steps. Takes a plan step's dict or a macro step's."""
    kind = action.get("action")
    if kind == "type" and isinstance(action.get("text"), str):
        return f'types "{action["text"]}"'
    if kind == "hotkey" and isinstance(action.get("keys"), list):
        return "presses " + "+".join(map(str, action["keys"]))
    if kind is None and isinstance(action.get("type"), str):  # a macro step
        return f'types "{action["type"]}"'
    if kind is None and isinstance(action.get("hotkey"), list):
        return "presses " + "+".join(map(str, action["hotkey"]))
    return ""


def text_width(text: str, font: float) -> float:
    return len(text) * font * CHAR_WIDTH


def layout(size: tuple[int, int], steps: list[Step], first: int = 1,
           dim_from: int | None = None, within: Box | None = None) -> Layout:
    """Place the markers of ``steps`` (numbered from ``first``; those from index ``dim_from`` on
    are dimmed) on an image of ``size``, or on the part ``within`` of it that is shown (a zoomed
    view: markers sized for it, tags and notes kept inside it; points stay image pixels)."""
    bounds = within or (0, 0, size[0], size[1])
    width, height = round(bounds[2] - bounds[0]), round(bounds[3] - bounds[1])
    scale = max(0.6, width / 1280)
    radius, font = 13 * scale, round(15 * scale)
    marks: list[Mark] = []
    loose: list[str] = []
    links: list[tuple[Point, Point, bool]] = []
    previous: Point | None = None
    for index, step in enumerate(steps):
        dimmed = dim_from is not None and index >= dim_from
        if not step.points:
            if step.keys:
                (marks[-1].notes if marks else loose).append(_shorten(step.keys))
            continue
        point = step.points[0]
        end = step.points[1] if len(step.points) > 1 else None
        if previous is not None:
            links.append((previous, point, dimmed))
        previous = end or point
        marks.append(Mark(first + index, COLOURS[index % len(COLOURS)], dimmed, point, end,
                          radius, (0, 0, 0, 0)))
    rings = [(m.point[0] - m.radius, m.point[1] - m.radius, m.point[0] + m.radius,
              m.point[1] + m.radius) for m in marks]
    placed: list[Box] = []
    for mark in marks:
        mark.tag = _place_tag(mark, font, bounds, rings + placed)
        placed.append(mark.tag)
        if mark.notes:
            mark.note_box = _place_note(mark, font, bounds, rings + placed)
            placed.append(mark.note_box)
    return Layout(width, height, scale, font, marks, links, loose, bounds[0], bounds[1])


def _place_tag(mark: Mark, font: float, bounds: Box, taken: list[Box]) -> Box:
    """The number's box at one of the ring's four diagonals: inside ``bounds``, over the fewest
    other markers and tags (up-right first)."""
    x, y = mark.point
    w, h = text_width(str(mark.number), font) + font * 0.6, font * 1.3
    gap = mark.radius * 0.75
    candidates = [(x + gap, y - gap - h), (x - gap - w, y - gap - h), (x + gap, y + gap),
                  (x - gap - w, y + gap)]
    boxes = [(left, top, left + w, top + h) for left, top in candidates]

    def cost(box: Box) -> float:
        outside = 0.0 if _inside(box, bounds) else 1e9
        return outside + sum(_overlap(box, t) for t in taken)

    return min(boxes, key=cost)


def _place_note(mark: Mark, font: float, bounds: Box, taken: list[Box]) -> Box:
    """The keys' box: on the tag's row, right of it, else left of the ring, else below."""
    lines = len(mark.notes)
    w = max(text_width(n, font) for n in mark.notes) + font * 0.8
    h = font * 1.35 * lines + font * 0.3
    left, top, right, bottom = mark.tag
    x, y = mark.point
    candidates = [(right + 3, top), (left - 3 - w, top), (x - w / 2, y + mark.radius + 4),
                  (x - w / 2, y - mark.radius - 4 - h)]
    boxes = [(cx, cy, cx + w, cy + h) for cx, cy in candidates]

    def cost(box: Box) -> float:
        outside = 0.0 if _inside(box, bounds) else 1e9
        return outside + sum(_overlap(box, t) for t in taken if t != mark.tag)

    best = min(boxes, key=cost)
    if not _inside(best, bounds):  # too wide for any side: keep it in view
        dx = max(0.0, bounds[0] - best[0]) - max(0.0, best[2] - bounds[2])
        dy = max(0.0, bounds[1] - best[1]) - max(0.0, best[3] - bounds[3])
        best = (best[0] + dx, best[1] + dy, best[2] + dx, best[3] + dy)
    return best


def trim(start: Point, end: Point, by_start: float, by_end: float) -> tuple[Point, Point] | None:
    """The segment from ``start`` to ``end`` shortened at both ends (so an arrow stops at the
    rings, not over the targets); None when nothing is left."""
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1)
    if length <= by_start + by_end + 2:
        return None
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    return (x1 + ux * by_start, y1 + uy * by_start), (x2 - ux * by_end, y2 - uy * by_end)


def arrow_head(start: Point, end: Point, size: float) -> list[Point]:
    (x1, y1), (x2, y2) = start, end
    angle = math.atan2(y2 - y1, x2 - x1)
    return [end, (x2 - size * math.cos(angle - 0.45), y2 - size * math.sin(angle - 0.45)),
            (x2 - size * math.cos(angle + 0.45), y2 - size * math.sin(angle + 0.45))]


def ticks(mark: Mark) -> list[tuple[Point, Point]]:
    """The crosshair: short strokes above and below the ring, pointing at its centre (none at
    the sides: they would strike through the word under the click)."""
    x, y = mark.point
    inner, outer = mark.radius + 2, mark.radius * 1.8
    return [((x, y - outer), (x, y - inner)), ((x, y + inner), (x, y + outer))]


# -- drawing into the image -------------------------------------------------------------------

def draw(image: Image.Image, plan: Layout, legend: list[str] | None = None) -> Image.Image:
    """The layout drawn on a copy of ``image`` (RGB), with a legend box in the emptiest corner."""
    from PIL import ImageDraw, ImageFont

    out = image.convert("RGB")
    canvas = ImageDraw.Draw(out, "RGBA")
    font = ImageFont.load_default(size=plan.font)
    width = max(2, round(2.5 * plan.scale))
    for start, end, _ in plan.links:
        segment = trim(start, end, plan.marks[0].radius * 1.9, plan.marks[0].radius * 1.9)
        if segment:
            _pil_arrow(canvas, *segment, "#ffffff", max(1, width - 1), 9 * plan.scale)
    for mark in plan.marks:
        _pil_mark(canvas, mark, font, width, plan.scale)
    lines = list(legend or []) + [f"keys: {k}" for k in plan.loose]
    if lines:
        _pil_legend(canvas, out.size, lines, font, plan)
    return out


def _pil_arrow(canvas, start, end, colour, width, head) -> None:  # type: ignore[no-untyped-def]
    canvas.line([start, end], fill="#000000", width=width + 2)
    canvas.line([start, end], fill=colour, width=width)
    canvas.polygon(arrow_head(start, end, head), fill=colour, outline="#000000")


def _pil_mark(canvas, mark: Mark, font, width: int, scale: float) -> None:  # type: ignore[no-untyped-def]
    colour = mark.colour + ("99" if mark.dimmed else "ff")
    x, y = mark.point
    r = mark.radius
    if mark.end is not None:
        segment = trim(mark.point, mark.end, r + 2, 4)
        if segment:
            _pil_arrow(canvas, *segment, mark.colour, width, 10 * scale)
        ex, ey = mark.end
        canvas.ellipse([ex - r / 2, ey - r / 2, ex + r / 2, ey + r / 2], outline=colour, width=width)
    canvas.ellipse([x - r, y - r, x + r, y + r], outline="#000000aa", width=width + 2)
    canvas.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=width)
    for a, b in ticks(mark):
        canvas.line([a, b], fill="#000000aa", width=width + 2)
        canvas.line([a, b], fill=colour, width=width)
    canvas.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=colour)
    canvas.rectangle(mark.tag, fill=colour, outline="#000000")
    tx, ty = (mark.tag[0] + mark.tag[2]) / 2, (mark.tag[1] + mark.tag[3]) / 2
    canvas.text((tx, ty), str(mark.number), fill=mark.ink, font=font, anchor="mm")
    if mark.note_box:
        canvas.rectangle(mark.note_box, fill="#202020e6", outline=colour)
        for i, note in enumerate(mark.notes):
            canvas.text((mark.note_box[0] + font.size * 0.4, mark.note_box[1] + font.size * (0.2 + 1.35 * i)),
                        note, fill="#ffffff", font=font)


def _pil_legend(canvas, size, lines: list[str], font, plan: Layout) -> None:  # type: ignore[no-untyped-def]
    line_h = round(plan.font * 1.35)
    room = max(1, (size[1] - 12) // line_h)  # lines that fit the picture's height
    if len(lines) > room:
        lines = [*lines[:room - 1], f"... and {len(lines) - room + 1:,} more"]
    box = (max(canvas.textlength(t, font=font) for t in lines) + 16, line_h * len(lines) + 12)
    w, h = size
    taken = [m.tag for m in plan.marks] + [(m.point[0] - m.radius, m.point[1] - m.radius,
                                            m.point[0] + m.radius, m.point[1] + m.radius)
                                           for m in plan.marks]
    corners = [(0, 0), (w - box[0], 0), (0, h - box[1]), (w - box[0], h - box[1])]
    ox, oy = min(corners, key=lambda c: sum(_overlap((c[0], c[1], c[0] + box[0], c[1] + box[1]), t)
                                            for t in taken))
    canvas.rectangle([ox, oy, ox + box[0], oy + box[1]], fill="#202020", outline="#ffffff")
    for i, text in enumerate(lines):
        canvas.text((ox + 8, oy + 6 + i * line_h), text, fill="#ffffff", font=font)
