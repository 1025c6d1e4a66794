"""Recording the user's own mouse and keyboard as a macro.

The platform's global listening (on X11 two pynput listeners over the RECORD extension) writes
down every event with its time; a screenshot of the monitor is grabbed at every button press and at the
start of every scroll. When the stop hotkey completes (or ``stop`` is set, or Ctrl-C) the
events become steps (macro/recorded.py, pure), each click gets a visual anchor worked out
from its screenshot (vision/anchors.py: the text under the pointer, else an image cut around
it), and the macro is written (macro/write.py).
"""

from __future__ import annotations

import contextlib
import io
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.errors import ConfigError, TracerError
from tracer_cli.macro.recorded import (
    SCROLL_PAUSE,
    ButtonEvent,
    Event,
    KeyEvent,
    RecordedStep,
    WheelEvent,
    drop_interrupt_key,
    macro_step,
    steps_from_events,
)
from tracer_cli.macro.write import write_macro
from tracer_cli.vision.anchors import Anchor, anchor_for, with_element

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.config import Settings
    from tracer_cli.desktop.platform import Platform
    from tracer_cli.desktop.screen import Geometry
    from tracer_cli.vision.ocr import OcrEngine

@dataclass
class RecordResult:
    path: Path | None  # the macro written (None: nothing was recorded)
    steps: list[str]  # each step, described
    anchors: Counter[str] = field(default_factory=Counter)  # text/image/point -> how many
    warnings: list[str] = field(default_factory=list)
    stopped_by: str = ""
    seconds: float = 0.0
    events: int = 0

    def __str__(self) -> str:
        if self.path is None:
            return f"nothing recorded ({self.stopped_by or 'stopped'}): no macro written"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.anchors.items()))
        return (f"recorded {len(self.steps)} steps in {self.seconds:.0f}s "
                f"(anchors: {kinds or 'none'}) to {self.path}")


class _Shots:
    """Grabs the monitor on request in its own thread (a screen belongs to the thread that
    opened it) and keeps each grab as PNG bytes, and the element of the accessibility tree at
    the pressed point (where the desktop has a tree) as a macro names it."""

    def __init__(self, platform: Platform, monitor: int) -> None:
        from tracer_cli.desktop.elements import open_elements

        self.platform, self.monitor = platform, monitor
        self.tree = open_elements(platform)
        self.images: dict[int, bytes] = {}
        self.elements: dict[int, dict[str, str]] = {}
        self._points: dict[int, tuple[int, int]] = {}
        self.errors: list[str] = []
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._count = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tracer-record-shots", daemon=True)
        self._thread.start()

    def request(self, at: tuple[int, int] | None = None) -> int:
        """Grab the screen; ``at``: the desktop pixel pressed, whose element is kept too."""
        with self._lock:
            self._count += 1
            shot = self._count
            if at is not None:
                self._points[shot] = at
        self._queue.put(shot)
        return shot

    def _element(self, shot: int) -> None:
        at = self._points.pop(shot, None)
        if at is None or not self.tree.available:
            return
        self.tree.forget()
        element = self.tree.at(*at)
        if element is not None and element.anchorable:
            self.elements[shot] = element.anchor()

    def _run(self) -> None:
        try:
            screen = self.platform.open_screen(self.monitor)
        except TracerError as exc:  # every click then keeps its bare point
            self.errors.append(f"cannot capture the screen: {exc}")
            while self._queue.get() is not None:
                pass
            return
        try:
            while True:
                shot = self._queue.get()
                if shot is None:
                    return
                self._element(shot)
                try:
                    image = screen.capture().image
                    buf = io.BytesIO()
                    image.save(buf, format="PNG", compress_level=1)
                    self.images[shot] = buf.getvalue()
                except Exception as exc:  # a failed grab costs that click its anchor only
                    self.errors.append(str(exc))
        finally:
            screen.close()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)
        self.tree.close()

    def image(self, shot: int | None) -> Image.Image | None:
        if shot is None or shot not in self.images:
            return None
        from PIL import Image

        with Image.open(io.BytesIO(self.images[shot])) as img:
            return img.convert("RGB")


def _monitor(platform: Platform, index: int) -> Geometry:
    """The monitor's geometry (a DisplayError when it does not exist)."""
    screen = platform.open_screen(index)
    try:
        return screen.geometry
    finally:
        screen.close()


CTRL_C = "interrupted with Ctrl-C"


def _catch_signals(stop: threading.Event) -> dict[int, Any]:
    """Ctrl-C and SIGTERM end the recording (and the recording is saved), also where they were
    ignored when the process started (a background job: Python then installs no Ctrl-C
    handler of its own). Only the main thread can set handlers; returns the ones replaced."""
    from tracer_cli.desktop.killswitch import StopRequest

    if threading.current_thread() is not threading.main_thread():
        return {}
    from tracer_cli.desktop.killswitch import SIGNAL_REASONS as reasons

    def handle(signum: int, frame: object) -> None:
        if isinstance(stop, StopRequest):
            stop.request(reasons.get(signum, "interrupted"))
        else:
            stop.set()

    return {signum: signal.signal(signum, handle) for signum in reasons}


def record(out: Path, platform: Platform, settings: Settings | None = None,
           stop_hotkey: str | None = None, monitor: int | None = None,
           on_event: Callable[[Event], None] | None = None,
           stop: threading.Event | None = None,
           progress: Callable[[int, int], None] | None = None,
           on_ready: Callable[[str], None] | None = None, force: bool = False) -> RecordResult:
    """Record mouse and keyboard on ``monitor`` of ``platform``'s desktop until the stop hotkey
    (pynput syntax; default: the kill hotkey; "" for none), until ``stop`` is set, or Ctrl-C;
    then write the macro to ``out``. Whatever was recorded is written, however the recording
    ended. ``on_event`` is called (from the listeners' threads) with each event; ``on_ready``
    with a one-line message once the listeners are armed. An existing ``out`` is refused up
    front unless ``force``."""
    from tracer_cli.config import Settings
    from tracer_cli.desktop.killswitch import StopRequest, label

    settings = settings or Settings()
    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists already", "choose another file, or pass --force to overwrite it")
    index = monitor or settings.monitor
    hotkey = settings.kill_hotkey if stop_hotkey is None else stop_hotkey
    stop = stop if stop is not None else StopRequest()
    geometry = _monitor(platform, index)
    m = geometry.monitor
    sx, sy = geometry.input_scale

    events: list[Event] = []
    lock = threading.Lock()
    last_wheel = [0.0]

    def add(event: Event) -> None:
        if stop.is_set():
            return
        with lock:
            events.append(event)
        if on_event is not None:
            with contextlib.suppress(Exception):
                on_event(event)

    def where(x: float, y: float) -> tuple[int, int, bool]:
        px, py = round(x * sx) - m.left, round(y * sy) - m.top
        inside = 0 <= px < m.width and 0 <= py < m.height
        return min(max(px, 0), m.width - 1), min(max(py, 0), m.height - 1), inside

    def on_button(x: float, y: float, name: str, pressed: bool) -> None:
        px, py, inside = where(x, y)
        if pressed and not inside:
            return
        shot = shots.request((round(x * sx), round(y * sy))) if pressed and name in ("left", "right") \
            else None
        add(ButtonEvent(time.monotonic(), px, py, name, pressed, shot))

    def on_scroll(x: float, y: float, dy: int) -> None:
        px, py, inside = where(x, y)
        if not dy or not inside:
            return
        now = time.monotonic()
        shot = shots.request() if now - last_wheel[0] > SCROLL_PAUSE else None
        last_wheel[0] = now
        add(WheelEvent(now, px, py, int(dy), shot))

    def on_key(name: str, down: bool) -> None:
        add(KeyEvent(time.monotonic(), name, down))

    listening = platform.listen(on_button, on_scroll, on_key)
    switch = platform.kill_switch(hotkey, stop, None) if hotkey else None
    chord = switch.chord if switch is not None else frozenset()
    shots = _Shots(platform, index)
    started = time.monotonic()
    stopped_by = ""
    previous = _catch_signals(stop)
    try:
        if switch is not None:
            switch.start()
        listening.start()
        if on_ready is not None:
            how = f"press {label(hotkey)} (or Ctrl-C here)" if hotkey else "press Ctrl-C here"
            on_ready(f"recording monitor {index} ({m.width}x{m.height}): {how} to stop")
        while not stop.wait(0.1):
            pass
        stopped_by = getattr(stop, "reason", "") or "stopped"
    except KeyboardInterrupt:
        stopped_by = CTRL_C
        if isinstance(stop, StopRequest):
            stop.request(stopped_by)
        else:
            stop.set()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        listening.close()
        if switch is not None:
            switch.close()
        shots.close()
    seconds = time.monotonic() - started
    with lock:
        taken = list(events)
    steps = steps_from_events(taken, chord)
    if stopped_by == CTRL_C:  # its own keys were recorded too (SIGTERM comes with none)
        steps = drop_interrupt_key(steps)
    result = RecordResult(None, [], stopped_by=stopped_by, seconds=seconds, events=len(taken))
    result.warnings.extend(f"a screenshot failed: {e}" for e in shots.errors[:3])
    if not steps:
        result.warnings.append("nothing was recorded: no clicks, keys or scrolls")
        return result
    anchors = _work_out_anchors(steps, shots.image, settings.ocr, result, progress,
                                shots.elements.get)
    header = [f"Recorded with `tracer record` on {datetime.now():%Y-%m-%d %H:%M}, monitor {index} "
              f"({m.width}x{m.height}); points are pixels of that monitor.",
              f"Replay: tracer run {out.name}" + (f" --monitor {index}" if index != 1 else ""),
              "Each click finds its element, text or image again (the point picks the nearest",
              "match);",
              "edit freely: see the README's macro reference."]
    result.path = _write(out, steps, anchors, result, header, name=out.stem,
                         description=f"recorded on {datetime.now():%Y-%m-%d}")
    return result


def _write(out: Path, steps: list[RecordedStep], anchors: list[list[Anchor | None]],
           result: RecordResult, header: list[str], name: str, description: str) -> Path:
    written: list[dict[str, Any]] = []
    previous_end: float | None = None
    for step, step_anchors in zip(steps, anchors, strict=True):
        gap = step.t - previous_end if previous_end is not None else 0.0
        previous_end = step.t_end
        item = macro_step(step, step_anchors, gap)
        if item is None:
            result.warnings.append(f"left out {step.describe()}: not a key a macro can press")
            continue
        written.append(item)
        result.steps.append(step.describe())
        for anchor in step_anchors:
            result.anchors[anchor.kind if anchor is not None else "point"] += 1
    return write_macro(out, written, name=name, description=description,
                       header_comment_lines=header)


def _ocr_engine(name: str, warnings: list[str]) -> OcrEngine | None:
    from tracer_cli.vision.ocr import get_engine

    try:
        return get_engine(name)
    except ConfigError as exc:
        warnings.append(f"no text anchors: {exc}")
        return None


def _work_out_anchors(steps: list[RecordedStep], image_of: Callable[[int | None], Image.Image | None],
                      ocr: str, result: RecordResult,
                      progress: Callable[[int, int], None] | None,
                      element_of: Callable[[int], dict[str, str] | None] = lambda shot: None,
                      ) -> list[list[Anchor | None]]:
    """An anchor for every point of every step (None where there is no screenshot), a click's
    with the element pressed where the tree had one (``element_of(shot)``); ``progress`` is
    told (done, all). Ctrl-C here keeps the bare points of the steps not done yet."""
    anchors: list[list[Anchor | None]] = [[None] * len(s.points) for s in steps]
    todo = [(i, j) for i, s in enumerate(steps) for j in range(len(s.points)) if s.shot is not None]
    if not todo:
        return anchors
    engine = _ocr_engine(ocr, result.warnings)
    typed = [s.text for s in steps if s.action == "type"]
    done = 0
    try:
        cache: dict[int, Image.Image | None] = {}
        for i, j in todo:
            step = steps[i]
            if step.shot not in cache:
                cache.clear()
                cache[step.shot] = image_of(step.shot)  # type: ignore[index]
            image = cache[step.shot]  # type: ignore[index]
            if image is not None:
                x, y = step.points[j]
                anchor = anchor_for(image, x, y, engine, typed=typed)
                if j == 0 and step.action in ("click", "double_click", "right_click"):
                    anchor = with_element(anchor, element_of(step.shot))  # type: ignore[arg-type]
                anchors[i][j] = anchor
                if anchor.kind == "point" and anchor.note:
                    result.warnings.append(f"{step.describe()}: only the point ({anchor.note})")
            done += 1
            if progress is not None:
                progress(done, len(todo))
    except KeyboardInterrupt:
        result.warnings.append(f"interrupted while finding anchors: {len(todo) - done} points "
                               "kept as bare coordinates")
    return anchors
