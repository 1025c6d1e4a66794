"""KDE Plasma on Wayland (KWin): capture through org.kde.KWin.ScreenShot2 (D-Bus), input through
org_kde_kwin_fake_input (Wayland, pywayland), the kill and pause hotkeys as KDE global shortcuts
(KGlobalAccel, D-Bus), and the window list through KWin's scripting.

KWin lets only authorised programs take screenshots and send input: `tracer setup kde` writes
the desktop entry that authorises the Python tracer runs on (kde_setup), and doctor checks it.

Screens count desktop pixels (physical: what a screenshot has), so their input scale is 1 and
the Input turns each point into KWin's logical coordinates through the output it lies on.
``tracer record`` cannot work here: a Wayland client cannot hear global input.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import PLATFORMS, Check
from tracer_cli.errors import DisplayError, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.platforms.dbus_client import Bus
    from tracer_cli.desktop.platforms.kde_input import KdeInput
    from tracer_cli.desktop.platforms.kde_screen import KdeScreen
    from tracer_cli.desktop.platforms.kde_session import KdeSession
    from tracer_cli.desktop.platforms.kde_switch import KdeKillSwitch, KdePauseSwitch

ESSENTIAL_KEYS = ("a", "z", "0", "9", "space", "enter", "tab", "backspace", "escape", "shift",
                  "ctrl", "alt")


@PLATFORMS.register("kde")
class KdePlatform:
    name = "kde"

    def __init__(self, display: str = "", env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        self.display = display or env.get("WAYLAND_DISPLAY", "")
        if not self.display:
            raise DisplayError("no Wayland display: WAYLAND_DISPLAY is not set",
                               "run tracer inside your Plasma (Wayland) session, or name KWin's "
                               "socket with --display (e.g. wayland-0, or an absolute path)")
        self.runtime_dir = env.get("XDG_RUNTIME_DIR", "")
        self.bus_address = env.get("DBUS_SESSION_BUS_ADDRESS", "") or "SESSION"
        self.env = env

    def describe(self) -> str:
        return f"KDE Plasma (Wayland) {self.display}"

    def target(self) -> str:
        return f"kde {self.socket()}"

    def socket(self) -> str:
        if os.path.isabs(self.display):
            return self.display
        return os.path.join(self.runtime_dir, self.display)

    def session(self) -> KdeSession:
        from tracer_cli.desktop.platforms.kde_session import session

        try:
            return session(self.socket())
        except ImportError as exc:
            raise DisplayError(f"tracer needs pywayland on KDE Plasma: {exc}",
                               "pip install 'pywayland>=0.4,<0.5'") from None
        except OSError as exc:  # the generated protocol bindings could not be written
            raise DisplayError(f"cannot prepare the Wayland protocols: {exc}",
                               "set TRACER_HOME to a folder this user can write") from None

    def bus(self) -> Bus:
        from tracer_cli.desktop.platforms.kde_session import bus

        try:
            return bus(self.bus_address)
        except ImportError as exc:
            raise DisplayError(f"tracer needs jeepney on KDE Plasma: {exc}",
                               "pip install 'jeepney>=0.8'") from None

    # -- seeing and acting ----------------------------------------------------------------------

    def open_screen(self, monitor: int = 1, input_size: tuple[int, int] | None = None) -> KdeScreen:
        """Monitor ``monitor`` (outputs left to right, then top to bottom). ``input_size`` is
        not needed: the input takes desktop pixels."""
        from tracer_cli.desktop.platforms.kde_screen import KdeScreen
        from tracer_cli.desktop.platforms.wlroots import listing
        from tracer_cli.desktop.screen import Geometry

        placed = self.session().layout()
        if not 1 <= monitor <= len(placed):
            raise DisplayError(f"monitor {monitor} does not exist; monitors: {listing(placed)}",
                               f"choose --monitor from 1 to {len(placed)}")
        where = placed[monitor - 1]
        return KdeScreen(self.bus(), where.output,
                         Geometry(where.rect, monitor, (1.0, 1.0), self.describe()))

    def open_input(self) -> KdeInput:
        from tracer_cli.desktop.platforms.kde_input import KdeInput

        return KdeInput(self.session())

    # -- the user's switches and listening ------------------------------------------------------

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None = None) -> KdeKillSwitch:
        from tracer_cli.desktop.platforms.kde_switch import KdeKillSwitch

        return KdeKillSwitch(hotkey, self.bus_address, stop, wake)

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> KdePauseSwitch:
        from tracer_cli.desktop.platforms.kde_switch import KdePauseSwitch

        return KdePauseSwitch(hotkey, self.bus_address, pause, on_toggle)

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        raise DisplayError("tracer record cannot listen on KDE Plasma (Wayland): a Wayland "
                           "program cannot hear the mouse and keyboard of the whole desktop",
                           "record in a sandbox display (tracer sandbox start, then tracer record "
                           "--display :N) or in an X11 session, or write the macro by hand")

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        from tracer_cli.desktop.platforms.wlr_session import watch_socket

        return watch_socket(self.socket(), self.display, lambda: lost(
            f"KWin (KDE Plasma) at {self.display} went away (it ended)"))

    def windows(self) -> list[Any]:
        """KWin's normal windows and where they lie (kde_windows.Window), through scripting."""
        from tracer_cli.desktop.platforms.kde_windows import windows

        return windows(self.bus())

    # -- doctor ---------------------------------------------------------------------------------

    def checks(self, monitor: int) -> list[Check]:
        try:
            session = self.session()
        except TracerError as exc:
            return [Check("display", False, exc.message, exc.hint),
                    self._check_authorisation(),
                    Check("screen capture", None, "needs a display"),
                    Check("input control", None, "needs a display")]
        placed = session.layout()
        versions = session.info.versions
        fake = versions.get("org_kde_kwin_fake_input")
        detail = (f"KWin on Wayland, {self.display}: fake input "
                  + (f"v{fake}" if fake else "not offered to this program"))
        return [Check("display", True, detail), self._check_authorisation(),
                self._check_capture(monitor, placed), self._check_input(session)]

    def _check_authorisation(self) -> Check:
        from tracer_cli.desktop.platforms import kde_setup

        found = kde_setup.status(env=self.env)
        if found.granted:
            return Check("authorisation", True, found.describe())
        return Check("authorisation", False, found.describe(),
                     f"run `{kde_setup.COMMAND}` (README: KDE Plasma), then start tracer again")

    def _check_capture(self, monitor: int, placed: list[Any]) -> Check:
        from tracer_cli.desktop.platforms.wlroots import listing

        name = "screen capture"
        if not 1 <= monitor <= len(placed):
            return Check(name, False, f"monitor {monitor} does not exist; monitors: "
                         f"{listing(placed)}", f"choose --monitor from 1 to {len(placed)}")
        try:
            screen = self.open_screen(monitor)
            started = time.perf_counter()
            shot = screen.capture()
            ms = (time.perf_counter() - started) * 1000
            screen.close()
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        return Check(name, True, f"monitor {monitor} grabbed through KWin's ScreenShot2 "
                     f"({shot.image.width}x{shot.image.height}, {ms:.0f} ms); monitors: "
                     f"{listing(placed)}")

    def _check_input(self, session: KdeSession) -> Check:
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
            return Check(name, False, f"KWin's keyboard layout lacks {', '.join(missing)}",
                         "report it with this output")
        layouts = keyboard.keymap().layouts
        return Check(name, True, f"fake input on {width}x{height} desktop pixels (input scale 1); "
                     f"text through KWin's keyboard layout ({layouts} layout"
                     f"{'s' if layouts > 1 else ''}): other characters are refused before "
                     "typing; the pointer's position and your modifiers cannot be read here")
