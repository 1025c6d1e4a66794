"""Recording the user's own mouse and keyboard as a macro.

Two pynput listeners (mouse and keyboard; the X RECORD extension on Linux) write down every
event with its time; a screenshot of the monitor is grabbed at every button press and at the
start of every scroll. When the stop hotkey completes (or ``stop`` is set, or Ctrl-C) the
events become steps (``steps_from_events``, a pure function), each click gets a visual
anchor worked out from its screenshot (``anchor_for``: the text under the pointer, else an
image cut around it), and the macro is written (``macro_write.write_macro``).
"""

from __future__ import annotations

import contextlib
import io
import math
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.errors import ActionError, ConfigError, DisplayError, TracerError
from tracer_cli.macro.load import DEFAULT_TIMEOUT
from tracer_cli.macro.write import literal, write_macro
from tracer_cli.plan import normalize_key

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.config import Settings
    from tracer_cli.desktop.screen import Geometry
    from tracer_cli.vision.ocr import OcrEngine

MODIFIERS = ("ctrl", "alt", "shift", "win")  # in the order a hotkey step names them
CHORD_MODIFIERS = frozenset({"ctrl", "alt", "win"})  # with one of these held, a key is a hotkey
TYPING_MODIFIERS = frozenset({"shift", "altgr"})  # these only change the character typed
DOUBLE_CLICK = 0.5  # seconds between two clicks at one place that make a double click
MOVE_TOLERANCE = 6  # pixels a press may move before its release and still be a click
SCROLL_PAUSE = 1.0  # seconds between wheel clicks that still belong to one scroll step
SCROLL_NEAR = 50  # pixels between wheel clicks that still belong to one scroll step
MAX_TIMEOUT = 30.0  # the longest timeout a recorded pause writes into a step
OCR_AROUND = (400, 120)  # half width and height of the area read around a click
SMALL_IMAGE = 128  # the largest image anchor tried before a nearby text
LARGE_IMAGE = 256  # the largest image anchor at all
# X keysyms pynput reports without a name: Tab with shift held, the keypad's Enter.
_X_KEYSYMS = {0xFE20: "tab", 0xFF8D: "enter"}
LABEL_DISTANCE = 300  # pixels from a click to a text that may anchor it (an empty field's label)


# -- events: what the listeners saw -------------------------------------------------------------

@dataclass(frozen=True)
class KeyEvent:
    t: float  # time.monotonic()
    key: str  # a character as typed ("a", "A", "!"), or pyautogui's key name ("enter", "ctrl")
    down: bool

    def describe(self) -> str:
        return f"key {self.key!r} {'down' if self.down else 'up'}"


@dataclass(frozen=True)
class ButtonEvent:
    t: float
    x: int  # pixels of the recorded monitor
    y: int
    button: str  # left, right, middle
    down: bool
    shot: int | None = None  # the screenshot grabbed at a press

    def describe(self) -> str:
        return f"{self.button} button {'down' if self.down else 'up'} at ({self.x},{self.y})"


@dataclass(frozen=True)
class WheelEvent:
    t: float
    x: int
    y: int
    dy: int  # wheel clicks: positive up, negative down
    shot: int | None = None

    def describe(self) -> str:
        return f"scroll {self.dy:+d} at ({self.x},{self.y})"


Event = KeyEvent | ButtonEvent | WheelEvent


# -- steps: what the events amount to ----------------------------------------------------------

@dataclass
class RecordedStep:
    """One macro step as recorded, before anchors: points are pixels of the recorded monitor."""

    action: str  # click, double_click, right_click, drag, type, hotkey, scroll
    t: float  # when it started
    t_end: float  # when it ended
    points: list[tuple[int, int]] = field(default_factory=list)
    shot: int | None = None  # the screenshot its anchors are cut from
    text: str = ""  # type
    keys: list[str] = field(default_factory=list)  # hotkey
    dy: int = 0  # scroll

    def describe(self) -> str:
        where = " -> ".join(f"({x},{y})" for x, y in self.points)
        match self.action:
            case "type":
                return f"type {self.text!r}"
            case "hotkey":
                return "hotkey " + "+".join(self.keys)
            case "scroll":
                return f"scroll {self.dy:+d} at {where}"
        return f"{self.action} {where}"


def _far(a: tuple[int, int], b: tuple[int, int], limit: float) -> bool:
    return math.hypot(a[0] - b[0], a[1] - b[1]) > limit


def steps_from_events(events: list[Event], stop_chord: frozenset[str] = frozenset(),
                      double_click: float = DOUBLE_CLICK, tolerance: int = MOVE_TOLERANCE,
                      scroll_pause: float = SCROLL_PAUSE) -> list[RecordedStep]:
    """Turn raw input events into macro steps.

    Printable keys in a row are one ``type`` step (Enter and Tab inside it as newline and tab,
    Backspace taking back the last character typed); a key pressed with ctrl, alt or win held
    (or a special key, with shift too) is a ``hotkey``; modifiers alone are nothing. A press
    and release at one place is a click, two of them within ``double_click`` seconds a double
    click; the right button a right click; a press released more than ``tolerance`` pixels
    away a drag. Wheel clicks in a row, one way and at one place, are one scroll. The stop
    chord ends the recording and is not a step; the middle button is not recorded."""
    steps: list[RecordedStep] = []
    held: set[str] = set()
    typing: RecordedStep | None = None  # the type step being written
    pressed: dict[str, ButtonEvent] = {}

    def add(step: RecordedStep) -> None:
        nonlocal typing
        typing = None
        steps.append(step)

    def hotkey(keys: list[str], t: float) -> bool:
        """Add a hotkey step; False when it is the stop chord (the end)."""
        if stop_chord and frozenset(keys) == stop_chord:
            return False
        add(RecordedStep("hotkey", t, t, keys=keys))
        return True

    for ev in sorted(events, key=lambda e: e.t):
        if isinstance(ev, KeyEvent):
            key = ev.key
            if key in MODIFIERS or key == "altgr":
                if ev.down:
                    held.add(key)
                else:
                    held.discard(key)
                continue
            if not ev.down:
                continue
            chord = [m for m in MODIFIERS if m in held]
            char = " " if key == "space" else key if len(key) == 1 else None
            if held & CHORD_MODIFIERS:
                base = char.lower() if char and char.isalpha() else ("space" if char == " " else key)
                if not hotkey([*chord, base], ev.t):
                    break
                continue
            shifted = "shift" in held
            if char is None and not shifted and key in ("enter", "tab"):
                char = "\n" if key == "enter" else "\t"
            if char is not None:
                if typing is None:
                    add(RecordedStep("type", ev.t, ev.t))
                    typing = steps[-1]
                typing.text += char
                typing.t_end = ev.t
                continue
            if key == "backspace" and not shifted and typing is not None:
                typing.text = typing.text[:-1]
                typing.t_end = ev.t
                if not typing.text:
                    steps.remove(typing)
                    typing = None
                continue
            if not hotkey([*chord, key], ev.t):
                break
        elif isinstance(ev, ButtonEvent):
            typing = None
            if ev.down:
                pressed[ev.button] = ev
                continue
            start = pressed.pop(ev.button, None)
            if start is None:  # released a press made before the recording started
                continue
            at, to = (start.x, start.y), (ev.x, ev.y)
            if ev.button == "right":
                add(RecordedStep("right_click", start.t, ev.t, [at], start.shot))
            elif ev.button != "left":
                continue
            elif _far(at, to, tolerance):
                add(RecordedStep("drag", start.t, ev.t, [at, to], start.shot))
            else:
                last = steps[-1] if steps else None
                if (last is not None and last.action == "click" and start.t - last.t <= double_click
                        and not _far(last.points[0], at, tolerance)):
                    last.action, last.t_end = "double_click", ev.t
                else:
                    add(RecordedStep("click", start.t, ev.t, [at], start.shot))
        else:
            typing = None
            last = steps[-1] if steps else None
            if (last is not None and last.action == "scroll" and (last.dy > 0) == (ev.dy > 0)
                    and ev.t - last.t_end <= scroll_pause and not _far(last.points[0], (ev.x, ev.y),
                                                                       SCROLL_NEAR)
                    and abs(last.dy + ev.dy) <= 100):
                last.dy += ev.dy
                last.t_end = ev.t
            elif ev.dy:
                add(RecordedStep("scroll", ev.t, ev.t, [(ev.x, ev.y)], ev.shot, dy=ev.dy))
    return steps


def drop_interrupt_key(steps: list[RecordedStep]) -> list[RecordedStep]:
    """Without the Ctrl-C that stopped the recording (pressed in the terminal)."""
    if steps and steps[-1].action == "hotkey" and steps[-1].keys == ["ctrl", "c"]:
        return steps[:-1]
    return steps


# -- anchors: how a replay finds the place again -----------------------------------------------

@dataclass
class Anchor:
    """A target as a macro writes it (``image`` is a PIL image until written) and its kind."""

    target: dict[str, Any]
    kind: str  # text, image, point
    note: str = ""  # why a weaker kind was used


def _usable(text: str) -> bool:
    text = text.strip()
    return len(text) >= 2 and sum(c.isalnum() for c in text) >= 2 and len(text) <= 60


def _text_target(lines: list[Any], text: str, x: int, y: int, within: float) -> dict[str, Any] | None:
    """A text target for the point: ``text`` as a replay finds it in ``lines`` (the match
    nearest the point, as the runner picks it), if that match lies within ``within`` pixels of
    the point, with the offset from its centre to the point."""
    from tracer_cli.vision.ocr import find_text

    matches = find_text(lines, text)
    if not matches:
        return None
    best = min(matches, key=lambda m: (m.box.center[0] - x) ** 2 + (m.box.center[1] - y) ** 2)
    if best.box.distance(x, y) > within:
        return None
    cx, cy = best.box.center
    target: dict[str, Any] = {"text": literal(text), "point": [int(x), int(y)]}
    if (x - cx, y - cy) != (0, 0):
        target["offset"] = [int(x - cx), int(y - cy)]
    return target


def _image_target(image: Image.Image, x: int, y: int, size: int, max_size: int,
                  confidence: float) -> tuple[dict[str, Any] | None, str]:
    from tracer_cli.vision.imagefind import cut_anchor

    try:
        crop, (dx, dy) = cut_anchor(image, x, y, size=size, max_size=max_size, confidence=confidence)
    except ActionError as exc:
        return None, exc.message
    target: dict[str, Any] = {"image": crop, "point": [int(x), int(y)]}
    if (dx, dy) != (0, 0):
        target["offset"] = [int(dx), int(dy)]
    if confidence != 0.9:
        target["confidence"] = confidence
    return target, ""


def _squeeze(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def typed_by_user(text: str, typed: Iterable[str]) -> bool:
    """Whether ``text`` (read on the screen) is, or holds, something typed during the
    recording: content, not a label of the program, so no anchor for another replay."""
    seen = _squeeze(text)
    if not seen:
        return False
    for t in typed:
        t = _squeeze(t)
        if len(t) >= 3 and (t in seen or (len(seen) >= 3 and seen in t)):
            return True
    return False


def _label_rank(box: Any, x: int, y: int) -> tuple[bool, float]:
    """How likely a text is the label of the field clicked at (x, y): a label starts above the
    point or level with it, left of it or above it; nearest first, rows counting more than
    columns (the label of the row, not of the field above)."""
    placed = box.top <= y and (box.right <= x or box.bottom <= y)
    dx = max(box.left - x, 0, x - box.right)
    dy = max(box.top - y, 0, y - box.bottom)
    return not placed, dx + 3 * dy


def anchor_for(image: Image.Image, x: int, y: int, engine: OcrEngine | None,
               confidence: float = 0.9, typed: Iterable[str] = ()) -> Anchor:
    """The anchor of a click at (x, y) of ``image`` (a screenshot of the monitor, in its
    pixels), the first of:

    1. the text under the point, when OCR reads some there;
    2. a small image cut around the point (up to SMALL_IMAGE px, unique on the screenshot);
    3. the nearest text within LABEL_DISTANCE px (an empty field's label), with the offset;
    4. a larger image (up to LARGE_IMAGE px: it may take in things around the window);
    5. the bare point.

    Text typed during the recording (``typed``) is content, not an anchor. Text targets carry
    the offset from where a replay finds the text to the point. The point is always kept: it
    picks the nearest of several matches."""
    typed = list(typed)
    point = [int(x), int(y)]
    notes = []
    lines: list[Any] = []
    if engine is not None:
        from tracer_cli.vision.ocr import Box, read_region, text_at

        ax, ay = OCR_AROUND
        try:
            lines = read_region(engine, image, Box(x - ax, y - ay, x + ax, y + ay))
        except TracerError as exc:
            notes.append(f"OCR failed: {exc.message}")
        hit = text_at(lines, x, y)
        if hit is not None and _usable(hit.text) and not typed_by_user(hit.text, typed):
            target = _text_target(lines, hit.text.strip(), x, y, 8)
            if target is not None:
                return Anchor(target, "text")
    target, problem = _image_target(image, x, y, 32, SMALL_IMAGE, confidence)
    if target is not None:
        return Anchor(target, "image")
    labels = sorted((line for line in lines if _usable(line.text)
                     and not typed_by_user(line.text, typed) and line.box.distance(x, y) <= LABEL_DISTANCE),
                    key=lambda line: _label_rank(line.box, x, y))
    for label in labels[:3]:
        target = _text_target(lines, label.text.strip(), x, y, LABEL_DISTANCE)
        if target is not None:
            return Anchor(target, "text", "the nearest text, with an offset")
    target, problem = _image_target(image, x, y, LARGE_IMAGE, LARGE_IMAGE, confidence)
    if target is not None:
        return Anchor(target, "image", "a large image")
    notes.append(problem)
    return Anchor({"point": point}, "point", "; ".join(n for n in notes if n))


def macro_step(step: RecordedStep, anchors: list[Anchor | None], gap: float) -> dict[str, Any] | None:
    """The macro file's mapping for a recorded step (None: it cannot be written as a step).
    ``anchors``: one per point (None: the bare point). ``gap``: seconds since the step before;
    a pause longer than the default timeout becomes the step's timeout."""
    def target(i: int) -> dict[str, Any]:
        anchor = anchors[i] if i < len(anchors) else None
        return anchor.target if anchor is not None else {"point": list(step.points[i])}

    out: dict[str, Any]
    match step.action:
        case "click" | "double_click" | "right_click":
            out = {step.action: target(0)}
        case "drag":
            out = {"drag": {"from": target(0), "to": target(1)}}
        case "scroll":
            out = {"scroll": {"dy": step.dy, "at": target(0)}}
        case "type":
            if not step.text:
                return None
            out = {"type": literal(step.text)}
        case "hotkey":
            try:
                out = {"hotkey": [normalize_key(k) for k in step.keys]}
            except ValueError:
                return None
        case _:
            return None
    anchored = any(a is not None and a.kind != "point" for a in anchors)
    if anchored and gap > DEFAULT_TIMEOUT:
        out["timeout"] = float(min(MAX_TIMEOUT, math.ceil(gap + 2)))
    return out


# -- the recording itself ----------------------------------------------------------------------

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


def _pynput_key(key: Any, keyboard: Any) -> str | None:
    """pynput's key as the recorder names it: pyautogui's name, or the character typed."""
    from tracer_cli.desktop.killswitch import PYNPUT_NAMES, X_META

    if key is None:
        return None
    if isinstance(key, keyboard.Key):
        name = key.name
        for side in ("_l", "_r"):
            if name.endswith(side) and name[:-2] in ("ctrl", "alt", "shift", "cmd"):
                name = name[:-2]
        return PYNPUT_NAMES.get(name, name.replace("_", ""))
    char = getattr(key, "char", None)
    if char:
        if len(char) == 1 and ord(char) < 32:  # ctrl+letter as a control character
            return chr(ord(char) + 96) if 1 <= ord(char) <= 26 else None
        return char if len(char) == 1 else None
    vk = getattr(key, "vk", None)
    if vk in X_META:
        return "alt"
    return _X_KEYSYMS.get(vk)  # type: ignore[arg-type]


def _stop_listener(listener: Any) -> None:
    """Stop a pynput listener at once (its X backend otherwise ends at the next event)."""
    listener.stop()
    display, context = getattr(listener, "_display_stop", None), getattr(listener, "_context", None)
    if display is not None and context is not None:
        with contextlib.suppress(Exception):
            display.record_disable_context(context)
            display.flush()
    listener.join(1.0)


class _Shots:
    """Grabs the monitor on request in its own thread (an mss instance belongs to the thread
    that made it) and keeps each grab as PNG bytes."""

    def __init__(self, raw: dict[str, int]) -> None:
        self.raw = raw
        self.images: dict[int, bytes] = {}
        self.errors: list[str] = []
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._count = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tracer-record-shots", daemon=True)
        self._thread.start()

    def request(self) -> int:
        with self._lock:
            self._count += 1
            shot = self._count
        self._queue.put(shot)
        return shot

    def _run(self) -> None:
        import mss
        from PIL import Image

        try:
            sct = mss.MSS()
        except Exception as exc:  # every click then keeps its bare point
            self.errors.append(f"cannot capture the screen: {exc}")
            while self._queue.get() is not None:
                pass
            return
        with sct:
            while True:
                shot = self._queue.get()
                if shot is None:
                    return
                try:
                    grab = sct.grab(self.raw)
                    image = Image.frombytes("RGB", grab.size, grab.raw, "raw", "BGRX")
                    buf = io.BytesIO()
                    image.save(buf, format="PNG", compress_level=1)
                    self.images[shot] = buf.getvalue()
                except Exception as exc:  # a failed grab costs that click its anchor only
                    self.errors.append(str(exc))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)

    def image(self, shot: int | None) -> Image.Image | None:
        if shot is None or shot not in self.images:
            return None
        from PIL import Image

        with Image.open(io.BytesIO(self.images[shot])) as img:
            return img.convert("RGB")


def _monitor(index: int) -> tuple[Geometry, dict[str, int]]:
    """The monitor's geometry and its mss rectangle."""
    from tracer_cli.desktop.screen import MssScreen

    screen = MssScreen(index)
    try:
        m = screen.geometry.monitor
        return screen.geometry, {"left": m.left, "top": m.top, "width": m.width, "height": m.height}
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


def _start(listener: Any, what: str, timeout: float = 5.0) -> None:
    listener.start()
    ready = threading.Thread(target=listener.wait, daemon=True)
    ready.start()
    ready.join(timeout)
    time.sleep(0.02)
    if ready.is_alive() or not listener.is_alive():
        listener.stop()
        raise DisplayError(f"cannot record: the global {what} listener did not start",
                           "check the input permissions (macOS: Accessibility) and that the X "
                           "server has the RECORD extension")


def record(out: Path, settings: Settings | None = None, stop_hotkey: str | None = None,
           monitor: int | None = None, on_event: Callable[[Event], None] | None = None,
           stop: threading.Event | None = None,
           progress: Callable[[int, int], None] | None = None,
           on_ready: Callable[[str], None] | None = None, force: bool = False) -> RecordResult:
    """Record mouse and keyboard on ``monitor`` until the stop hotkey (pynput syntax; default:
    the kill hotkey; "" for none), until ``stop`` is set, or Ctrl-C; then write the macro to
    ``out``. Whatever was recorded is written, however the recording ended. ``on_event`` is
    called (from the listeners' threads) with each event; ``on_ready`` with a one-line message
    once the listeners are armed. An existing ``out`` is refused up front unless ``force``."""
    from tracer_cli.config import Settings
    from tracer_cli.desktop.killswitch import KillSwitch, StopRequest, label

    settings = settings or Settings()
    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists already", "choose another file, or pass --force to overwrite it")
    index = monitor or settings.monitor
    hotkey = settings.kill_hotkey if stop_hotkey is None else stop_hotkey
    stop = stop if stop is not None else StopRequest()
    geometry, raw = _monitor(index)
    m = geometry.monitor
    sx, sy = geometry.input_scale
    try:
        from pynput import keyboard, mouse
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DisplayError(f"cannot record: pynput cannot use this display ({first})",
                           "run it in an X11 session with DISPLAY set") from None

    events: list[Event] = []
    lock = threading.Lock()
    shots = _Shots(raw)
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

    def on_click(x: float, y: float, button: Any, pressed: bool, injected: bool = False) -> None:
        px, py, inside = where(x, y)
        name = getattr(button, "name", str(button))
        if pressed and not inside:
            return
        shot = shots.request() if pressed and name in ("left", "right") else None
        add(ButtonEvent(time.monotonic(), px, py, name, pressed, shot))

    def on_scroll(x: float, y: float, dx: float, dy: float, injected: bool = False) -> None:
        px, py, inside = where(x, y)
        if not dy or not inside:
            return
        now = time.monotonic()
        shot = shots.request() if now - last_wheel[0] > SCROLL_PAUSE else None
        last_wheel[0] = now
        add(WheelEvent(now, px, py, int(dy), shot))

    def on_key(down: bool) -> Callable[..., None]:
        def handle(key: Any, injected: bool = False) -> None:
            name = _pynput_key(key, keyboard)
            if name is not None:
                add(KeyEvent(time.monotonic(), name, down))
        return handle

    switch = KillSwitch(hotkey, stop) if hotkey else None
    chord = switch.chord if switch is not None else frozenset()
    mouse_listener = mouse.Listener(on_click=on_click, on_scroll=on_scroll)
    key_listener = keyboard.Listener(on_press=on_key(True), on_release=on_key(False))
    started = time.monotonic()
    stopped_by = ""
    previous = _catch_signals(stop)
    try:
        if switch is not None:
            switch.start()
        _start(mouse_listener, "mouse")
        _start(key_listener, "keyboard")
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
        for listener in (key_listener, mouse_listener):
            if listener.is_alive():
                _stop_listener(listener)
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
    anchors = _work_out_anchors(steps, shots.image, settings.ocr, result, progress)
    header = [f"Recorded with `tracer record` on {datetime.now():%Y-%m-%d %H:%M}, monitor {index} "
              f"({m.width}x{m.height}); points are pixels of that monitor.",
              f"Replay: tracer run {out.name}" + (f" --monitor {index}" if index != 1 else ""),
              "Each click finds its text or image again (the point picks the nearest match);",
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
                      progress: Callable[[int, int], None] | None) -> list[list[Anchor | None]]:
    """An anchor for every point of every step (None where there is no screenshot); ``progress``
    is told (done, all). Ctrl-C here keeps the bare points of the steps not done yet."""
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
