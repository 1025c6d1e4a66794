"""Acting on the desktop: mouse and keyboard primitives, real (pyautogui) or recorded.

``execute`` turns one plan step into primitives on screen coordinates; it refuses any point that
falls outside the monitor the user chose.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from tracer_cli.desktop.killswitch import Paused, PauseRequest, key_names, stop_reason
from tracer_cli.desktop.screen import Geometry
from tracer_cli.errors import ActionError, DisplayError, Interrupted
from tracer_cli.plan import BaseStep, Click, DoubleClick, Drag, Hotkey, RightClick, Scroll, Type, Wait

MODIFIERS = ("ctrl", "shift", "alt", "win", "command", "option")


class Actuator(Protocol):
    def size(self) -> tuple[int, int]: ...

    def position(self) -> tuple[int, int]:
        """Where the pointer is, in input coordinates."""

    def safe_point(self, x: int, y: int) -> tuple[int, int]: ...

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None: ...

    def type_text(self, text: str) -> None: ...

    def hotkey(self, keys: list[str]) -> None: ...

    def scroll(self, x: int, y: int, clicks: int) -> None: ...

    def drag(self, x: int, y: int, x2: int, y2: int) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def release_all(self) -> None: ...


@dataclass
class Executed:
    """What was done for a step: the input-space points (how it went is the agent's Outcome)."""

    points: list[tuple[int, int]] = field(default_factory=list)


def target_points(step: BaseStep, geometry: Geometry, actuator: Actuator) -> list[tuple[int, int]]:
    """Where the step's points land, in the actuator's coordinates. Refuses any point outside
    the monitor the user chose."""
    if isinstance(step, Scroll) and not step.points():
        return [_pointer_on(geometry, actuator)]
    points = []
    for x, y in step.points():
        dx, dy = geometry.to_desktop(x, y)
        if not geometry.monitor.contains(dx, dy):  # defence in depth: to_desktop clamps already
            raise ActionError(f"point ({x},{y}) falls outside monitor {geometry.index}")
        points.append(actuator.safe_point(*geometry.to_input(x, y)))
    return points


def _pointer_on(geometry: Geometry, actuator: Actuator) -> tuple[int, int]:
    """The pointer's position, for a scroll without a point; refused when the pointer is not on
    the monitor the user chose (tracer never acts elsewhere)."""
    x, y = actuator.position()
    sx, sy = geometry.input_scale
    if not geometry.monitor.contains(x * sx, y * sy):
        raise ActionError(f"the scroll has no point and the pointer ({x},{y}) is not on monitor "
                          f"{geometry.index}; the model must name where to scroll")
    return x, y


def execute(step: BaseStep, geometry: Geometry, actuator: Actuator,
            points: list[tuple[int, int]] | None = None) -> Executed:
    """Run one step. ``points``: its target_points when the caller has them already."""
    if points is None:
        points = target_points(step, geometry, actuator)
    match step:
        case Click():
            actuator.click(*points[0])
        case DoubleClick():
            actuator.click(*points[0], clicks=2)
        case RightClick():
            actuator.click(*points[0], button="right")
        case Type(text=text):
            actuator.type_text(text)
        case Hotkey(keys=keys):
            actuator.hotkey(list(keys))
        case Scroll(dy=dy):
            actuator.scroll(*points[0], dy)
        case Drag():
            actuator.drag(*points[0], *points[1])
        case Wait(seconds=seconds):
            actuator.sleep(seconds)
        case _:
            raise ActionError(f"{step.describe()} is not an action that can be executed")
    return Executed(points)


class RecordingActuator:
    """Does nothing but remember what it was asked to do (dry runs and unit tests)."""

    def __init__(self, size: tuple[int, int] = (1920, 1080),
                 pointer: tuple[int, int] = (960, 540)) -> None:
        self.pointer = pointer
        self._size = size
        self.calls: list[tuple] = []

    def size(self) -> tuple[int, int]:
        return self._size

    def position(self) -> tuple[int, int]:
        return self.pointer

    def safe_point(self, x: int, y: int) -> tuple[int, int]:
        return x, y

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        self.calls.append(("click", x, y, button, clicks))

    def type_text(self, text: str) -> None:
        self.calls.append(("type", text))

    def hotkey(self, keys: list[str]) -> None:
        self.calls.append(("hotkey", *keys))

    def scroll(self, x: int, y: int, clicks: int) -> None:
        self.calls.append(("scroll", x, y, clicks))

    def drag(self, x: int, y: int, x2: int, y2: int) -> None:
        self.calls.append(("drag", x, y, x2, y2))

    def sleep(self, seconds: float) -> None:
        self.calls.append(("sleep", seconds))

    def release_all(self) -> None:
        self.calls.append(("release_all",))


def require_xtest() -> None:
    """On X11, input goes through the XTEST extension: without it pyautogui fails later with a
    KeyError. Say so up front."""
    if not sys.platform.startswith("linux"):
        return
    from Xlib import display as xdisplay
    from Xlib.error import DisplayError as XDisplayError

    try:
        conn = xdisplay.Display()
    except XDisplayError as exc:
        raise DisplayError(f"cannot open the display for input: {exc}",
                           "check DISPLAY and that the X server accepts this user") from None
    try:
        if not conn.has_extension("XTEST"):
            raise DisplayError("the X server has no XTEST extension, so tracer cannot send input",
                               "start it with XTEST enabled (Xvfb: +extension XTEST)")
    finally:
        conn.close()


class PyAutoGUIActuator:
    """The real mouse and keyboard. The corner fail-safe stays on; ``stop`` aborts typing.

    ``forbidden``: chords (``killswitch.key_names``) never to press, the kill and pause hotkeys'.
    ``acting`` is true while input is being sent: a signal handler must not raise then (a key
    could stay down); a stop requested meanwhile takes effect as soon as that input is sent.
    ``pause``: a pause requested meanwhile raises ``Paused`` before the next input (the next
    click, chord or character), so nothing is ever held down by a pause."""

    def __init__(self, stop: threading.Event | None = None, type_interval: float = 0.01,
                 forbidden: Iterable[frozenset[str]] | dict[frozenset[str], str] = (),
                 pause: PauseRequest | None = None) -> None:
        require_xtest()
        import pyautogui

        pyautogui.FAILSAFE = True
        pyautogui.PAUSE = 0.02
        self._gui = pyautogui
        self._stop = stop or threading.Event()
        self._interval = type_interval
        self._pressed: list[str] = []
        self._held_button: str | None = None
        # each chord never to press, with what it is (a plain list: kill hotkeys)
        self._forbidden = dict(forbidden) if isinstance(forbidden, dict) else \
            dict.fromkeys(forbidden, "kill hotkey")
        self.pause = pause
        self.acting = False

    @contextmanager
    def _acting(self, typed: int = 0, of: int = 0) -> Iterator[None]:
        """Check for a stop before and after, and for a pause before (``typed`` of ``of``
        characters of a text are sent so far); turn pyautogui's corner fail-safe into our
        Interrupted."""
        if self._stop.is_set():
            raise Interrupted(stop_reason(self._stop))
        if self.pause is not None and self.pause.requested.is_set():
            raise Paused(typed, of)
        self.acting = True
        try:
            yield
        except self._gui.FailSafeException:
            raise Interrupted("stopped by the fail-safe: the mouse is in a corner of the screen") from None
        finally:
            self.acting = False
        if self._stop.is_set():
            raise Interrupted(stop_reason(self._stop))

    def size(self) -> tuple[int, int]:
        w, h = self._gui.size()
        return int(w), int(h)

    def position(self) -> tuple[int, int]:
        x, y = self._gui.position()
        return int(x), int(y)

    def safe_point(self, x: int, y: int) -> tuple[int, int]:
        """Never park the pointer on a fail-safe corner pixel ourselves: the next action would
        take it for the user's stop gesture. One pixel inwards instead."""
        w, h = self.size()
        if x in (0, w - 1) and y in (0, h - 1):
            return (1 if x == 0 else w - 2), (1 if y == 0 else h - 2)
        return x, y

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        x, y = self.safe_point(x, y)
        with self._acting():
            # pyautogui sleeps `interval` after every click, the last one too: only pause between.
            self._gui.click(x, y, clicks=clicks, interval=0.05 if clicks > 1 else 0.0, button=button)

    def _check_keys(self, keys: list[str]) -> None:
        """Refuse keys this keyboard cannot produce before pressing anything: pyautogui would
        skip them silently (or, for a key mapped to keycode 0, wedge the X connection)."""
        x11 = getattr(self._gui, "_pyautogui_x11", None)
        if x11 is None:  # other platforms map keys through their own tables
            return
        names = {"\n": "enter", "\t": "tab"}
        missing = sorted({k for k in keys if not x11.keyboardMapping.get(names.get(k, k))})
        if missing:
            raise ActionError(f"cannot type {', '.join(repr(k) for k in missing)}: not on this "
                              "keyboard layout")

    def type_text(self, text: str) -> None:
        self._check_keys(list(text))
        for index, ch in enumerate(text):  # one key at a time: a stop or pause works mid-text
            with self._acting(index, len(text)):
                if ch == "\n":
                    self._gui.press("enter")
                elif ch == "\t":
                    self._gui.press("tab")
                else:
                    self._gui.write(ch)
            if self._interval:
                self._stop.wait(self._interval)

    def hotkey(self, keys: list[str]) -> None:
        self._check_keys(keys)
        for chord, name in self._forbidden.items():
            if chord <= key_names(keys):
                raise ActionError(f"refused to press {'+'.join(keys)}: that is tracer's {name}")
        with self._acting():
            for key in keys:
                self._gui.keyDown(key)
                self._pressed.append(key)
            for key in reversed(keys):
                self._gui.keyUp(key)
                self._pressed.remove(key)

    def scroll(self, x: int, y: int, clicks: int) -> None:
        x, y = self.safe_point(x, y)
        with self._acting():
            self._gui.scroll(clicks, x=x, y=y)

    def drag(self, x: int, y: int, x2: int, y2: int) -> None:
        (x, y), (x2, y2) = self.safe_point(x, y), self.safe_point(x2, y2)
        with self._acting():
            self._gui.moveTo(x, y)
            self._held_button = "left"
            self._gui.dragTo(x2, y2, duration=0.3, button="left")
            self._held_button = None

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Interrupted(stop_reason(self._stop))

    def release_all(self) -> None:
        """Let go of every key and button we may hold (after an interrupt, an error).

        Releasing a key that is up is harmless; a mouse button is released only if we held it.
        The fail-safe is off meanwhile: the mouse may still be in the corner that stopped us."""
        failsafe, self._gui.FAILSAFE = self._gui.FAILSAFE, False
        self.acting = True
        try:
            for key in [*reversed(self._pressed), "shift", "ctrl", "alt"]:
                self._gui.keyUp(key, _pause=False)
            self._pressed = []
            if self._held_button:
                self._gui.mouseUp(button=self._held_button, _pause=False)
                self._held_button = None
        finally:
            self._gui.FAILSAFE = failsafe
            self.acting = False
