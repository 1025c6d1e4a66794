"""What a report shows, read from a run record: the header's figures and one card per step, each
with its screenshot (as an embedded JPEG preview) and the markers laid out on it. Records written
before a field existed still read: what is missing is left out of the card."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer_cli.agent.runlog import RunSummary, attempt_reasoning
from tracer_cli.plan import COORD_MAX
from tracer_cli.vision.marks import Layout, Step, keys_label, layout

PREVIEW_WIDTH = 1280  # embedded screenshots are scaled down to this width at most
PREVIEW_QUALITY = 65
PHASES = ("capture", "find", "verify", "model", "ground", "confirm", "act", "settle", "check")


@dataclass
class Card:
    number: int
    title: str  # what the step did
    outcome: str
    status: str  # the outcome's status: ok, error, skipped, failed, done, fail, ...
    image: str = ""  # data: URI of the JPEG preview ("" when the record has no screenshot)
    size: tuple[int, int] = (0, 0)  # the screenshot's own size: the markers' coordinates
    marks: Layout | None = None
    executed: tuple[float, float] | None = None  # where the step acted, in screenshot pixels
    keys: str = ""  # what the step typed or pressed
    thought: str = ""
    reasoning: str = ""
    check: str = ""  # why the step ran from the forecast, or why it went back to the model
    from_forecast: bool = False
    effect: str = ""
    risk: str = ""
    where: str = ""  # a macro step's file:line
    found: list[dict[str, Any]] = field(default_factory=list)  # what OCR or image search found
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # of ``found``
    timings: dict[str, float] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)


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
    pauses: list[dict[str, Any]] = field(default_factory=list)  # run.json's: the user took over


def preview_uri(path: Path) -> tuple[str, tuple[int, int]]:
    """A screenshot as a data: URI of a JPEG no wider than PREVIEW_WIDTH, and its own size."""
    from PIL import Image

    with Image.open(path) as image:
        size = image.size
        rgb = image.convert("RGB")
    if rgb.width > PREVIEW_WIDTH:
        rgb = rgb.resize((PREVIEW_WIDTH, round(rgb.height * PREVIEW_WIDTH / rgb.width)),
                         Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=PREVIEW_QUALITY, optimize=True, progressive=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), size


def model_line(meta: dict[str, Any]) -> str:
    settings = meta.get("settings") or {}
    if not settings:
        return ""
    backend = settings.get("backend", "")
    model = settings.get("model") or (settings.get("base_url") if backend == "openai" else "") \
        or settings.get("script") or "(default)"
    return f"{backend}: {model}, profile {settings.get('profile', '?')}"


def to_image(point: list[float], meta: dict[str, Any], size: tuple[int, int]) -> tuple[float, float]:
    """An input point of the run's monitor (as the record keeps it) to a pixel of a screenshot of
    ``size`` of that monitor."""
    monitor = meta.get("monitor") or {}
    sx, sy = monitor.get("input_scale", [1.0, 1.0])
    width, height = monitor.get("width") or size[0], monitor.get("height") or size[1]
    x = (point[0] * sx - monitor.get("left", 0)) * size[0] / width
    y = (point[1] * sy - monitor.get("top", 0)) * size[1] / height
    return x, y


def _model_points(step: dict[str, Any], size: tuple[int, int]) -> tuple[tuple[float, float], ...]:
    """A plan step's points (0..1000 of the screenshot) in pixels."""
    coords = [("x", "y"), ("x2", "y2")]
    return tuple((step[a] * size[0] / COORD_MAX, step[b] * size[1] / COORD_MAX)
                 for a, b in coords if isinstance(step.get(a), int | float)
                 and isinstance(step.get(b), int | float))


def _check_text(line: dict[str, Any], first: bool) -> str:
    check = line.get("check") or {}
    reason = check.get("reason", "")
    if line.get("from_forecast"):
        return f"ran from the forecast without a model call: {reason}" if reason else \
            "ran from the forecast without a model call"
    if line.get("revision"):
        rev = line["revision"]
        return f"back to the model, which revised its forecast: {rev.get('reason', '')}"
    if check:
        return f"back to the model: {reason}" if reason else "back to the model"
    return "" if first or "plan" not in line else "asked the model"


def _effect_text(effect: dict[str, Any] | None) -> str:
    if not effect:
        return ""
    text = f"{effect.get('overall', 0) * 100:.1f}% of the screen changed"
    if effect.get("near") is not None:
        text += f", {effect['near'] * 100:.1f}% around the point"
    return text


class _Forecast:
    """The forecast a step belongs to: the last plan, and how far into it the run is."""

    def __init__(self) -> None:
        self.trajectory: list[dict[str, Any]] = []
        self.thought = ""
        self.index = 0

    def advance(self, line: dict[str, Any]) -> None:
        if "plan" in line:
            self.trajectory = list(line["plan"].get("trajectory") or [])
            self.thought = line["plan"].get("thought") or ""
            self.index = 0
        elif line.get("from_forecast"):
            self.index += 1

    def rest(self) -> list[dict[str, Any]]:
        return self.trajectory[self.index + 1:]


def _agent_marks(card: Card, line: dict[str, Any], meta: dict[str, Any], kind: str,
                 forecast: _Forecast, focus: tuple[float, float] | None) -> None:
    size = card.size
    if kind == "plan" and "action" not in line:  # a dry run: the whole forecast, none executed
        steps = [Step(_model_points(s, size), keys_label(s)) for s in forecast.trajectory]
        card.marks = layout(size, steps, first=1)
        return
    action = line.get("action") or {}
    points = tuple(to_image(p, meta, size) for p in line.get("points") or [])
    if not points:
        points = _model_points(action, size)
    if points:
        card.executed = points[0]
    elif card.keys and focus is not None:
        points = (focus,)  # keys go where the click before them went: written beside it there
    rest = [Step(_model_points(s, size), keys_label(s)) for s in forecast.rest()]
    card.marks = layout(size, [Step(points, card.keys), *rest], first=card.number, dim_from=1)


def _macro_marks(card: Card, line: dict[str, Any], meta: dict[str, Any],
                 focus: tuple[float, float] | None) -> None:
    size = card.size
    found = [f for f in line.get("found") or [] if f.get("point")]
    card.boxes = [tuple(f["box"]) for f in found if f.get("box")]  # type: ignore[misc]
    points: tuple[tuple[float, float], ...] = tuple(tuple(f["point"]) for f in found)  # type: ignore[misc]
    if not points and line.get("points"):
        points = tuple(to_image(p, meta, size) for p in line["points"])
    if points:
        card.executed = points[0]
    elif card.keys and focus is not None:
        points = (focus,)
    card.marks = layout(size, [Step(points, card.keys)], first=card.number)


def _card(line: dict[str, Any], meta: dict[str, Any], run: Path, forecast: _Forecast,
          focus: tuple[float, float] | None = None) -> Card:
    """One step's card; ``focus``: where the last click went (in this step's screenshot's
    pixels), where typed keys go."""
    kind = meta.get("kind", "do")
    number = int(line.get("step", 0))
    action = line.get("action") or {}
    title = line.get("describe") or _describe(action) or ("forecast" if kind == "plan" else "")
    card = Card(number, title, str(line.get("outcome", "")), str(line.get("status", "")),
                keys=keys_label(action) if action else "", where=str(line.get("where", "")),
                from_forecast=bool(line.get("from_forecast")), effect=_effect_text(line.get("effect")),
                risk=str(line.get("risk") or ""), found=list(line.get("found") or []),
                timings=dict(line.get("timings") or {}), attempts=list(line.get("attempts") or []))
    card.check = _check_text(line, number == 1)
    if kind != "run":
        card.thought = forecast.thought if ("plan" in line or line.get("from_forecast")) else ""
        card.reasoning = next((r for r in map(attempt_reasoning, reversed(card.attempts)) if r), "")
    shot = line.get("screenshot")
    if isinstance(shot, str) and shot == Path(shot).name and (run / shot).is_file():
        try:  # a name inside the run's directory only, and an image PIL can read
            card.image, card.size = preview_uri(run / shot)
        except (OSError, ValueError):
            card.image = ""
    if card.image:
        if card.marks is None:
            if kind == "run":
                _macro_marks(card, line, meta, focus)
            else:
                _agent_marks(card, line, meta, kind, forecast, focus)
    return card


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
    for line in summary.steps():
        forecast.advance(line)
        card = _card(line, meta, summary.path, forecast, focus)
        if card.executed is not None:
            focus = card.executed  # (same-sized screenshots: the same monitor throughout)
        cards.append(card)
    phases: dict[str, float] = {}
    for card in cards:
        for name, seconds in card.timings.items():
            phases[name] = phases.get(name, 0.0) + float(seconds)
    order = {p: i for i, p in enumerate(PHASES)}
    phases = dict(sorted(phases.items(), key=lambda kv: order.get(kv[0], len(order))))
    return Report(summary.id, str(meta.get("kind", "")), str(meta.get("task", "")), summary.status,
                  str(meta.get("reason", "")), str(meta.get("answer", "")), model_line(meta),
                  str(meta.get("started", "")), meta.get("seconds"), meta.get("model_calls"),
                  meta.get("forecast_steps"), phases, cards,
                  [p for p in meta.get("pauses") or [] if isinstance(p, dict)])
