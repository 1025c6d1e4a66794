"""What recorded input amounts to: the events the listeners saw, and the steps they make
(``steps_from_events``, pure: the same events always make the same steps), written as macro
steps with their anchors (``macro_step``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tracer_cli.macro.load import DEFAULT_TIMEOUT
from tracer_cli.macro.write import anchor_target, literal
from tracer_cli.plan import normalize_key
from tracer_cli.vision.anchors import Anchor

MODIFIERS = ("ctrl", "alt", "shift", "win")  # in the order a hotkey step names them
CHORD_MODIFIERS = frozenset({"ctrl", "alt", "win"})  # with one of these held, a key is a hotkey
TYPING_MODIFIERS = frozenset({"shift", "altgr"})  # these only change the character typed
DOUBLE_CLICK = 0.5  # seconds between two clicks at one place that make a double click
MOVE_TOLERANCE = 6  # pixels a press may move before its release and still be a click
SCROLL_PAUSE = 1.0  # seconds between wheel clicks that still belong to one scroll step
SCROLL_NEAR = 50  # pixels between wheel clicks that still belong to one scroll step
MAX_TIMEOUT = 30.0  # the longest timeout a recorded pause writes into a step


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


def macro_step(step: RecordedStep, anchors: list[Anchor | None], gap: float) -> dict[str, Any] | None:
    """The macro file's mapping for a recorded step (None: it cannot be written as a step).
    ``anchors``: one per point (None: the bare point). ``gap``: seconds since the step before;
    a pause longer than the default timeout becomes the step's timeout."""
    def target(i: int) -> dict[str, Any]:
        anchor = anchors[i] if i < len(anchors) else None
        return anchor_target(anchor.target) if anchor is not None else {"point": list(step.points[i])}

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
