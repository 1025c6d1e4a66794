"""wlroots compositors (sway; Hyprland speaks the same protocols): capture through
wlr-screencopy, input through a virtual pointer and keyboard of tracer's own, the kill and pause
hotkeys as sway bindings, all over one Wayland connection (pywayland).

Screens count desktop pixels (physical: what a screenshot has), so their input scale is 1 and
the Input turns each point into layout units through the output it lies on (wlr_session).
``tracer record`` cannot work here: a Wayland client cannot hear global input.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import PLATFORMS
from tracer_cli.desktop.platforms.wayland import WaylandPlatform
from tracer_cli.errors import DisplayError

if TYPE_CHECKING:
    from tracer_cli.desktop.elements import Elements
    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.platforms.sway_switch import SwayKillSwitch, SwayPauseSwitch
    from tracer_cli.desktop.platforms.wlr_input import WlrInput
    from tracer_cli.desktop.platforms.wlr_screen import WlrScreen
    from tracer_cli.desktop.platforms.wlr_session import WlrSession

HYPRLAND_BIND = {"kill": ("K", "tracer stop"), "pause": ("P", "tracer pause")}


@PLATFORMS.register("wlroots")
class WlrootsPlatform(WaylandPlatform):
    name = "wlroots"
    captured_through = "wlr-screencopy"
    keyboard_name = "the virtual keyboard"

    def __init__(self, display: str = "", env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        super().__init__(display, env, "run tracer inside your sway or Hyprland session, or name "
                         "the compositor's socket with --display (e.g. wayland-1, or an absolute "
                         "path)")
        self.swaysock = env.get("SWAYSOCK", "")
        self.hyprland = bool(env.get("HYPRLAND_INSTANCE_SIGNATURE"))
        self.compositor = "sway" if self.swaysock else "Hyprland" if self.hyprland else \
            (env.get("XDG_CURRENT_DESKTOP", "") or "a wlroots compositor")
        self.desktop = self.compositor
        self.server = f"the Wayland compositor {self.compositor}"

    def _open_session(self, socket: str) -> WlrSession:
        from tracer_cli.desktop.platforms.wlr_session import session

        return session(socket)

    # -- seeing and acting ----------------------------------------------------------------------

    def _screen(self, session: WlrSession, output: Any, geometry: Any) -> WlrScreen:
        from tracer_cli.desktop.platforms.wlr_screen import WlrScreen

        return WlrScreen(session, output, geometry)

    def open_input(self) -> WlrInput:
        from tracer_cli.desktop.platforms.wlr_input import WlrInput

        return WlrInput(self.session())

    def elements(self) -> Elements:
        """The accessibility tree (AT-SPI), its boxes placed through sway's window tree; on
        another wlroots compositor, NoElements saying why."""
        from tracer_cli.desktop.elements import NoElements
        from tracer_cli.desktop.placement import PlacedTopmost
        from tracer_cli.desktop.platforms.atspi import open_atspi
        from tracer_cli.desktop.platforms.sway_windows import SwayWindows

        if not self.swaysock:
            return NoElements(f"not mapped on {self.describe()}: Wayland programs report element "
                              "boxes relative to their windows, and tracer reads where windows "
                              "lie from sway's IPC only (no SWAYSOCK here)")
        windows = SwayWindows(self.swaysock,  # (the Wayland connection at the first lookup)
                              lambda lx, ly: self.session().desktop_point(lx, ly))
        return open_atspi(PlacedTopmost(windows), windows)

    # -- the user's switches --------------------------------------------------------------------

    def _no_binding(self, kind: str, hotkey: str) -> DisplayError:
        from tracer_cli.desktop.killswitch import KINDS, label

        name, _, turn_off = KINDS[kind]
        key, command = HYPRLAND_BIND[kind]
        if self.hyprland:
            return DisplayError(f"tracer cannot arm the {name} on Hyprland itself (it binds keys "
                                "on sway only)", f"bind it in hyprland.conf: `bind = CTRL ALT "
                                f"SHIFT, {key}, exec, {command}`, then run with {turn_off}")
        return DisplayError(f"tracer cannot arm the {name} ({label(hotkey)}) on "
                            f"{self.compositor}: no sway IPC socket (SWAYSOCK)",
                            f"bind `{command}` to a key in your compositor's settings, then run "
                            f"with {turn_off}")

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None = None) -> SwayKillSwitch:
        from tracer_cli.desktop.platforms.sway_switch import SwayKillSwitch

        if not self.swaysock:
            raise self._no_binding("kill", hotkey)
        return SwayKillSwitch(hotkey, self.swaysock, stop, wake)

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> SwayPauseSwitch:
        from tracer_cli.desktop.platforms.sway_switch import SwayPauseSwitch

        if not self.swaysock:
            raise self._no_binding("pause", hotkey)
        return SwayPauseSwitch(hotkey, self.swaysock, pause, on_toggle)

    # -- doctor ---------------------------------------------------------------------------------

    def _display_detail(self, session: WlrSession) -> str:
        versions = session.info.versions
        detail = (f"{self.compositor} on Wayland, {self.display}: screencopy v"
                  f"{versions.get('zwlr_screencopy_manager_v1')}, virtual pointer v"
                  f"{versions.get('zwlr_virtual_pointer_manager_v1')}, virtual keyboard v"
                  f"{versions.get('zwp_virtual_keyboard_manager_v1')}")
        if "zxdg_output_manager_v1" not in versions:
            detail += "; no xdg-output: scaled outputs are placed by their integer scale"
        return detail

    def _input_detail(self, keyboard: WlrInput, width: int, height: int) -> str:
        return (f"virtual pointer and keyboard on {width}x{height} desktop pixels (input scale "
                "1); any character is typed through the keyboard's own keymap; the pointer's "
                "position and your modifiers cannot be read here")

