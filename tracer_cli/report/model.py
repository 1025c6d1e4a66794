"""What a report shows, read from a run record: the header's figures and one card per step, each
with its screenshot (as an embedded JPEG preview) and the markers laid out on it, and the part
of it that matters (``region``) as a second, sharper picture with its own markers.

Every field is read through a typed reader (``_text``, ``_number``, ``_point``, ...) that gives
"nothing" for a field missing or of another type, so records written before a field existed,
steps that lack one (a click at a point has no text found), and damaged records all make a
page: what cannot be read is left out of the card."""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.runlog import RunSummary, attempt_reasoning
from tracer_cli.plan import COORD_MAX
from tracer_cli.report.region import Region, choose, content_box
from tracer_cli.vision.marks import Layout, Step, keys_label, layout

if TYPE_CHECKING:
    from PIL import Image

PREVIEW_WIDTH = 1280  # embedded screenshots are scaled down to this width at most
PREVIEW_QUALITY = 65
PHASES = ("capture", "find", "verify", "model", "ground", "confirm", "act", "settle", "check")
Pair = tuple[float, float]


# -- typed readers: the value, or "nothing" when it is missing or of another type ---------------

def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None and abs(number) < 1e15 else 0


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    items = _items(value)
    numbers = tuple(_number(v) for v in items)
    if len(numbers) != count or any(n is None for n in numbers):
        return None
    return numbers  # type: ignore[return-value]


def _point(value: Any) -> Pair | None:
    return _numbers(value, 2)  # type: ignore[return-value]


def _points(value: Any) -> list[Pair]:
    return [p for p in map(_point, _items(value)) if p is not None]


@dataclass
class Found:
    """What OCR or the image search found for a macro step (a point alone: a click at a point)."""

    point: Pair | None
    text: str = ""
    score: float | None = None
    box: tuple[float, float, float, float] | None = None

    @classmethod
    def read(cls, value: Any) -> Found:
        found = _map(value)
        return cls(_point(found.get("point")), _text(found.get("text")),
                   _number(found.get("score")), _numbers(found.get("box"), 4))  # type: ignore[arg-type]


@dataclass
class Attempt:
    """One model call of a step."""

    seconds: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""
    reasoning: str = ""

    @classmethod
    def read(cls, value: Any) -> Attempt:
        a = _map(value)
        return cls(_number(a.get("seconds")), _int(a.get("prompt_tokens")),
                   _int(a.get("completion_tokens")), _text(a.get("error")),
                   attempt_reasoning({"answer": _text(a.get("answer")),
                                      "reasoning": _text(a.get("reasoning"))}))


@dataclass
class Pause:
    """The user took over: at which step, what of it was done, for how long, the note."""

    step: int
    interrupted: str = ""
    seconds: float | None = None
    note: str = ""

    @classmethod
    def read(cls, value: Any) -> Pause:
        p = _map(value)
        return cls(_int(p.get("step")), _text(p.get("interrupted")), _number(p.get("seconds")),
                   _text(p.get("note")))


@dataclass
class Card:
    number: int
    title: str  # what the step did
    outcome: str
    status: str  # the outcome's status: ok, error, skipped, failed, done, fail, ...
    image: str = ""  # data: URI of the JPEG preview ("" when the record has no screenshot)
    size: tuple[int, int] = (0, 0)  # the screenshot's own size: the markers' coordinates
    marks: Layout | None = None
    region: Region | None = None  # the part shown first (None: the whole screen)
    crop: str = ""  # data: URI of that part, at the screenshot's own resolution (at most 1280 wide)
    zoom_marks: Layout | None = None  # the markers laid out for that part
    executed: tuple[float, float] | None = None  # where the step acted, in screenshot pixels
    keys: str = ""  # what the step typed or pressed
    thought: str = ""
    subgoal: str = ""  # the sub-goal of the task its forecast worked on (hierarchical plans)
    reasoning: str = ""
    check: str = ""  # why the step ran from the forecast, or why it went back to the model
    from_forecast: bool = False
    effect: str = ""
    risk: str = ""
    where: str = ""  # a macro step's file:line
    elements: list[str] = field(default_factory=list)  # what it acted on (a plan: each step would)
    found: list[Found] = field(default_factory=list)  # what OCR or image search found
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # of ``found``
    timings: dict[str, float] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class Report:
    id: str
    kind: str  # do | plan | run
    task: str
    status: str
    reason: str
    answer: str
    model: str  # backend, model and profile in one line
    started: str
    seconds: float | None
    model_calls: int | None
    forecast_steps: int | None
    phases: dict[str, float]  # total seconds per phase over all steps
    cards: list[Card]
    pauses: list[Pause] = field(default_factory=list)  # run.json's: the user took over


def open_screenshot(path: Path) -> Image.Image:
    """A screenshot, read whole, in RGB."""
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def jpeg_uri(image: Image.Image) -> str:
    """An image as a data: URI of a JPEG no wider than PREVIEW_WIDTH."""
    from PIL import Image

    if image.width > PREVIEW_WIDTH:
        image = image.resize((PREVIEW_WIDTH, max(1, round(image.height * PREVIEW_WIDTH / image.width))),
                             Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=PREVIEW_QUALITY, optimize=True, progressive=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def model_line(meta: dict[str, Any]) -> str:
    settings = _map(meta.get("settings"))
    if not settings:
        return ""
    backend = _text(settings.get("backend"))
    model = _text(settings.get("model")) or (_text(settings.get("base_url")) if backend == "openai"
                                             else "") or _text(settings.get("script")) or "(default)"
    return f"{backend}: {model}, profile {_text(settings.get('profile')) or '?'}"


def to_image(point: Pair, meta: dict[str, Any], size: tuple[int, int]) -> Pair:
    """An input point of the run's monitor (as the record keeps it) to a pixel of a screenshot of
    ``size`` of that monitor."""
    monitor = _map(meta.get("monitor"))
    sx, sy = _point(monitor.get("input_scale")) or (1.0, 1.0)
    width, height = _number(monitor.get("width")) or size[0], _number(monitor.get("height")) or size[1]
    x = (point[0] * sx - (_number(monitor.get("left")) or 0)) * size[0] / width
    y = (point[1] * sy - (_number(monitor.get("top")) or 0)) * size[1] / height
    return x, y


def _model_points(step: dict[str, Any], size: tuple[int, int]) -> tuple[Pair, ...]:
    """A plan step's points (0..1000 of the screenshot) in pixels."""
    out = []
    for a, b in (("x", "y"), ("x2", "y2")):
        x, y = _number(step.get(a)), _number(step.get(b))
        if x is not None and y is not None:
            out.append((x * size[0] / COORD_MAX, y * size[1] / COORD_MAX))
    return tuple(out)


def _check_text(line: dict[str, Any], first: bool) -> str:
    check = _map(line.get("check"))
    reason = _text(check.get("reason"))
    if line.get("from_forecast"):
        return f"ran from the forecast without a model call: {reason}" if reason else \
            "ran from the forecast without a model call"
    if line.get("revision"):
        rev = _map(line["revision"])
        return f"back to the model, which revised its forecast: {_text(rev.get('reason'))}"
    if check:
        return f"back to the model: {reason}" if reason else "back to the model"
    return "" if first or "plan" not in line else "asked the model"


def _effect_text(value: Any) -> str:
    effect = _map(value)
    if not effect:
        return ""
    text = f"{(_number(effect.get('overall')) or 0) * 100:.1f}% of the screen changed"
    near = _number(effect.get("near"))
    if near is not None:
        text += f", {near * 100:.1f}% around the point"
    return text


class _Forecast:
    """The forecast a step belongs to: the last plan, and how far into it the run is."""

    def __init__(self) -> None:
        self.trajectory: list[dict[str, Any]] = []
        self.thought = ""
        self.subgoal = ""
        self.index = 0

    def advance(self, line: dict[str, Any]) -> None:
        if "plan" in line:
            plan = _map(line["plan"])
            self.trajectory = [_map(s) for s in _items(plan.get("trajectory"))]
            self.thought = _text(plan.get("thought"))
            goals = [_map(g) for g in _items(plan.get("subgoals"))]
            current = next((i for i, g in enumerate(goals) if g.get("done") is not True), None)
            if current is not None:
                self.subgoal = f"{current + 1}/{len(goals)}: {_text(goals[current].get('goal'))}"
            elif goals:
                self.subgoal = ""  # every sub-goal done
            self.index = 0
        elif line.get("from_forecast"):
            self.index += 1

    def rest(self) -> list[dict[str, Any]]:
        return self.trajectory[self.index + 1:]


@dataclass
class _Marks:
    """A card's markers before they are laid out (once on the whole screenshot, once on the
    part of it shown first), and the points the region is chosen around."""

    steps: list[Step]
    first: int
    dim_from: int | None = None
    acted: tuple[Pair, ...] = ()  # what the step acted on (a dry run: the whole forecast)

    def on(self, image: Image.Image, within: tuple[int, int, int, int] | None = None) -> Layout:
        return layout(image.size, self.steps, self.first, self.dim_from, within, image)


def _agent_marks(card: Card, line: dict[str, Any], meta: dict[str, Any], kind: str,
                 forecast: _Forecast, focus: tuple[float, float] | None) -> _Marks:
    size = card.size
    if kind == "plan" and "action" not in line:  # a dry run: the whole forecast, none executed
        steps = [Step(_model_points(s, size), keys_label(s)) for s in forecast.trajectory]
        return _Marks(steps, 1, acted=tuple(p for s in steps for p in s.points))
    action = _map(line.get("action"))
    points = tuple(to_image(p, meta, size) for p in _points(line.get("points")))
    if not points:
        points = _model_points(action, size)
    acted = points
    if points:
        card.executed = points[0]
    elif card.keys and focus is not None:
        points = (focus,)  # keys go where the click before them went: written beside it there
    rest = [Step(_model_points(s, size), keys_label(s)) for s in forecast.rest()]
    return _Marks([Step(points, card.keys), *rest], card.number, 1, acted)


def _macro_marks(card: Card, line: dict[str, Any], meta: dict[str, Any],
                 focus: tuple[float, float] | None) -> _Marks:
    size = card.size
    found = [f for f in card.found if f.point is not None]
    card.boxes = [f.box for f in found if f.box is not None]
    points: tuple[Pair, ...] = tuple(f.point for f in found if f.point is not None)
    if not points:
        points = tuple(to_image(p, meta, size) for p in _points(line.get("points")))
    acted = points
    if points:
        card.executed = points[0]
    elif card.keys and focus is not None:
        points = (focus,)
    box = found[0].box if found else None  # where its text or image was found
    return _Marks([Step(points, card.keys, box)], card.number, acted=acted)


def _window(line: dict[str, Any], meta: dict[str, Any],
            size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """The window the step acted in, when the record knows it: ``window``, its left, top, right
    and bottom as input points (like ``points``). No recorder of tracer's writes it yet: then
    the drawn part of an empty screen stands for it (region.content_box)."""
    box = _numbers(line.get("window"), 4)
    if box is None:
        return None
    (left, top), (right, bottom) = to_image(box[:2], meta, size), to_image(box[2:], meta, size)
    return left, top, right, bottom


def _picture(card: Card, image: Image.Image, marks: _Marks,
             window: tuple[float, float, float, float] | None, previous: Region | None) -> None:
    """The card's pictures: the whole screenshot with its markers, and the part that matters
    (if any) cut out at its own resolution, with the markers laid out again for it."""
    card.image, card.size = jpeg_uri(image), image.size
    card.marks = marks.on(image)
    card.region = choose(card.size, marks.acted, card.boxes, window, content_box(image), previous)
    if card.region is not None:
        card.crop = jpeg_uri(image.crop(card.region.box))
        card.zoom_marks = marks.on(image, card.region.box)


def _card(line: dict[str, Any], meta: dict[str, Any], run: Path, forecast: _Forecast,
          focus: tuple[float, float] | None = None, previous: Region | None = None) -> Card:
    """One step's card; ``focus``: where the last click went (in this step's screenshot's
    pixels), where typed keys go; ``previous``: the part of its screenshot the card before
    showed (a step that acted on nothing shows it too)."""
    kind = _text(meta.get("kind")) or "do"
    number = _int(line.get("step"))
    action = _map(line.get("action"))
    title = _text(line.get("describe")) or _describe(action) or ("forecast" if kind == "plan" else "")
    timings = {str(k): v for k, v in _map(line.get("timings")).items() if _number(v) is not None}
    card = Card(number, title, _text(line.get("outcome")), _text(line.get("status")),
                keys=keys_label(action) if action else "", where=_text(line.get("where")),
                from_forecast=bool(line.get("from_forecast")), effect=_effect_text(line.get("effect")),
                risk=_text(line.get("risk")), found=[Found.read(f) for f in _items(line.get("found"))],
                timings=timings, attempts=[Attempt.read(a) for a in _items(line.get("attempts"))])
    card.check = _check_text(line, number == 1)
    card.elements = _elements(line)
    if kind != "run":
        card.thought = forecast.thought if ("plan" in line or line.get("from_forecast")) else ""
        card.subgoal = forecast.subgoal
        card.reasoning = next((a.reasoning for a in reversed(card.attempts) if a.reasoning), "")
    shot = line.get("screenshot")
    if not (isinstance(shot, str) and shot == Path(shot).name and (run / shot).is_file()):
        return card  # a name inside the run's directory only
    try:
        image = open_screenshot(run / shot)
    except (OSError, ValueError):
        return card  # not an image PIL can read
    card.size = image.size
    marks = _macro_marks(card, line, meta, focus) if kind == "run" else \
        _agent_marks(card, line, meta, kind, forecast, focus)
    _picture(card, image, marks, _window(line, meta, card.size), previous)
    return card


def _elements(line: dict[str, Any]) -> list[str]:
    """The accessibility tree's elements a step names: the one it acted on (``element``), or
    for a dry run's forecast the one each step would hit (``elements``), numbered."""
    from tracer_cli.desktop.elements import label

    if "elements" in line:
        return [f"{n}. {label(e) or 'none known'}" for n, e in enumerate(_items(line["elements"]), 1)]
    said = label(line.get("element"))
    return [said] if said else []


def _describe(action: dict[str, Any]) -> str:
    from tracer_cli.errors import PlanError
    from tracer_cli.plan import parse_step

    try:
        return parse_step(action).describe()
    except (PlanError, ValueError, TypeError, KeyError):
        return str(action.get("action", ""))


def build(summary: RunSummary) -> Report:
    meta = summary.meta
    forecast = _Forecast()
    cards: list[Card] = []
    focus: tuple[float, float] | None = None
    shown: Region | None = None  # the part of its screenshot the last card with one showed
    for line in map(_map, summary.steps()):  # (a line that is no mapping: an empty card)
        forecast.advance(line)
        card = _card(line, meta, summary.path, forecast, focus, shown)
        if card.executed is not None:
            focus = card.executed  # (same-sized screenshots: the same monitor throughout)
        if card.image:
            shown = card.region
        cards.append(card)
    phases: dict[str, float] = {}
    for card in cards:
        for name, seconds in card.timings.items():
            phases[name] = phases.get(name, 0.0) + float(seconds)
    order = {p: i for i, p in enumerate(PHASES)}
    phases = dict(sorted(phases.items(), key=lambda kv: order.get(kv[0], len(order))))
    calls, forecast_steps = _number(meta.get("model_calls")), _number(meta.get("forecast_steps"))
    return Report(summary.id, _text(meta.get("kind")), _text(meta.get("task")), str(summary.status),
                  _text(meta.get("reason")), _text(meta.get("answer")), model_line(meta),
                  _text(meta.get("started")), _number(meta.get("seconds")),
                  None if calls is None else int(calls),
                  None if forecast_steps is None else int(forecast_steps), phases, cards,
                  [Pause.read(p) for p in _items(meta.get("pauses")) if isinstance(p, dict)])
