"""Markers for steps drawn on a screenshot, laid out once and drawn two ways: into the image
(PIL, for `tracer plan` and macro dry-run pictures) and as SVG (the run report).

A marker never hides what it points at: a ring with crosshair ticks above and below it and a
fine dot at the point itself, the step's number in a tag BESIDE the ring (on the side where it covers the
least text and the fewest other markers), a drag's end joined by an arrow, and what a keyboard step
types or presses written next to the step it follows.

When the image is known and the point is on a line of text (vision/ink.py tells its rows from
the pixels; else the box the text was found in, when there is one), the ring is sized to that
line and broken where it would cross it: an arc above the line and one below (and no dot: the
arcs centre on the point), the ticks beyond them stopped short of any other ink, and the tag
above or below the line, so a word of small text stays as readable as a large one."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracer_cli.vision.ink import Ink

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
    box: Box | None = None  # where the target was found (a macro's text or image), when known


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
    clear: tuple[float, float] | None = None  # the rows of the text at the point (none: off text)
    ticks: list[tuple[Point, Point]] = field(default_factory=list)  # above and below the ring

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


def stroke(scale: float) -> int:
    """The width of the ring and the ticks drawn into the image (their dark halo: two pixels
    more, drawn under them)."""
    return max(2, round(2.5 * scale))


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
           dim_from: int | None = None, within: Box | None = None,
           image: Image.Image | None = None) -> Layout:
    """Place the markers of ``steps`` (numbered from ``first``; those from index ``dim_from`` on
    are dimmed) on an image of ``size``, or on the part ``within`` of it that is shown (a zoomed
    view: markers sized for it, tags and notes kept inside it; points stay image pixels).
    ``image``, when given, is read for the text at the points and around them."""
    bounds = within or (0, 0, size[0], size[1])
    width, height = round(bounds[2] - bounds[0]), round(bounds[3] - bounds[1])
    scale = max(0.6, width / 1280)
    font = round(15 * scale)
    ink = Ink(image) if image is not None else None
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
        clear = _text_rows(ink, point, step.box, scale)
        radius = _radius(point, clear, scale)
        marks.append(Mark(first + index, COLOURS[index % len(COLOURS)], dimmed, point, end,
                          radius, (0, 0, 0, 0), clear=clear,
                          ticks=_ticks(point, radius, ink, stroke(scale))))
    rings = [(m.point[0] - m.radius, m.point[1] - m.radius, m.point[0] + m.radius,
              m.point[1] + m.radius) for m in marks]
    placed: list[Box] = []
    for mark, ring in zip(marks, rings, strict=True):
        mark.tag = _place_tag(mark, font, bounds, [r for r in rings if r is not ring] + placed, ink)
        if mark.notes:  # beside the tag (which it need not keep off), not over its own ring
            mark.note_box = _place_note(mark, font, bounds, rings + placed, ink)
            placed.append(mark.note_box)
        placed.append(mark.tag)
    return Layout(width, height, scale, font, marks, links, loose, bounds[0], bounds[1])


def _text_rows(ink: Ink | None, point: Point, box: Box | None, scale: float) -> tuple[float, float] | None:
    """The first and last row of the text at ``point`` with a pixel of margin: read from the
    image, else the box the target was found in when the point is in it; None off text."""
    rows: tuple[float, float] | None = None
    if ink is not None:
        near, reach = round(8 * scale), round(40 * scale)
        rows = ink.line(point, near, reach)
        for _ in range(3):  # then as far out as the ring's arcs reach (they grow with the rows)
            if rows is None:
                break
            wider = ink.line(point, near, reach, math.ceil(_radius(point, _margin(rows), scale)) + 1)
            if wider is None or wider == rows:
                break
            rows = wider
    x, y = point
    if rows is None and box is not None and box[0] <= x <= box[2] and box[1] <= y <= box[3] \
            and box[3] - box[1] <= 80 * scale:
        rows = (box[1], box[3])
    return None if rows is None else _margin(rows)


def _margin(rows: tuple[float, float]) -> tuple[float, float]:
    return rows[0] - 1, rows[1] + 1


def _radius(point: Point, clear: tuple[float, float] | None, scale: float) -> float:
    """13 pixels (of a 1280-wide view) off text; on text, enough for the ring's arcs (halo
    included) to clear the text's rows on both sides by a few pixels more."""
    if clear is None:
        return 13 * scale
    y = point[1]
    return max(y - clear[0], clear[1] - y, 0) + stroke(scale) + 2 + 3 * scale


def ring_arcs(mark: Mark, inset: float) -> list[tuple[float, float]]:
    """The parts of the ring to draw, as angles in degrees clockwise from 3 o'clock (PIL's and,
    with y down, SVG's): all of it off text; on text an arc above its rows and one below,
    whose strokes (``inset`` pixels inside the radius) end before those rows."""
    if mark.clear is None:
        return [(0.0, 360.0)]
    y = mark.point[1]
    inner = mark.radius - inset
    above, below = y - mark.clear[0], mark.clear[1] - y
    arcs = []
    if inner > max(above, 0):
        a = math.degrees(math.asin(max(above, 0) / inner))
        arcs.append((180 + a, 360 - a))
    if inner > max(below, 0):
        b = math.degrees(math.asin(max(below, 0) / inner))
        arcs.append((b, 180 - b))
    return arcs


def _ticks(point: Point, radius: float, ink: Ink | None, width: int) -> list[tuple[Point, Point]]:
    """The crosshair: short strokes above and below the ring, pointing at its centre (none at
    the sides: they would strike through the word under the click), each stopped before any
    ink in its way and left out when too little of it is left."""
    x, y = point
    inner, outer = radius + 2, radius * 1.8
    lines = []
    for sign in (-1, 1):
        start, end = y + sign * inner, y + sign * outer
        if ink is not None:
            end = start + sign * min(outer - inner, ink.free(x, start, end, width / 2 + 2))
        if abs(end - start) >= 3:
            lines.append(((x, end), (x, start)) if sign < 0 else ((x, start), (x, end)))
    return lines


def _cost(box: Box, bounds: Box, taken: list[Box], ink: Ink | None) -> float:
    """What a tag or note placed at ``box`` would cover: the text under it and other markers,
    and anything past ``bounds`` (not allowed)."""
    outside = 0.0 if _inside(box, bounds) else 1e9
    return outside + sum(_overlap(box, t) for t in taken) + (ink.text(box) if ink else 0)


def _place_tag(mark: Mark, font: float, bounds: Box, taken: list[Box], ink: Ink | None) -> Box:
    """The number's box at one of the ring's four diagonals (above or below the text at the
    point), else beside the ring or beyond a tick: inside ``bounds``, over the least text and
    the fewest other markers and tags (up-right first)."""
    x, y = mark.point
    w, h = text_width(str(mark.number), font) + font * 0.6, font * 1.3
    gap = mark.radius * 0.75
    up, down = y - gap - h, y + gap
    if mark.clear is not None:
        up, down = min(up, mark.clear[0] - 1 - h), max(down, mark.clear[1] + 2)
    reach = mark.radius * 1.8 + 2
    candidates = [(x + gap, up), (x - gap - w, up), (x + gap, down), (x - gap - w, down),
                  (x + mark.radius + 3, y - h / 2), (x - mark.radius - 3 - w, y - h / 2),
                  (x - w / 2, y - reach - h), (x - w / 2, y + reach)]
    boxes = [(left, top, left + w, top + h) for left, top in candidates]
    return min(boxes, key=lambda box: _cost(box, bounds, taken, ink))


def _place_note(mark: Mark, font: float, bounds: Box, taken: list[Box], ink: Ink | None) -> Box:
    """The keys' box: on the tag's row, right of it, else left of the ring, else below."""
    lines = len(mark.notes)
    w = max(text_width(n, font) for n in mark.notes) + font * 0.8
    h = font * 1.35 * lines + font * 0.3
    left, top, right, bottom = mark.tag
    x, y = mark.point
    candidates = [(right + 3, top), (left - 3 - w, top), (x - w / 2, y + mark.radius + 4),
                  (x - w / 2, y - mark.radius - 4 - h)]
    boxes = [(cx, cy, cx + w, cy + h) for cx, cy in candidates]
    best = min(boxes, key=lambda box: _cost(box, bounds, taken, ink))
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


# -- drawing into the image -------------------------------------------------------------------

def draw(image: Image.Image, plan: Layout, legend: list[str] | None = None) -> Image.Image:
    """The layout drawn on a copy of ``image`` (RGB), with a legend box in the emptiest corner."""
    from PIL import ImageDraw, ImageFont

    out = image.convert("RGB")
    canvas = ImageDraw.Draw(out, "RGBA")
    font = ImageFont.load_default(size=plan.font)
    width = stroke(plan.scale)
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
    ring = [x - r, y - r, x + r, y + r]
    if mark.clear is None:
        canvas.ellipse(ring, outline="#000000aa", width=width + 2)
        canvas.ellipse(ring, outline=colour, width=width)
    else:
        for start, end in ring_arcs(mark, width + 2):  # (PIL's strokes grow inwards)
            canvas.arc(ring, start, end, fill="#000000aa", width=width + 2)
            canvas.arc(ring, start, end, fill=colour, width=width)
    for a, b in mark.ticks:
        canvas.line([a, b], fill="#000000aa", width=width + 2)
        canvas.line([a, b], fill=colour, width=width)
    if mark.clear is None:  # on text the dot would hide a letter's stroke: the arcs centre on it
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
