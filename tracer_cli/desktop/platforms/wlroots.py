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
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import PLATFORMS, Check
from tracer_cli.errors import DisplayError, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.platforms.sway_switch import SwayKillSwitch, SwayPauseSwitch
    from tracer_cli.desktop.platforms.wlr_input import WlrInput
    from tracer_cli.desktop.platforms.wlr_screen import WlrScreen
    from tracer_cli.desktop.platforms.wlr_session import WlrSession

ESSENTIAL_KEYS = ("a", "z", "0", "9", "space", "enter", "tab", "backspace", "escape", "shift",
                  "ctrl", "alt")
HYPRLAND_BIND = {"kill": ("K", "tracer stop"), "pause": ("P", "tracer pause")}


@PLATFORMS.register("wlroots")
class WlrootsPlatform:
    name = "wlroots"

    def __init__(self, display: str = "", env: dict[str, str] | None = None) -> None:
        env = dict(os.environ) if env is None else env
        self.display = display or env.get("WAYLAND_DISPLAY", "")
        if not self.display:
            raise DisplayError("no Wayland display: WAYLAND_DISPLAY is not set",
                               "run tracer inside your sway or Hyprland session, or name the "
                               "compositor's socket with --display (e.g. wayland-1, or an "
                               "absolute path)")
        self.swaysock = env.get("SWAYSOCK", "")
        self.hyprland = bool(env.get("HYPRLAND_INSTANCE_SIGNATURE"))
        self.compositor = "sway" if self.swaysock else "Hyprland" if self.hyprland else \
            (env.get("XDG_CURRENT_DESKTOP", "") or "a wlroots compositor")
        self.runtime_dir = env.get("XDG_RUNTIME_DIR", "")

    def describe(self) -> str:
        return f"{self.compositor} (Wayland) {self.display}"

    def target(self) -> str:
        return f"wlroots {self.socket()}"

    def socket(self) -> str:
        if os.path.isabs(self.display):
            return self.display
        return os.path.join(self.runtime_dir, self.display)

    def session(self) -> WlrSession:
        from tracer_cli.desktop.platforms.wlr_session import session

        try:
            return session(self.socket())
        except ImportError as exc:
            raise DisplayError(f"tracer needs pywayland on {self.compositor}: {exc}",
                               "pip install 'pywayland>=0.4,<0.5'") from None
        except OSError as exc:  # the generated protocol bindings could not be written
            raise DisplayError(f"cannot prepare the Wayland protocols: {exc}",
                               "set TRACER_HOME to a folder this user can write") from None

    # -- seeing and acting ----------------------------------------------------------------------

    def open_screen(self, monitor: int = 1, input_size: tuple[int, int] | None = None) -> WlrScreen:
        """Monitor ``monitor`` (outputs left to right, then top to bottom). ``input_size`` is
        not needed: the input takes desktop pixels."""
        from tracer_cli.desktop.platforms.wlr_screen import WlrScreen
        from tracer_cli.desktop.screen import Geometry

        session = self.session()
        placed = session.layout()
        if not 1 <= monitor <= len(placed):
            raise DisplayError(f"monitor {monitor} does not exist; monitors: {listing(placed)}",
                               f"choose --monitor from 1 to {len(placed)}")
        where = placed[monitor - 1]
        return WlrScreen(session, where.output,
                         Geometry(where.rect, monitor, (1.0, 1.0), self.describe()))

    def open_input(self) -> WlrInput:
        from tracer_cli.desktop.platforms.wlr_input import WlrInput

        return WlrInput(self.session())

    # -- the user's switches and listening ------------------------------------------------------

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

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        raise DisplayError(f"tracer record cannot listen on {self.compositor}: a Wayland program "
                           "cannot hear the mouse and keyboard of the whole desktop",
                           "record in a sandbox display (tracer sandbox start, then tracer record "
                           "--display :N) or in an X11 session, or write the macro by hand")

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        from tracer_cli.desktop.platforms.wlr_session import watch_socket

        return watch_socket(self.socket(), self.display, lambda: lost(
            f"the Wayland compositor {self.compositor} at {self.display} went away (it ended)"))

    # -- doctor ---------------------------------------------------------------------------------

    def checks(self, monitor: int) -> list[Check]:
        try:
            session = self.session()
        except TracerError as exc:
            return [Check("display", False, exc.message, exc.hint),
                    Check("screen capture", None, "needs a display"),
                    Check("input control", None, "needs a display")]
        placed = session.layout()
        versions = session.info.versions
        detail = (f"{self.compositor} on Wayland, {self.display}: screencopy v"
                  f"{versions.get('zwlr_screencopy_manager_v1')}, virtual pointer v"
                  f"{versions.get('zwlr_virtual_pointer_manager_v1')}, virtual keyboard v"
                  f"{versions.get('zwp_virtual_keyboard_manager_v1')}")
        if "zxdg_output_manager_v1" not in versions:
            detail += "; no xdg-output: scaled outputs are placed by their integer scale"
        rows = [Check("display", True, detail)]
        rows.append(self._check_capture(monitor, placed))
        rows.append(self._check_input())
        return rows

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
        return Check(name, True, f"monitor {monitor} grabbed through wlr-screencopy "
                     f"({shot.image.width}x{shot.image.height}, {ms:.0f} ms); monitors: "
                     f"{listing(placed)}")

    def _check_input(self) -> Check:
        name = "input control"
        try:
            keyboard = self.open_input()
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            width, height = keyboard.size()
            missing = keyboard.missing_keys(list(ESSENTIAL_KEYS))
        finally:
            keyboard.close()
        if missing:
            return Check(name, False, f"the virtual keyboard lacks {', '.join(missing)}",
                         "report it with this output")
        return Check(name, True, f"virtual pointer and keyboard on {width}x{height} desktop "
                     "pixels (input scale 1); any character is typed through the keyboard's own "
                     "keymap; the pointer's position and your modifiers cannot be read here")


def listing(placed: list[Any]) -> str:
    """The monitors as a choice for --monitor: ``1: HEADLESS-1 1920x1080+0+0 scale 1, ...``."""
    return ", ".join(f"{p.index}: {p.output.name or 'unnamed'} {p.rect.width}x{p.rect.height}"
                     f"+{p.rect.left}+{p.rect.top} scale {p.output.exact_scale:g}"
                     for p in placed) or "none"
