"""Running a macro: find each step's text or image on the live screen, act, settle, record.

The runner reuses the agent's parts: the actuator (and with it the kill switch and the
fail-safe), the screens, the risk rules and the listeners (panel, log lines, run record).
A step that fails stops the run with its file and line, what was on the screen, and a
screenshot in the run record.

Why one module of this size: each step type's execution (find, act, wait, check, do) sits beside
the others it shares finding and waiting with.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.outcome import Outcome
from tracer_cli.agent.risk import assess, needs_asking
from tracer_cli.agent.runlog import RunLog
from tracer_cli.agent.runloop import Confirm, Listener, RunLoop, RunResult, StepRecord
from tracer_cli.desktop.killswitch import Paused, stop_reason
from tracer_cli.desktop.screen import wait_settled
from tracer_cli.errors import ActionError, Interrupted, TracerError
from tracer_cli.macro.load import (
    DEFAULT_TIMEOUT,
    AssertStep,
    ClickStep,
    Condition,
    DoStep,
    DoubleClickStep,
    DragStep,
    ElementSpec,
    HotkeyStep,
    Instance,
    RightClickStep,
    ScrollStep,
    Target,
    TypeStep,
    WaitForStep,
    WaitStep,
    typed_text,
)
from tracer_cli.plan import Click, Hotkey, Type
from tracer_cli.redact import redact

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import Actuator
    from tracer_cli.desktop.elements import Element, Elements
    from tracer_cli.desktop.screen import Geometry, Screen
    from tracer_cli.vision.ocr import Match, TextBox

WAIT_FOR_TIMEOUT = 10.0  # seconds wait_for waits unless the step says otherwise
POLL = 0.25  # seconds between looks at the screen while waiting for a target
SubTask = Callable[[str, int], RunResult]  # runs a `do:` step: (task, max_steps) -> result


class StepFailed(TracerError):
    """A step could not do what it says (target not found, assert false, sub-task failed)."""


SHORT_TEXT = 2  # characters up to which a text target must be a whole word of its own


@dataclass
class Found:
    """Where a target was found: a pixel of its monitor, what matched there, and by what
    (``by``: element, text, image or point)."""

    point: tuple[int, int]
    score: float = 1.0
    text: str = ""
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom
    by: str = ""
    element: dict[str, Any] | None = None  # the element found (to_dict), when by element

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"point": list(self.point), "score": round(self.score, 3)}
        if self.by:
            out["by"] = self.by
        if self.text:
            out["text"] = self.text
        if self.box:
            out["box"] = list(self.box)
        if self.element:
            out["element"] = self.element
        return out


@dataclass
class MacroRecord(StepRecord):
    """A step of a macro run: the agent's step record plus where the step is written."""

    where: str = ""
    found: list[Found] = field(default_factory=list)
    monitor: int = 1
    seen: Image.Image | None = None  # the screenshot a step that went well looked at


class Finder:
    """Finds elements (the desktop's accessibility tree, where it has one), texts (OCR) and
    images (template matching) on screenshots. OCR results are kept per screen content, so
    looking twice at an unchanged screen costs one read."""

    def __init__(self, engine: str = "auto", elements: Elements | None = None) -> None:
        from tracer_cli.desktop.elements import NoElements

        self.elements: Elements = elements or NoElements("not asked for")
        self.engine_name = engine
        self._engine: Any = None
        self._templates: dict[Path, Image.Image] = {}
        self._lines: dict[tuple[int, tuple[int, ...] | None], list[TextBox]] = {}

    def lines(self, image: Image.Image, region: tuple[int, int, int, int] | None) -> list[TextBox]:
        """The OCR lines of ``image`` (a monitor's screenshot) or of a region of it, in the
        monitor's pixels."""
        from tracer_cli.vision.ocr import Box, get_engine, read_region

        crop, _ = _crop(image, region)
        key = (zlib.crc32(crop.tobytes()), region)
        if key not in self._lines:
            if self._engine is None:
                self._engine = get_engine(self.engine_name)
            box = None if region is None else Box(region[0], region[1], region[0] + region[2],
                                                  region[1] + region[3])
            self._lines = {key: read_region(self._engine, image, box)}  # keep the latest only
        return self._lines[key]

    def template(self, path: Path) -> Image.Image:
        if path not in self._templates:
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(path) as img:
                    self._templates[path] = img.convert("RGB")
            except (OSError, UnidentifiedImageError) as exc:
                raise StepFailed(f"cannot read the image {path}: {exc}",
                                 "give a PNG cut from a screenshot") from None
        return self._templates[path]

    def matches(self, image: Image.Image, target: Target | Condition, base: Path,
                region: tuple[int, int, int, int] | None) -> list[Match]:
        if target.text is not None:
            from tracer_cli.vision.ocr import find_text, find_word

            if len(target.text.strip()) <= SHORT_TEXT:
                return find_word(self.lines(image, region), target.text, exact=target.exact)
            return find_text(self.lines(image, region), target.text, exact=target.exact)
        assert target.image is not None
        from tracer_cli.vision.imagefind import find_image

        crop, (ox, oy) = _crop(image, region)
        found = find_image(crop, self.template(base / target.image), target.confidence)
        return [_shift_match(m, ox, oy) for m in found]

    def locate(self, image: Image.Image, target: Target, base: Path,
               region: tuple[int, int, int, int] | None,
               origin: tuple[int, int] = (0, 0)) -> Found | None:
        """The point a target names on this screenshot (a monitor whose top left is the desktop
        pixel ``origin``), or None when it is not there: by its element first, then its text or
        image, then its bare point."""
        dx, dy = target.offset
        if not target.anchored:
            assert target.point is not None
            return Found((target.point[0] + dx, target.point[1] + dy), by="point")
        if target.element is not None:
            found = self.locate_element(image, target, region, origin)
            if found is not None or (target.text is None and target.image is None):
                return found
        matches = self.matches(image, target, base, region)
        if target.nth is not None:
            match = matches[target.nth - 1] if len(matches) >= target.nth else None
        elif target.point is not None and matches:
            px, py = target.point
            match = min(matches, key=lambda m: (m.box.center[0] - px) ** 2 + (m.box.center[1] - py) ** 2)
        else:
            if len(matches) > 1 and target.text is not None and len(target.text.strip()) <= SHORT_TEXT:
                raise StepFailed(f"text {target.text!r} is on the screen {len(matches)} times "
                                 f"(at {_places(matches)}): a short text is not enough to tell "
                                 "which one", "add nth: N or point: [x, y] to the target, or "
                                 "an element: anchor")
            match = matches[0] if matches else None
        if match is None:
            return None
        cx, cy = match.box.center
        b = match.box
        return Found((cx + dx, cy + dy), match.score, redact(match.text), (b.left, b.top, b.right, b.bottom),
                     by="text" if target.text is not None else "image")

    def locate_element(self, image: Image.Image, target: Target,
                       region: tuple[int, int, int, int] | None,
                       origin: tuple[int, int]) -> Found | None:
        """The target's element on this monitor (and in its region): the one nearest the
        target's point where several are, the nth with nth; None where the tree has none."""
        spec = target.element
        assert spec is not None
        ox, oy = origin
        near = (target.point[0] + ox, target.point[1] + oy) if target.point is not None else None
        found = self._elements_in(image, spec, region, origin, near)
        if not found:
            return None
        if target.nth is not None:
            if len(found) < target.nth:
                return None
            (cx, cy), element = sorted(found, key=lambda f: (f[0][1], f[0][0]))[target.nth - 1]
        elif target.point is not None:
            px, py = target.point
            (cx, cy), element = min(found, key=lambda f: (f[0][0] - px) ** 2 + (f[0][1] - py) ** 2)
        elif len(found) > 1:
            raise StepFailed(f"element {spec.describe()} is on the screen {len(found)} times "
                             f"(at {', '.join(f'({x},{y})' for (x, y), _ in found[:5])})",
                             "add window:, nth: N or point: [x, y] to the target")
        else:
            (cx, cy), element = found[0]
        return _found_element((cx, cy), element, origin)

    def _elements_in(self, image: Image.Image, spec: ElementSpec,
                     region: tuple[int, int, int, int] | None, origin: tuple[int, int],
                     near: tuple[int, int] | None = None) -> list[tuple[tuple[int, int], Element]]:
        """The tree's elements of this role and name (and window) whose centres are on this
        monitor (and in its region), with their centres in the monitor's pixels."""
        ox, oy = origin
        left, top, width, height = region or (0, 0, image.width, image.height)
        found = []
        for element in self.elements.find(spec.role, spec.name, spec.window, near):
            cx, cy = element.center[0] - ox, element.center[1] - oy
            if left <= cx < min(image.width, left + width) and top <= cy < min(image.height, top + height):
                found.append(((cx, cy), element))
        return found

    def holds(self, image: Image.Image, cond: Condition, base: Path,
              region: tuple[int, int, int, int] | None,
              origin: tuple[int, int] = (0, 0)) -> Found | None:
        """What shows a wait_for's or assert's condition on this screenshot, or None: its
        element in the state and with the text it names (where the tree has an element of that
        role and name, it decides), else its text or image."""
        if cond.element is not None:
            candidates = self._elements_in(image, cond.element, region, origin)
            if candidates:
                for centre, element in candidates:
                    if cond.element.text is not None:
                        element = self.elements.reread(element) or element
                    if _in_state(element, cond.element.state) and (
                            cond.element.text is None or element.text == cond.element.text):
                        return _found_element(centre, element, origin)
                return None
            if cond.text is None and cond.image is None:
                return None
        matches = self.matches(image, cond, base, region)
        if not matches:
            return None
        b = matches[0].box
        return Found(b.center, matches[0].score, redact(matches[0].text),
                     (b.left, b.top, b.right, b.bottom), by="text" if cond.text is not None else "image")

    def element_seen(self, image: Image.Image, cond: Condition,
                     region: tuple[int, int, int, int] | None, origin: tuple[int, int]) -> str:
        """What the tree shows of a condition's element that does not hold (its states, the
        text it holds), for failure messages; "" where it has none of that role and name."""
        from tracer_cli.desktop.elements import MEANINGFUL_STATES

        assert cond.element is not None
        candidates = self._elements_in(image, cond.element, region, origin)
        if not candidates:
            return "the accessibility tree has no such element" if self.elements.available else ""
        element = self.elements.reread(candidates[0][1]) or candidates[0][1]
        states = sorted(s for s in element.states if s in MEANINGFUL_STATES)
        said = f"the tree has {element.describe()}" + "".join(f", {s}" for s in states)
        if element.text is not None:
            said += f", holding {redact(element.text)!r}"
        return said

    def seen(self, image: Image.Image, region: tuple[int, int, int, int] | None, limit: int = 12) -> str:
        """A short list of the texts on the screen, for failure messages."""
        try:
            texts = [redact(line.text) for line in self.lines(image, region) if line.text.strip()]
        except TracerError:
            return ""
        if not texts:
            return "no text could be read there"
        shown = ", ".join(repr(t) for t in texts[:limit])
        return f"the screen shows {shown}" + (f" and {len(texts) - limit} more" if len(texts) > limit else "")


def _found_element(centre: tuple[int, int], element: Element, origin: tuple[int, int]) -> Found:
    """An element found, as the run record says it (its box in the monitor's pixels; not its
    text, which may be secret)."""
    ox, oy = origin
    b = element.box
    return Found(centre, 1.0, redact(element.name), (b[0] - ox, b[1] - oy, b[2] - ox, b[3] - oy),
                 by="element", element={k: redact(v) if isinstance(v, str) else v
                                        for k, v in element.to_dict().items()
                                        if k not in ("box", "text")})


def _in_state(element: Element, state: str | None) -> bool:
    """Whether an element is in ``state`` ("checked"), or not ("not checked"); None: any."""
    if state is None:
        return True
    name = state.removeprefix("not ")
    return (name in element.states) != (name != state)


def _places(matches: list[Match]) -> str:
    shown = ", ".join("({},{})".format(*m.box.center) for m in matches[:5])
    return shown + (" and more" if len(matches) > 5 else "")


def _crop(image: Image.Image, region: tuple[int, int, int, int] | None
          ) -> tuple[Image.Image, tuple[int, int]]:
    if region is None:
        return image, (0, 0)
    left, top, width, height = region
    right, bottom = min(image.width, left + width), min(image.height, top + height)
    if left >= image.width or top >= image.height:
        raise StepFailed(f"region {list(region)} lies outside the {image.width}x{image.height} monitor",
                         "fix the step's region")
    return image.crop((left, top, right, bottom)), (left, top)


def _shift_match(match: Match, dx: int, dy: int) -> Match:
    if not dx and not dy:
        return match
    from dataclasses import replace

    return replace(match, box=match.box.shifted(dx, dy))


class MacroLog(RunLog):
    """The run record of a macro run: run.json, one line per step, a screenshot of failures."""

    def on_step(self, record: StepRecord) -> None:
        line = macro_step_line(record)
        if record.image is not None:  # a failure: kept whole
            self.save_image(record.image, line["screenshot"])
        elif record.seen is not None:  # for the report: a JPEG is quicker to write and smaller
            self.save_image(record.seen.convert("RGB"), line["screenshot"], quality=80)
        self.write_step(line)


def macro_step_line(record: StepRecord) -> dict[str, Any]:
    """One step of a macro as steps.jsonl and the event stream hold it."""
    assert isinstance(record, MacroRecord)
    line: dict[str, Any] = {"step": record.number, "where": record.where}
    if isinstance(record.action, Instance):
        line["action"] = record.action.step.model_dump(mode="json", by_alias=True,
                                                       exclude_none=True, exclude_defaults=True)
        line["describe"] = record.action.describe()
    if record.monitor != 1:
        line["monitor"] = record.monitor
    if record.found:
        line["found"] = [f.to_dict() for f in record.found]
    line["points"] = [list(p) for p in record.points]
    if record.risk:
        line["risk"] = record.risk
    if record.image is not None:  # a failure: kept whole
        line["screenshot"] = f"step-{record.number:03d}.png"
        line["image_size"] = list(record.image.size)
    elif record.seen is not None:  # for the report: a JPEG
        line["screenshot"] = f"step-{record.number:03d}.jpg"
        line["image_size"] = list(record.seen.size)
    line["outcome"] = record.outcome.text()
    line.update(record.outcome.fields())
    line["timings"] = {k: round(v, 4) for k, v in record.timings.items()}
    return line


@dataclass
class Planned:
    """A step as a dry run resolves it on the current screen."""

    number: int
    instance: Instance
    status: str  # what would happen, or why it cannot be known now
    points: list[tuple[int, int]] = field(default_factory=list)  # pixels of the step's monitor
    monitor: int = 1
    pointer: bool = False  # the step acts at a point (found or not)
    box: tuple[int, int, int, int] | None = None  # where the first target was found, if known


class MacroRunner(RunLoop):
    def __init__(self, steps: list[Instance], screens: Callable[[int], Screen],
                 actuator: Actuator | None, finder: Finder, settings: Settings,
                 listeners: list[Listener] | None = None, confirm: Confirm | None = None,
                 stop: threading.Event | None = None, subtask: SubTask | None = None) -> None:
        super().__init__(actuator, settings, listeners, confirm, stop)
        self.steps = steps
        self.screens = screens
        self.finder = finder
        self.subtask = subtask
        self._typing_into = ""  # the text of the last click's target: where typed text goes
        self._typed = 0  # characters of the current type step sent before a pause

    def _monitor(self, instance: Instance) -> int:
        return instance.step.monitor or self.settings.monitor

    # -- running ------------------------------------------------------------------------------

    def run(self, title: str) -> RunResult:
        geometry = self.screens(self.settings.monitor).geometry
        shown = self.settings.model_copy(update={"max_steps": len(self.steps)})
        return self.drive(title, shown, geometry,
                          RunResult("done", f"all {len(self.steps)} steps ran"))

    def begin_step(self, number: int) -> StepRecord | RunResult | None:
        if number > len(self.steps):
            return None
        instance = self.steps[number - 1]
        self._emit("on_next", number, instance, self.steps[number:number + 4])
        return MacroRecord(number, action=instance, where=str(instance.where),
                           monitor=self._monitor(instance))

    def run_step(self, record: StepRecord) -> RunResult | None:
        assert isinstance(record, MacroRecord)
        instance = self.steps[record.number - 1]
        self._typed = 0
        try:
            while True:
                try:
                    self._step(record, instance)
                    break
                except Paused as exc:  # the user has the desktop; then the step runs again
                    self._typed += exc.typed  # (a text goes on where it stopped)
                    record.found, record.outcome = [], Outcome()
                    self.hold(record.number, exc.progress())
        except Interrupted:
            raise
        except TracerError as exc:  # a step that failed, or could not run at all
            record.outcome = Outcome("failed", str(exc))
            shot = f" (screenshot step-{record.number:03d}.png)" if record.image is not None else ""
            failed = isinstance(exc, StepFailed)
            return RunResult("failed" if failed else "error",
                             f"{instance.where}: {instance.describe()}: {exc}{shot}",
                             code=None if failed else exc.exit_code)
        return None

    def _capture(self, record: MacroRecord) -> Image.Image:
        started = time.monotonic()
        image = self.screens(record.monitor).capture().image
        self.finder.elements.forget()  # a new screen: the tree is read again
        record.timings["capture"] = record.timings.get("capture", 0.0) + time.monotonic() - started
        return image

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(max(0.0, seconds)):
            raise Interrupted(stop_reason(self.stop))

    def _poll(self, record: MacroRecord, timeout: float,
              look: Callable[[Image.Image], Any]) -> tuple[Any, Image.Image]:
        """Look at the screen until ``look`` returns something other than None, or the timeout.
        Returns what it found (or None) and the last screenshot."""
        self._emit("on_phase", record.number, "find")
        deadline = time.monotonic() + timeout
        while True:
            image = self._capture(record)
            started = time.monotonic()
            found = look(image)
            record.timings["find"] = record.timings.get("find", 0.0) + time.monotonic() - started
            if found is not None or time.monotonic() >= deadline:
                return found, image
            self._wait(min(POLL, deadline - time.monotonic()))

    def _locate(self, record: MacroRecord, instance: Instance, target: Target) -> tuple[int, int]:
        step = instance.step
        timeout = step.timeout if step.timeout is not None else DEFAULT_TIMEOUT
        origin = self._origin(record.monitor)
        found, image = self._poll(record, timeout if target.anchored else 0.0,
                                  lambda img: self.finder.locate(img, target, instance.base,
                                                                 step.region, origin))
        if found is None:
            record.image = image
            seen = self.finder.seen(image, step.region) if target.text is not None else ""
            raise StepFailed(f"{target.describe()} not found on monitor {record.monitor} within "
                             f"{timeout:g}s" + (f"; {seen}" if seen else ""),
                             "check that the window is open and visible, or raise the step's timeout")
        record.found.append(found)
        record.seen = image
        return found.point

    def _origin(self, monitor: int) -> tuple[int, int]:
        """The desktop pixel at the top left of a monitor (element boxes are desktop pixels)."""
        m = self.screens(monitor).geometry.monitor
        return m.left, m.top

    def _input_point(self, record: MacroRecord, point: tuple[int, int]) -> tuple[int, int]:
        assert self.actuator is not None
        geometry: Geometry = self.screens(record.monitor).geometry
        try:
            return self.actuator.safe_point(*geometry.pixel_to_input(*point))
        except ActionError as exc:
            raise StepFailed(exc.message, "fix the step's point or offset") from None

    def _step(self, record: MacroRecord, instance: Instance) -> None:
        step = instance.step
        match step:
            case WaitStep():
                self._wait(step.wait)
                record.outcome = Outcome("ok")
                return
            case WaitForStep():
                self._condition(record, instance, step.wait_for, waits=True)
                return
            case AssertStep():
                self._condition(record, instance, step.assert_, waits=False)
                return
            case DoStep():
                self._do(record, step)
                return
        assert self.actuator is not None
        points = [self._input_point(record, self._locate(record, instance, t)) for t in _targets(step)]
        if isinstance(step, ScrollStep) and not points:
            points = [self._input_point(record, _middle(step.region, self.screens(record.monitor)))]
        record.points = points
        self._confirm(record, instance, points)
        if record.outcome.status:  # skipped
            return
        self._emit("on_action", record.number, instance, points)
        self._emit("on_phase", record.number, "act")
        started = time.monotonic()
        match step:
            case ClickStep():
                self.actuator.click(*points[0])
            case DoubleClickStep():
                self.actuator.click(*points[0], clicks=2)
            case RightClickStep():
                self.actuator.click(*points[0], button="right")
            case TypeStep():
                self.actuator.type_text(typed_text(instance)[self._typed:])
            case HotkeyStep():
                self.actuator.hotkey(list(step.hotkey))
            case ScrollStep():
                self.actuator.scroll(*points[0], step.scroll.dy)
            case DragStep():
                self.actuator.drag(*points[0], *points[1])
        record.timings["act"] = time.monotonic() - started
        if isinstance(step, ClickStep | DoubleClickStep | RightClickStep):
            target = step.targets()[0]
            self._typing_into = _label(target)
        self._emit("on_phase", record.number, "settle")
        started = time.monotonic()
        _, settled = wait_settled(self.screens(record.monitor), self.settings.settle_quiet,
                                  self.settings.settle_timeout)
        record.timings["settle"] = time.monotonic() - started
        record.outcome = Outcome("ok", settled=settled)

    def _confirm(self, record: MacroRecord, instance: Instance, points: list[tuple[int, int]]) -> None:
        """tracer's risk rules apply to macros as to the agent: a risky step is confirmed at a
        terminal; without one the macro stops rather than skip a step it depends on."""
        record.risk = _risk(instance, self._typing_into)
        if not needs_asking(self.settings.confirm, record.risk):
            return
        if self.confirm is None:
            why = f"it is risky ({record.risk})" if record.risk else "--confirm always is set"
            self.needed_human = f"{instance.where}: {why}"
            raise StepFailed(f"needs confirmation: {why}, and there is no terminal to ask",
                             "run it at a terminal, or pass --yes if the macro is trusted")
        self.ask_user(record, instance, points)

    def _present(self, image: Image.Image, instance: Instance, cond: Condition,
                 monitor: int) -> Found | None:
        return self.finder.holds(image, cond, instance.base, instance.step.region,
                                 self._origin(monitor))

    def _checkable(self, cond: Condition) -> None:
        """An element-only condition needs a tree: without one it fails at once, saying so."""
        elements = self.finder.elements
        if cond.element is not None and cond.text is None and cond.image is None \
                and not elements.available:
            raise StepFailed(f"{cond.describe()} cannot be checked: no accessibility tree here "
                             f"({elements.reason})", "add text: or image: to the condition for "
                             "desktops without a tree, or start the accessibility bus")

    def _condition(self, record: MacroRecord, instance: Instance, cond: Condition,
                   waits: bool) -> None:
        """wait_for (``waits``: until the condition holds, 10 s by default) and assert (it
        holds now, or within the step's timeout)."""
        step = instance.step
        timeout = step.timeout if step.timeout is not None else (WAIT_FOR_TIMEOUT if waits else 0.0)
        want = not cond.gone
        self._checkable(cond)
        shown: list[Found] = []

        def look(img: Image.Image) -> bool | None:
            found = self._present(img, instance, cond, record.monitor)
            shown[:] = [found] if found is not None else []
            return True if (found is not None) == want else None

        found, image = self._poll(record, timeout, look)
        if cond.element is not None:
            record.found.extend(shown)  # what showed it: by element, or the text or image beside
        if found is not None:
            record.outcome = Outcome("ok")
            record.seen = image
            return
        record.image = image
        seen = self.finder.seen(image, step.region) if cond.text is not None and want else ""
        if cond.element is not None and want:
            seen = self.finder.element_seen(image, cond, step.region, self._origin(record.monitor)) \
                or seen
        seen = f"; {seen}" if seen else ""
        if waits:
            state = "was still there after" if cond.gone else "did not appear within"
            raise StepFailed(f"{cond.message or f'it {state} {timeout:g}s'}{seen}",
                             "raise the step's timeout if the program is slow")
        state = "it is on the screen" if cond.gone else "it is not on the screen"
        raise StepFailed(f"assertion failed: {cond.message or state}{seen}")

    def _do(self, record: MacroRecord, step: DoStep) -> None:
        if self.subtask is None:
            raise StepFailed("no model is set up for do: steps", "pass --backend/--model as for tracer do")
        self._emit("on_phase", record.number, "model")
        started = time.monotonic()
        result = self.subtask(step.do.task, step.do.max_steps)
        record.timings["model"] = time.monotonic() - started
        if result.status == "interrupted":
            raise Interrupted(result.reason)
        if result.status != "done":
            raise StepFailed(f"the agent's sub-task ended {result.status}: {result.reason}")
        record.outcome = Outcome("ok", f"{result.steps} agent steps"
                                 + (f": {result.answer}" if result.answer else ""))

    # -- dry run ------------------------------------------------------------------------------

    def preview(self) -> tuple[list[Planned], dict[int, Image.Image]]:
        """Resolve every step that can be resolved on the current screen; no input at all.
        Returns the steps and the screenshot of each monitor looked at."""
        shots: dict[int, Image.Image] = {}
        planned = []
        for number, instance in enumerate(self.steps, 1):
            monitor = self._monitor(instance)
            if monitor not in shots:
                shots[monitor] = self.screens(monitor).capture().image
            planned.append(self._plan_one(number, instance, monitor, shots[monitor]))
        return planned, shots

    def _plan_one(self, number: int, instance: Instance, monitor: int, image: Image.Image) -> Planned:
        step = instance.step
        plan = Planned(number, instance, "", monitor=monitor)
        if isinstance(step, WaitForStep | AssertStep):
            cond = step.wait_for if isinstance(step, WaitForStep) else step.assert_
            try:
                self._checkable(cond)
                present = self._present(image, instance, cond, monitor) is not None
            except StepFailed as exc:
                plan.status = f"cannot check: {exc.message}"
                return plan
            plan.status = ("on the screen now" if present else "not on the screen now")
            return plan
        if isinstance(step, DoStep):
            plan.status = f"agent sub-task, up to {step.do.max_steps} steps (not run in a dry run)"
            return plan
        if isinstance(step, WaitStep | TypeStep | HotkeyStep):
            plan.status = "keyboard" if not isinstance(step, WaitStep) else "waits"
            risk = _risk(instance, "")
            if risk:
                plan.status += f"; RISKY: {risk}"
            return plan
        plan.pointer = True
        missing = []
        for target in _targets(step):
            try:
                found = self.finder.locate(image, target, instance.base, step.region,
                                           self._origin(monitor))
            except StepFailed as exc:
                plan.status = f"cannot check: {exc.message}"
                return plan
            if found is None:
                missing.append(target.describe())
            else:
                plan.points.append(found.point)
                plan.box = plan.box or found.box
        if isinstance(step, ScrollStep) and not step.scroll.at:
            plan.points.append(_middle(step.region, self.screens(monitor)))
        if missing:
            plan.status = "not on the screen now: " + ", ".join(missing)
            plan.points = []
        else:
            plan.status = "at " + " -> ".join(f"({x},{y})" for x, y in plan.points)
        risk = _risk(instance, "")
        if risk:
            plan.status += f"; RISKY: {risk}"
        return plan


def _targets(step: Any) -> list[Target]:
    return step.targets() if hasattr(step, "targets") else []


def _middle(region: tuple[int, int, int, int] | None, screen: Screen) -> tuple[int, int]:
    if region is not None:
        left, top, width, height = region
        return left + width // 2, top + height // 2
    m = screen.geometry.monitor
    return m.width // 2, m.height // 2


def _label(target: Target) -> str:
    """What a target is called: its element's name, its text, its image's file name."""
    if target.element is not None:
        return target.element.name
    return target.text or Path(target.image or "").stem.replace("_", " ").replace("-", " ")


def _risk(instance: Instance, typing_into: str) -> str | None:
    """tracer's risk rules (risk.assess), asked about the plan step a macro step amounts to."""
    step = instance.step
    match step:
        case ClickStep() | DoubleClickStep() | RightClickStep():
            target = step.targets()[0]
            label = _label(target)
            return assess(Click.model_construct(action="click", target=label)) if label else None
        case TypeStep():  # the macro's own limits hold (a text may be longer than a model's)
            return assess(Type.model_construct(action="type", text=step.type), typing_into)
        case HotkeyStep():
            return assess(Hotkey.model_construct(action="hotkey", keys=list(step.hotkey)))
    return None
