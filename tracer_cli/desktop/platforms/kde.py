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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import PLATFORMS, Check
from tracer_cli.desktop.platforms.wayland import WaylandPlatform
from tracer_cli.errors import DisplayError

if TYPE_CHECKING:
    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.platforms.dbus_client import Bus
    from tracer_cli.desktop.platforms.kde_input import KdeInput
    from tracer_cli.desktop.platforms.kde_screen import KdeScreen
    from tracer_cli.desktop.platforms.kde_session import KdeSession
    from tracer_cli.desktop.platforms.kde_switch import KdeKillSwitch, KdePauseSwitch



@PLATFORMS.register("kde")
class KdePlatform(WaylandPlatform):
    name = "kde"
    desktop = "KDE Plasma"
    server = "KWin (KDE Plasma)"
    captured_through = "KWin's ScreenShot2"
    keyboard_name = "KWin's keyboard layout"

    def __init__(self, display: str = "", env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        super().__init__(display, env, "run tracer inside your Plasma (Wayland) session, or name "
                         "KWin's socket with --display (e.g. wayland-0, or an absolute path)")
        self.bus_address = env.get("DBUS_SESSION_BUS_ADDRESS", "") or "SESSION"

    def _open_session(self, socket: str) -> KdeSession:
        from tracer_cli.desktop.platforms.kde_session import session

        return session(socket)

    def bus(self) -> Bus:
        from tracer_cli.desktop.platforms.kde_session import bus

        try:
            return bus(self.bus_address)
        except ImportError as exc:
            raise DisplayError(f"tracer needs jeepney on KDE Plasma: {exc}",
                               "pip install 'jeepney>=0.8'") from None

    # -- seeing and acting ----------------------------------------------------------------------

    def _screen(self, session: KdeSession, output: Any, geometry: Any) -> KdeScreen:
        from tracer_cli.desktop.platforms.kde_screen import KdeScreen

        return KdeScreen(self.bus(), output, geometry)

    def open_input(self) -> KdeInput:
        from tracer_cli.desktop.platforms.kde_input import KdeInput

        return KdeInput(self.session())

    # -- the user's switches and windows --------------------------------------------------------

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None = None) -> KdeKillSwitch:
        from tracer_cli.desktop.platforms.kde_switch import KdeKillSwitch

        return KdeKillSwitch(hotkey, self.bus_address, stop, wake)

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> KdePauseSwitch:
        from tracer_cli.desktop.platforms.kde_switch import KdePauseSwitch

        return KdePauseSwitch(hotkey, self.bus_address, pause, on_toggle)

    def elements(self) -> Any:
        """The accessibility tree (AT-SPI), its boxes placed through KWin's window list."""
        from tracer_cli.desktop.placement import PlacedTopmost
        from tracer_cli.desktop.platforms.atspi import open_atspi
        from tracer_cli.desktop.platforms.kde_windows import KWinWindows

        windows = KWinWindows(self.bus,  # (the Wayland connection at the first lookup)
                              lambda lx, ly: self.session().desktop_point(lx, ly))
        return open_atspi(PlacedTopmost(windows), windows)

    def windows(self) -> list[Any]:
        """KWin's normal windows and where they lie (kde_windows.Window), through scripting."""
        from tracer_cli.desktop.platforms.kde_windows import windows

        return windows(self.bus())

    # -- doctor ---------------------------------------------------------------------------------

    def _display_detail(self, session: KdeSession) -> str:
        fake = session.info.versions.get("org_kde_kwin_fake_input")
        return (f"KWin on Wayland, {self.display}: fake input "
                + (f"v{fake}" if fake else "not offered to this program"))

    def _more_checks(self) -> list[Check]:
        from tracer_cli.desktop.platforms import kde_setup

        found = kde_setup.status(env=self.env)
        if found.granted:
            return [Check("authorisation", True, found.describe())]
        return [Check("authorisation", False, found.describe(),
                      f"run `{kde_setup.COMMAND}` (README: KDE Plasma), then start tracer again")]

    def _input_detail(self, keyboard: KdeInput, width: int, height: int) -> str:
        layouts = keyboard.keymap().layouts
        return (f"fake input on {width}x{height} desktop pixels (input scale 1); text through "
                f"KWin's keyboard layout ({layouts} layout{'s' if layouts > 1 else ''}): other "
                "characters are refused before typing; the pointer's position and your "
                "modifiers cannot be read here")
