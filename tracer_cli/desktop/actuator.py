"""Acting on the desktop: mouse and keyboard primitives, real (a platform's input) or recorded.

``execute`` turns one plan step into primitives on screen coordinates; it refuses any point that
falls outside the monitor the user chose.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tracer_cli.desktop.killswitch import Paused, PauseRequest, key_names, stop_reason
from tracer_cli.desktop.platform import ModifiersHeld
from tracer_cli.desktop.screen import Geometry
from tracer_cli.errors import ActionError, Interrupted, TracerError
from tracer_cli.plan import BaseStep, Click, DoubleClick, Drag, Hotkey, RightClick, Scroll, Type, Wait

if TYPE_CHECKING:
    from tracer_cli.desktop.platform import Input

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


HOLD_OFF_LIMIT = 10.0  # seconds typing waits for the user to let go of a modifier

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _shielded(method: _Method) -> _Method:
    """While the method runs, ``acting`` is true: a signal must not raise inside it. Every call
    into a desktop's input is one: python-xlib, say, takes its locks without try/finally, and an
    exception raised between its acquire and release leaves the lock held, so that letting go
    of the keys afterwards waits forever. A stop requested meanwhile is seen at the method's
    next check (between two keys) or at its end."""

    @functools.wraps(method)
    def shielded(self: LiveActuator, *args: Any, **kwargs: Any) -> Any:
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1

    return shielded  # type: ignore[return-value]


class LiveActuator:
    """The real mouse and keyboard: a platform's ``Input`` with tracer's safety around it.

    ``stop`` aborts between two keys; ``forbidden``: chords (``killswitch.key_names``) never to
    press, the kill and pause hotkeys'. ``acting`` is true while any method runs: a signal
    handler must not raise then (a key could stay down, a library's lock stay held); a stop
    requested meanwhile takes effect before the next key, or as soon as that input is sent.
    ``pause``: a pause requested meanwhile raises ``Paused`` before the next input (the next
    click, chord or character), so nothing is ever held down by a pause. Typing holds off
    while the user holds a modifier (pressing a chord, say): a character typed then would
    become a shortcut; so every character typed is known."""

    def __init__(self, input: Input, stop: threading.Event | None = None,
                 type_interval: float = 0.01,
                 forbidden: Iterable[frozenset[str]] | dict[frozenset[str], str] = (),
                 pause: PauseRequest | None = None) -> None:
        self.input = input
        self._stop = stop or threading.Event()
        self._interval = type_interval
        self._pressed: list[str] = []
        self._held_button: str | None = None
        # each chord never to press, with what it is (a plain list: kill hotkeys)
        self._forbidden = dict(forbidden) if isinstance(forbidden, dict) else \
            dict.fromkeys(forbidden, "kill hotkey")
        self.pause = pause
        self._depth = 0  # methods of this actuator running now (see _shielded)

    @property
    def acting(self) -> bool:
        return self._depth > 0

    @contextmanager
    def _acting(self, typed: int = 0, of: int = 0) -> Iterator[None]:
        """Check for a stop before and after, and for a pause before (``typed`` of ``of``
        characters of a text are sent so far)."""
        self._check(typed, of)
        yield
        if self._stop.is_set():
            raise Interrupted(stop_reason(self._stop))

    def _check(self, typed: int = 0, of: int = 0) -> None:
        if self._stop.is_set():
            raise Interrupted(stop_reason(self._stop))
        if self.pause is not None and self.pause.requested.is_set():
            raise Paused(typed, of)

    @_shielded
    def size(self) -> tuple[int, int]:
        return self.input.size()

    @_shielded
    def position(self) -> tuple[int, int]:
        where = self.input.position()
        if where is None:
            raise ActionError("this desktop does not tell where the pointer is; the model must "
                              "name where to act")
        return where

    @_shielded
    def safe_point(self, x: int, y: int) -> tuple[int, int]:
        """Never park the pointer on a fail-safe corner pixel ourselves: the next action would
        take it for the user's stop gesture. One pixel inwards instead."""
        w, h = self.size()
        if x in (0, w - 1) and y in (0, h - 1):
            return (1 if x == 0 else w - 2), (1 if y == 0 else h - 2)
        return x, y

    @_shielded
    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        x, y = self.safe_point(x, y)
        with self._acting():
            self.input.click(x, y, button, clicks)

    def _check_keys(self, keys: list[str]) -> None:
        """Refuse keys this keyboard cannot press before pressing anything."""
        missing = self.input.missing_keys(keys)
        if missing:
            raise ActionError(f"cannot press {', '.join(repr(k) for k in missing)}: not on this "
                              "keyboard layout")

    def _hold_off(self, typed: int, of: int) -> None:
        """Wait while the user holds a modifier (stop and pause still work meanwhile)."""
        waited = 0.0
        while held := self.input.user_modifiers():
            self._check(typed, of)
            if waited >= HOLD_OFF_LIMIT:
                raise ActionError(f"{'+'.join(sorted(held))} has been held for "
                                  f"{HOLD_OFF_LIMIT:g} s: a character typed now would be a "
                                  "shortcut; let go of it")
            self._stop.wait(0.02)
            waited += 0.02

    @_shielded
    def type_text(self, text: str) -> None:
        untypable = self.input.untypable(text)
        if untypable:
            raise ActionError(f"cannot type {', '.join(repr(c) for c in untypable)}: this "
                              "desktop's keyboard cannot produce "
                              f"{'it' if len(untypable) == 1 else 'them'}")
        self.input.prepare_text(text)
        for index, ch in enumerate(text):  # one key at a time: a stop or pause works mid-text
            while True:
                self._hold_off(index, len(text))
                try:
                    with self._acting(index, len(text)):
                        self.input.type_char(ch)
                    break
                except ModifiersHeld:  # pressed between the look and the key: look again
                    continue
            if self._interval:
                self._stop.wait(self._interval)

    @_shielded
    def hotkey(self, keys: list[str]) -> None:
        self._check_keys(keys)
        for chord, name in self._forbidden.items():
            if chord <= key_names(keys):
                raise ActionError(f"refused to press {'+'.join(keys)}: that is tracer's {name}")
        with self._acting():
            for key in keys:
                self.input.key(key, True)
                self._pressed.append(key)
            for key in reversed(keys):
                self.input.key(key, False)
                self._pressed.remove(key)

    @_shielded
    def scroll(self, x: int, y: int, clicks: int) -> None:
        x, y = self.safe_point(x, y)
        with self._acting():
            self.input.scroll(x, y, clicks)

    @_shielded
    def drag(self, x: int, y: int, x2: int, y2: int, seconds: float = 0.3, moves: int = 12) -> None:
        """Press at the start, move there in ``moves`` steps over ``seconds``, let go."""
        (x, y), (x2, y2) = self.safe_point(x, y), self.safe_point(x2, y2)
        with self._acting():
            self.input.move(x, y)
            self.input.button("left", True)
            self._held_button = "left"
            for n in range(1, moves + 1):
                time.sleep(seconds / moves)
                self.input.move(round(x + (x2 - x) * n / moves), round(y + (y2 - y) * n / moves))
            self.input.button("left", False)
            self._held_button = None

    def sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Interrupted(stop_reason(self._stop))

    @_shielded
    def release_all(self) -> None:
        """Let go of every key and button we may hold (after an interrupt, an error)."""
        try:
            self.input.release([*reversed(self._pressed), "shift", "ctrl", "alt"])
            self._pressed = []
            if self._held_button:
                self.input.button(self._held_button, False)
                self._held_button = None
        except TracerError:
            pass  # the desktop went away: nothing is held on it any more

    @_shielded
    def close(self) -> None:
        self.input.close()
