"""What the wlroots and KDE platforms share: both speak to their compositor over a Wayland
connection of tracer's own (wlr_session), whose outputs are placed in desktop pixels.

``WaylandPlatform``: the display's socket and the session on it, a monitor's screen, the watch on
the socket, no `tracer record`, and doctor's display, capture and input rows. ``WaylandInput``:
the pointer's part of an Input that takes desktop pixels and sends layout units through the
output a point lies on. A subclass says what differs: how its desktop is named, how a monitor is
captured, how a point and a button reach the compositor, and what its doctor's rows report.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from tracer_cli.desktop.platform import ESSENTIAL_KEYS, Check
from tracer_cli.errors import ActionError, DisplayError, TracerError

BUTTONS = {"left": 0x110, "right": 0x111, "middle": 0x112}  # evdev BTN_LEFT, BTN_RIGHT, BTN_MIDDLE
PACE = 0.02  # seconds after a click or a turn of the wheel: the program takes it in
NEW_DEVICE_GRACE = 0.1  # seconds before the first event when the seat had no such device


def listing(placed: list[Any]) -> str:
    """The monitors as a choice for --monitor: ``1: HEADLESS-1 1920x1080+0+0 scale 1, ...``."""
    return ", ".join(f"{p.index}: {p.output.name or 'unnamed'} {p.rect.width}x{p.rect.height}"
                     f"+{p.rect.left}+{p.rect.top} scale {p.output.exact_scale:g}"
                     for p in placed) or "none"


class WaylandPlatform:
    """A desktop reached through its Wayland socket (``display``: a name in XDG_RUNTIME_DIR, or
    an absolute path). Screens count desktop pixels: their input scale is 1."""

    name: str
    desktop: str  # the desktop in messages: "KDE Plasma", "sway"
    server: str  # the compositor, when it went away: "KWin (KDE Plasma)"
    captured_through: str  # doctor's capture row: "wlr-screencopy"
    keyboard_name: str  # doctor's input row, when keys are missing: "the virtual keyboard"

    def __init__(self, display: str, env: dict[str, str], fix: str) -> None:
        self.display = display or env.get("WAYLAND_DISPLAY", "")
        if not self.display:
            raise DisplayError("no Wayland display: WAYLAND_DISPLAY is not set", fix)
        self.runtime_dir = env.get("XDG_RUNTIME_DIR", "")
        self.env = env

    def describe(self) -> str:
        return f"{self.desktop} (Wayland) {self.display}"

    def target(self) -> str:
        return f"{self.name} {self.socket()}"

    def socket(self) -> str:
        if os.path.isabs(self.display):
            return self.display
        return os.path.join(self.runtime_dir, self.display)

    def session(self) -> Any:
        """This process's session on the socket (wlr_session.WlrSession or a subclass)."""
        try:
            return self._open_session(self.socket())
        except ImportError as exc:
            raise DisplayError(f"tracer needs pywayland on {self.desktop}: {exc}",
                               "pip install 'pywayland>=0.4,<0.5'") from None
        except OSError as exc:  # the generated protocol bindings could not be written
            raise DisplayError(f"cannot prepare the Wayland protocols: {exc}",
                               "set TRACER_HOME to a folder this user can write") from None

    def _open_session(self, socket: str) -> Any:
        raise NotImplementedError

    # -- seeing and acting ----------------------------------------------------------------------

    def open_screen(self, monitor: int = 1, input_size: tuple[int, int] | None = None) -> Any:
        """Monitor ``monitor`` (outputs left to right, then top to bottom). ``input_size`` is
        not needed: the input takes desktop pixels."""
        from tracer_cli.desktop.screen import Geometry

        session = self.session()
        placed = session.layout()
        if not 1 <= monitor <= len(placed):
            raise DisplayError(f"monitor {monitor} does not exist; monitors: {listing(placed)}",
                               f"choose --monitor from 1 to {len(placed)}")
        where = placed[monitor - 1]
        return self._screen(session, where.output,
                            Geometry(where.rect, monitor, (1.0, 1.0), self.describe()))

    def _screen(self, session: Any, output: Any, geometry: Any) -> Any:
        """The Screen of ``output``, placed at ``geometry``."""
        raise NotImplementedError

    # -- listening ------------------------------------------------------------------------------

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        raise DisplayError(f"tracer record cannot listen on {self.desktop}: a Wayland program "
                           "cannot hear the mouse and keyboard of the whole desktop",
                           "record in a sandbox display (tracer sandbox start, then tracer record "
                           "--display :N) or in an X11 session, or write the macro by hand")

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        from tracer_cli.desktop.platforms.wlr_session import watch_socket

        return watch_socket(self.socket(), self.display, lambda: lost(
            f"{self.server} at {self.display} went away (it ended)"))

    # -- doctor ---------------------------------------------------------------------------------

    def checks(self, monitor: int) -> list[Check]:
        try:
            session = self.session()
        except TracerError as exc:
            return [Check("display", False, exc.message, exc.hint), *self._more_checks(),
                    Check("screen capture", None, "needs a display"),
                    Check("input control", None, "needs a display")]
        return [Check("display", True, self._display_detail(session)), *self._more_checks(),
                self._check_capture(monitor, session.layout()), self._check_input()]

    def _display_detail(self, session: Any) -> str:
        """What the display row says of the compositor and what it offers."""
        raise NotImplementedError

    def _more_checks(self) -> list[Check]:
        """Rows of this desktop's own, after the display's."""
        return []

    def _check_capture(self, monitor: int, placed: list[Any]) -> Check:
        name = "screen capture"
        if not 1 <= monitor <= len(placed):
            return Check(name, False, f"monitor {monitor} does not exist; monitors: "
                         f"{listing(placed)}", f"choose --monitor from 1 to {len(placed)}")
        try:
            screen = self.open_screen(monitor)
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            started = time.perf_counter()
            shot = screen.capture()
            ms = (time.perf_counter() - started) * 1000
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        finally:
            screen.close()
        return Check(name, True, f"monitor {monitor} grabbed through {self.captured_through} "
                     f"({shot.image.width}x{shot.image.height}, {ms:.0f} ms); monitors: "
                     f"{listing(placed)}")

    def open_input(self) -> Any:
        raise NotImplementedError

    def _check_input(self) -> Check:
        name = "input control"
        try:
            keyboard = self.open_input()
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            width, height = keyboard.size()
            missing = keyboard.missing_keys(list(ESSENTIAL_KEYS))
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        finally:
            keyboard.close()
        if missing:
            return Check(name, False, f"{self.keyboard_name} lacks {', '.join(missing)}",
                         "report it with this output")
        return Check(name, True, self._input_detail(keyboard, width, height))

    def _input_detail(self, keyboard: Any, width: int, height: int) -> str:
        """What the input row says of a working input."""
        raise NotImplementedError


def grace_until(since: float, had: int) -> float:
    """When the first event may be sent, given the seat's capabilities ``had`` before our
    devices were made at ``since``. A seat without a keyboard or pointer before ours (a
    headless one): programs already running create theirs only once told of ours, and an event
    before that is lost to them. Nothing says when they have, so the first event waits a moment,
    once."""
    return since + NEW_DEVICE_GRACE if had & 3 != 3 else 0.0


class WaylandInput:
    """The pointer's part of an Input on ``session``'s seat (wlr_session): a subclass sends a
    point (``move``) and a button (``_button``)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._held_buttons: set[int] = set()
        self._closed = False
        self._grace_until = 0.0  # set by the subclass: grace_until(...)

    def _grace(self) -> None:
        if self._grace_until:
            left, self._grace_until = self._grace_until - time.monotonic(), 0.0
            if left > 0:
                time.sleep(left)

    # -- where --------------------------------------------------------------------------------

    def size(self) -> tuple[int, int]:
        """The desktop's bounding box in desktop pixels."""
        placed = self.session.layout()
        if not placed:
            return 0, 0
        return (max(p.rect.left + p.rect.width for p in placed),
                max(p.rect.top + p.rect.height for p in placed))

    def position(self) -> None:
        return None  # no Wayland client can read where the pointer is

    def _layout_point(self, x: float, y: float) -> tuple[float, float]:
        """A desktop pixel in layout units, through the output it lies on."""
        for placed in self.session.layout():
            rect, output = placed.rect, placed.output
            if rect.contains(x, y):
                scale = output.exact_scale
                return (output.logical[0] + (x - rect.left) / scale,
                        output.logical[1] + (y - rect.top) / scale)
        raise ActionError(f"point ({x},{y}) is on no monitor of this desktop")

    # -- the pointer --------------------------------------------------------------------------

    def move(self, x: int, y: int) -> None:
        raise NotImplementedError

    def _button(self, code: int, down: bool) -> None:
        """Press or let go of one button (the caller holds the session's lock and flushes)."""
        raise NotImplementedError

    @staticmethod
    def _button_code(name: str) -> int:
        if name not in BUTTONS:
            raise ActionError(f"unknown mouse button {name!r} (left, right or middle)")
        return BUTTONS[name]

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        code = self._button_code(button)
        self.move(x, y)
        with self.session.lock:
            for n in range(clicks):
                if n:
                    self.session.flush()
                    time.sleep(0.05)
                self._button(code, True)
                self._button(code, False)
            self.session.flush()
        time.sleep(PACE)

    def button(self, name: str, down: bool) -> None:
        code = self._button_code(name)
        with self.session.lock:
            self._grace()
            self._button(code, down)
            self.session.flush()

    def user_modifiers(self) -> None:
        return None  # another keyboard's state is not a Wayland client's to read
