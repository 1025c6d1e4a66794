"""Exporting a `tracer do` run as a macro: the task replayed without the model.

Every step the run executed with outcome ok becomes the macro step it amounts to; steps that
were skipped or failed are left out; done and fail end it. A click keeps its point, converted
from input coordinates to pixels of the run's monitor, and gets a visual anchor from the
screenshot the model saw at that step: the text under the click (OCR), else an image cut
around it. The model's screenshot is downscaled to its pixel budget; it is scaled back up to
the monitor's size before anchors are cut, and an image anchor that a sharp screen may not
match at the default confidence gets a lower one.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.errors import ConfigError
from tracer_cli.macro.write import anchor_target, literal, write_macro
from tracer_cli.vision.anchors import Anchor, anchor_for, with_element

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.vision.ocr import OcrEngine

DEFAULT_CONFIDENCE = 0.9
MIN_CONFIDENCE = 0.6  # an image anchor that needs less than this is not written: the point is
POINTER_STEPS = ("click", "double_click", "right_click")


@dataclass
class MonitorMap:
    """How a run's recorded points relate to its monitor and to each step's screenshot."""

    left: int
    top: int
    width: int
    height: int
    input_scale: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> MonitorMap:
        m = meta.get("monitor") or {}
        try:
            scale = m.get("input_scale") or [1.0, 1.0]
            return cls(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"]),
                       (float(scale[0]), float(scale[1])))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ConfigError("the run record does not say which monitor it ran on",
                              "export a run recorded by this version of tracer") from None

    def to_pixel(self, x: float, y: float) -> tuple[int, int]:
        """An input point (the run record's ``points``) to a pixel of the monitor."""
        sx, sy = self.input_scale
        px, py = round(x * sx) - self.left, round(y * sy) - self.top
        return min(max(px, 0), self.width - 1), min(max(py, 0), self.height - 1)


@dataclass
class Mapped:
    """A run step as a macro step, before anchors: points are pixels of the monitor."""

    number: int  # the run's step number
    step: dict[str, Any]  # the macro step; its targets hold only the point for now
    points: list[tuple[int, int]] = field(default_factory=list)
    screenshot: str = ""  # the step's screenshot file, whose anchors to cut
    image_size: tuple[int, int] | None = None
    element: dict[str, str] | None = None  # the tree's element a click acted on (its anchor)


@dataclass
class ExportSummary:
    out: Path
    steps: int  # steps written
    anchors: Counter[str] = field(default_factory=Counter)  # text/image/point -> how many
    left_out: list[str] = field(default_factory=list)  # "step N: why"
    warnings: list[str] = field(default_factory=list)
    ended: str = ""  # done, fail, or how the run's steps ran out

    def __str__(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.anchors.items()))
        left = f"; left out {len(self.left_out)} (" + "; ".join(self.left_out) + ")" if self.left_out else ""
        return f"wrote {self.steps} steps to {self.out} (anchors: {kinds or 'none'}){left}"


def map_steps(lines: list[dict[str, Any]], monitor: MonitorMap) -> tuple[list[Mapped], list[str], str]:
    """The macro steps a run's step lines amount to (pure). Returns (steps, left out, how the
    run ended: done, fail, or end)."""
    mapped: list[Mapped] = []
    left_out: list[str] = []
    for line in lines:
        number = int(line.get("step", 0))
        action = line.get("action") or {}
        kind = action.get("action", "")
        outcome = str(line.get("outcome", ""))
        if kind in ("done", "fail"):
            return mapped, left_out, kind
        if not kind:
            left_out.append(f"step {number}: no action ({outcome or 'no outcome'})")
            continue
        status = line.get("status", outcome.split(" ")[0].rstrip(":"))  # older records: the text
        if status != "ok":
            left_out.append(f"step {number}: {kind} {status or 'not run'}")
            continue
        points = [monitor.to_pixel(*p) for p in line.get("points") or []]
        step: dict[str, Any] | None = None
        match kind:
            case "click" | "double_click" | "right_click" if points:
                step = {kind: {"point": list(points[0])}}
            case "type":
                step = {"type": literal(str(action.get("text", "")))} if action.get("text") else None
            case "hotkey":
                step = {"hotkey": list(action.get("keys") or [])} if action.get("keys") else None
            case "scroll" if points and action.get("dy"):
                step = {"scroll": {"dy": int(action["dy"]), "at": {"point": list(points[0])}}}
            case "drag" if len(points) >= 2:
                step = {"drag": {"from": {"point": list(points[0])}, "to": {"point": list(points[1])}}}
                points = points[:2]
            case "wait":
                step = {"wait": float(action.get("seconds", 0))}
        if step is None:
            left_out.append(f"step {number}: {kind} cannot be written as a macro step")
            continue
        if kind in ("type", "hotkey", "wait"):
            points = []
        size = line.get("image_size")
        mapped.append(Mapped(number, step, points, str(line.get("screenshot") or ""),
                             (int(size[0]), int(size[1])) if size else None,
                             _element(line.get("element")) if kind in CLICKS else None))
    return mapped, left_out, "end"


CLICKS = ("click", "double_click", "right_click")


def _element(value: Any) -> dict[str, str] | None:
    """A run record's element as a macro anchor names it (as the recorder does: role and
    name), when a macro can find it again; else None."""
    if not isinstance(value, dict):
        return None
    role, name = value.get("role"), value.get("name")
    if not (isinstance(role, str) and role.strip() and isinstance(name, str) and name.strip()):
        return None
    if len(role) > 100 or len(name) > 300:
        return None
    return {"role": role, "name": name}


def _targets(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The step's target mappings, in the order of its points (to fill in place)."""
    for key in POINTER_STEPS:
        if key in step:
            return [step[key]]
    if "scroll" in step:
        return [step["scroll"]["at"]]
    if "drag" in step:
        return [step["drag"]["from"], step["drag"]["to"]]
    return []


def resampling_score(small: Image.Image, factor: float, box: tuple[int, int, int, int]) -> float:
    """How alike an anchor cut from a screenshot enlarged by ``factor`` will look to the sharp
    screen, estimated one level down: ``small`` (the screenshot) stands for the sharp screen,
    ``small`` shrunk by ``factor`` and enlarged again for the enlarged screenshot, and the
    anchor's area (``box``, in ``small``) of the second is searched for in the first, around
    that place, as find_image scores it (normalised cross-correlation)."""
    import cv2
    import numpy as np
    from PIL import Image

    left, top, right, bottom = box
    w, h = small.size
    lw, lh = max(1, round(w / factor)), max(1, round(h / factor))
    blurred = small.resize((lw, lh), Image.Resampling.BICUBIC).resize((w, h), Image.Resampling.BICUBIC)
    sharp = np.asarray(small.convert("L"), dtype=np.uint8)
    tpl = np.asarray(blurred.convert("L"), dtype=np.uint8)[top:bottom, left:right]
    hay = sharp[max(0, top - 2):bottom + 2, max(0, left - 2):right + 2]
    if tpl.shape[0] < 2 or tpl.shape[1] < 2 or float(tpl.std()) < 1.0:
        return 0.0
    scores = cv2.matchTemplate(hay, tpl, cv2.TM_CCOEFF_NORMED)
    return float(np.nan_to_num(scores, nan=0.0).max())


def anchor_from_screenshot(shot: Image.Image, monitor: MonitorMap, x: int, y: int,
                           engine: OcrEngine | None, typed: list[str] | tuple[str, ...] = ()) -> Anchor:
    """The anchor of monitor pixel (x, y), cut from ``shot``, the model's (downscaled)
    screenshot of that monitor. Text is read on the screenshot enlarged to the monitor's size;
    an image anchor is cut there too, and gets the lower confidence a sharp screen will meet
    when the enlargement blurs it."""
    from PIL import Image

    shot = shot.convert("RGB")
    size = (monitor.width, monitor.height)
    big = shot if shot.size == size else shot.resize(size, Image.Resampling.BICUBIC)
    anchor = anchor_for(big, x, y, engine, typed=typed)
    factor = max(monitor.width / shot.width, monitor.height / shot.height)
    if anchor.kind != "image" or factor <= 1.01:
        return anchor
    crop = anchor.target["image"]
    dx, dy = anchor.target.get("offset", (0, 0))
    left, top = x - dx - crop.width // 2, y - dy - crop.height // 2
    fx, fy = shot.width / monitor.width, shot.height / monitor.height
    box = (max(0, round(left * fx)), max(0, round(top * fy)),
           min(shot.width, round((left + crop.width) * fx)),
           min(shot.height, round((top + crop.height) * fy)))
    score = resampling_score(shot, factor, box)
    if score < DEFAULT_CONFIDENCE + 0.03:
        confidence = max(MIN_CONFIDENCE, math.floor((score - 0.05) * 100) / 100)
        anchor.target["confidence"] = confidence
        if confidence == MIN_CONFIDENCE:
            anchor.note = f"the image anchor is blurred by the model's screenshot (score {score:.2f})"
    return anchor


def _image(path: Path) -> Image.Image | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """run.json and the step lines of a run record."""
    meta_path = Path(run_dir) / "run.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{run_dir} is not a run record (no run.json)",
                          "give a run id from `tracer logs`, or `last`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {meta_path}: {exc}", "the run record is damaged") from None
    lines = []
    steps_path = Path(run_dir) / "steps.jsonl"
    if steps_path.exists():
        for text in steps_path.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue  # a line cut by a crash
    return meta, lines


def export_run(run_dir: Path, out: Path, force: bool = False, ocr: str = "auto",
               engine: OcrEngine | None = None,
               progress: Callable[[int, int], None] | None = None) -> ExportSummary:
    """Write the run recorded in ``run_dir`` as a macro at ``out``. A run that did not end
    done, or an ``out`` that exists, is refused unless ``force`` (then what the run did up to
    its end is written). ``progress`` is told (anchors done, anchors in all) as they are found."""
    run_dir = Path(run_dir)
    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists already", "choose another file, or pass --force to overwrite it")
    meta, lines = read_run(run_dir)
    run_id = meta.get("id", run_dir.name)
    kind, status = meta.get("kind", "do"), meta.get("status", "?")
    if kind != "do":
        raise ConfigError(f"run {run_id} is a `tracer {kind}` run, not `tracer do`",
                          "export a run of `tracer do` (see `tracer logs`)")
    if status != "done" and not force:
        raise ConfigError(f"run {run_id} ended {status}, not done: its steps may not do the task",
                          "export a run that ended done, or pass --force to export what it did")
    monitor = MonitorMap.from_meta(meta)
    mapped, left_out, ended = map_steps(lines, monitor)
    summary = ExportSummary(out, 0, left_out=left_out, ended=ended)
    if not mapped:
        raise ConfigError(f"run {run_id} executed no step that a macro can repeat",
                          "export a run that clicked or typed something")
    needs = [m for m in mapped if m.points]
    if needs and engine is None:
        from tracer_cli.vision.ocr import get_engine

        try:
            engine = get_engine(ocr)
        except ConfigError as exc:
            summary.warnings.append(f"no text anchors: {exc}")
    typed = [str(m.step["type"]) for m in mapped if "type" in m.step]
    _anchor_all(needs, run_dir, monitor, engine, typed, summary, progress)
    index = (meta.get("monitor") or {}).get("index", 1)
    task = str(meta.get("task", ""))
    replay = f"tracer run {out.name}" + (f" --monitor {index}" if index != 1 else "")
    header = [f"Exported from the tracer run {run_id}: tracer do {json.dumps(task, ensure_ascii=False)}",
              f"(monitor {index}, {monitor.width}x{monitor.height}; points are pixels of that monitor).",
              f"Replay without the model: {replay}"]
    write_macro(out, [m.step for m in mapped], name=task[:80] or run_id,
                description=f"exported from run {run_id}", header_comment_lines=header)
    summary.steps = len(mapped)
    return summary


def _anchor_all(needs: list[Mapped], run_dir: Path, monitor: MonitorMap, engine: OcrEngine | None,
                typed: list[str], summary: ExportSummary,
                progress: Callable[[int, int], None] | None) -> None:
    if progress is not None:
        progress(0, len(needs))
    # one anchor (OCR text, image, or the bare point) per point of every step
    for done, item in enumerate(needs, 1):
        shot = _image(run_dir / item.screenshot) if item.screenshot else None
        targets = _targets(item.step)
        for target, (x, y) in zip(targets, item.points, strict=True):
            if shot is None and target is targets[0] and item.element:
                target.update(element=dict(item.element), point=[int(x), int(y)])
                summary.anchors["element"] += 1
                continue
            if shot is None:
                summary.anchors["point"] += 1
                summary.warnings.append(f"step {item.number}: no screenshot, only the point")
                continue
            anchor = anchor_from_screenshot(shot, monitor, x, y, engine, typed)
            if target is targets[0]:
                anchor = with_element(anchor, item.element)
            target.clear()
            target.update(anchor_target(anchor.target))
            summary.anchors[anchor.kind] += 1
            if anchor.kind == "point" and anchor.note:
                summary.warnings.append(f"step {item.number}: only the point ({anchor.note})")
        if progress is not None:
            progress(done, len(needs))
