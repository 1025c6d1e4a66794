"""X11: capture through mss, input through XTEST, the kill and pause hotkeys and `tracer record`
through pynput (the RECORD extension), on the display the platform names (``--display``, a
sandbox's, or DISPLAY). A sandbox's display is reached with the sandbox's own X cookie."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import ESSENTIAL_KEYS, PLATFORMS, Check
from tracer_cli.errors import DisplayError, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.elements import Elements
    from tracer_cli.desktop.killswitch import KillSwitch, PauseRequest, PauseSwitch
    from tracer_cli.desktop.platforms.mss_screen import MssScreen
    from tracer_cli.desktop.platforms.xtest import XTestInput

FIX_CONNECT = ("start the X server or choose a running one with --display :N; if it runs, check "
               "that this user may use it (XAUTHORITY, xhost)")


@contextlib.contextmanager
def x_env(display: str, xauthority: str | None) -> Iterator[None]:
    """DISPLAY (and XAUTHORITY) set to this display while a library connects to it (mss, pynput
    and python-xlib read them at connection time)."""
    wanted = {"DISPLAY": display, **({"XAUTHORITY": xauthority} if xauthority else {})}
    previous = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@PLATFORMS.register("x11")
class X11Platform:
    name = "x11"

    def __init__(self, display: str = "", xauthority: str | None = None) -> None:
        self.display = display or os.environ.get("DISPLAY", "")
        if not self.display:
            raise DisplayError("no display: DISPLAY is not set",
                               "run tracer inside your desktop session, or choose one with "
                               "--display :N (e.g. an Xvfb)")
        if xauthority is None:
            from tracer_cli.desktop.sandbox import find

            box = find(self.display)
            xauthority = box.xauthority if box is not None else None
        self.xauthority = xauthority

    def describe(self) -> str:
        return f"X11 display {self.display}"

    def target(self) -> str:
        return f"x11 {self.display}"

    def connecting(self) -> contextlib.AbstractContextManager[None]:
        return x_env(self.display, self.xauthority)

    def connect(self) -> Any:
        """A python-xlib connection to this display (a DisplayError saying why not)."""
        import Xlib.display

        try:
            with self.connecting():
                return Xlib.display.Display(self.display)
        except Exception as exc:  # DisplayNameError, DisplayConnectionError, an xauth refusal
            raise DisplayError(f"cannot connect to X display {self.display}: {exc}",
                               FIX_CONNECT) from None

    def adopt(self) -> None:
        """Make this display the process's DISPLAY (pynput, which listens for the hotkeys,
        connects to whatever DISPLAY says)."""
        os.environ["DISPLAY"] = self.display
        if self.xauthority:
            os.environ["XAUTHORITY"] = self.xauthority

    # -- seeing and acting ----------------------------------------------------------------------

    def open_screen(self, monitor: int = 1, input_size: tuple[int, int] | None = None) -> MssScreen:
        from tracer_cli.desktop.platforms.mss_screen import MssScreen

        return MssScreen(monitor, input_size, self.display, self.connecting,
                         where=f"the X display {self.display}", desktop=self.describe())

    def open_input(self) -> XTestInput:
        from tracer_cli.desktop.platforms.xtest import XTestInput

        conn = self.connect()
        if not conn.has_extension("XTEST"):
            conn.close()
            raise DisplayError("the X server has no XTEST extension, so tracer cannot send input",
                               "start it with XTEST enabled (Xvfb: +extension XTEST)")
        return XTestInput(conn, self.display)

    def elements(self) -> Elements:
        """The accessibility tree (AT-SPI) of this session, or NoElements saying why not. Not
        for a sandbox's display: the session's accessibility bus is the user's desktop's."""
        from tracer_cli.desktop.elements import NoElements
        from tracer_cli.desktop.platforms.atspi import open_atspi

        if self.xauthority is not None:
            return NoElements(f"the sandbox display {self.display} has no accessibility bus "
                              "of its own")
        top = TopWindow(self)
        elements = open_atspi(top)
        if elements.available:
            top.connect()  # now, not within the first lookup's deadline (tens of ms)
        return elements

    # -- the user's switches and listening ------------------------------------------------------

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None = None) -> KillSwitch:
        from tracer_cli.desktop.killswitch import KillSwitch

        self.adopt()
        return KillSwitch(hotkey, stop, wake)

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> PauseSwitch:
        from tracer_cli.desktop.killswitch import PauseSwitch

        self.adopt()
        return PauseSwitch(hotkey, pause, on_toggle)

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        from tracer_cli.desktop.platforms.pynput_listen import PynputListening

        self.adopt()
        self._check_record()
        return PynputListening(on_button, on_scroll, on_key,
                               "check that the X server has the RECORD extension")

    def _check_record(self) -> None:
        conn = self.connect()
        try:
            record = conn.has_extension("RECORD")
        finally:
            conn.close()
        if not record:
            raise DisplayError("cannot record: the X server lacks the RECORD extension",
                               "enable it (Xorg/Xvfb: +extension RECORD)")

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        """A thread waits on a connection of its own: the server closing it is the display
        going away."""
        conn = self.connect()
        wake_read, wake_write = os.pipe()

        def run() -> None:
            try:
                while True:
                    ready, _, _ = select.select([conn.fileno(), wake_read], [], [])
                    if wake_read in ready:
                        return
                    try:
                        conn.pending_events()  # reads what arrived: end of file raises
                    except Exception:
                        lost(f"the X display {self.display} went away (its server ended)")
                        return
            finally:
                with contextlib.suppress(Exception):
                    conn.close()
                os.close(wake_read)

        threading.Thread(target=run, name=f"watch-{self.display}", daemon=True).start()

        def stop() -> None:
            with contextlib.suppress(OSError):
                os.write(wake_write, b"x")
                os.close(wake_write)

        return stop

    # -- doctor ---------------------------------------------------------------------------------

    def checks(self, monitor: int) -> list[Check]:
        display = self._check_display()
        if not display.ok:
            return [display, Check("screen capture", None, "needs a display"),
                    Check("input control", None, "needs a display")]
        capture, desktop = self._check_capture(monitor)
        return [display, capture, self._check_input(desktop)]

    def _check_display(self) -> Check:
        name = "display"
        try:
            conn = self.connect()
        except DisplayError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            info, screen = conn.display.info, conn.screen()
            detail = (f"X11, DISPLAY={self.display}: {info.vendor} X server, screen "
                      f"{screen.width_in_pixels}x{screen.height_in_pixels}")
        finally:
            conn.close()
        if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
            detail += ("; chosen in a Wayland session: tracer sees and controls X (XWayland) "
                       "windows only (without --platform x11 it would use the Wayland desktop)")
        return Check(name, True, detail)

    def _check_capture(self, monitor: int) -> tuple[Check, tuple[int, int] | None]:
        name = "screen capture"
        from tracer_cli.desktop.platforms.mss_screen import listing, open_mss

        try:
            sct = open_mss(self.display, self.connecting, f"the X display {self.display}")
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint), None
        try:
            monitors = sct.monitors
            desktop = (monitors[0]["width"], monitors[0]["height"])
            if monitor >= len(monitors):
                count = len(monitors) - 1
                return Check(name, False, f"monitor {monitor} does not exist; monitors: "
                             f"{listing(monitors)}", f"choose --monitor from 1 to {count}"), desktop
            start = time.perf_counter()
            shot = sct.grab(monitors[monitor])
            ms = (time.perf_counter() - start) * 1000
        except Exception as exc:
            return Check(name, False, f"cannot grab monitor {monitor}: {exc}",
                         "check that the X server allows screen capture"), None
        finally:
            sct.close()
        return Check(name, True, f"monitor {monitor} grabbed ({shot.width}x{shot.height}, "
                     f"{ms:.0f} ms); monitors: {listing(monitors)}"), desktop

    def _check_input(self, desktop: tuple[int, int] | None) -> Check:
        name = "input control"
        try:
            keyboard = self.open_input()
        except DisplayError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            width, height = keyboard.size()
            missing = keyboard.missing_keys(list(ESSENTIAL_KEYS))
            keys = len(keyboard._codes)
        finally:
            keyboard.close()
        detail = f"XTEST input on {width}x{height}"
        if desktop:
            from tracer_cli.desktop.screen import Rect, input_scale

            sx, sy = input_scale(Rect(0, 0, *desktop), (width, height))
            detail += (", as the capture sees it (input scale 1)" if (sx, sy) == (1.0, 1.0) else
                       f", the capture {desktop[0]}x{desktop[1]}: input scale {sx:.3g}x{sy:.3g}")
        if missing:
            return Check(name, False, detail + f"; the keyboard map lacks {', '.join(missing)}",
                         "set a keyboard layout on this display, e.g. `setxkbmap us`")
        return Check(name, True, detail + f"; keyboard map: {keys} keysyms; characters outside "
                     "it are typed on spare key codes")


class TopWindow:
    """Which top-level window is on top at a point: the X server's child of the root window
    there (one TranslateCoordinates and one GetGeometry, a fraction of a millisecond), so the
    accessibility tree is asked about the window that is really seen. Connects at first use
    (or at ``connect()``)."""

    def __init__(self, platform: X11Platform) -> None:
        self.platform = platform
        self.conn: Any = None
        self.failed = False

    def connect(self) -> None:
        """Connect to the X server (done at first use otherwise)."""
        if self.conn is None and not self.failed:
            try:
                self.conn = self.platform.connect()
            except Exception:  # no display: the tree alone decides
                self.failed = True

    def __call__(self, x: int, y: int) -> tuple[int, int, int, int] | None:
        self.connect()
        if self.failed:
            return None
        try:
            root = self.conn.screen().root
            child = root.translate_coords(root, x, y).child
            if not child:
                return None
            geometry = child.get_geometry()
            return (geometry.x, geometry.y, geometry.x + geometry.width,
                    geometry.y + geometry.height)
        except Exception:  # the display went away: the tree alone decides
            self.failed = True
            return None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
