"""One Wayland connection to KWin and one D-Bus connection to its session, shared by a process's
screens, input and switches.

The Wayland side is wlr_session's (outputs placed in desktop pixels, every request under the
session's lock, no reading thread), binding what KWin offers instead: the seat, xdg-output, and
org_kde_kwin_fake_input, which KWin shows only to an authorised program (`tracer setup kde`) and
decides once, when the program connects. The fake input device is made when the session starts
and kept: until one exists the seat has no pointer or keyboard (a headless KWin), and the seat's
keymap (what tracer can type) comes from the keyboard that device gives the seat.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tracer_cli.desktop.platforms.wlr_session import WlrSession
from tracer_cli.errors import DisplayError

FAKE_INPUT = "org_kde_kwin_fake_input"
SETUP_FIX = "run `tracer setup kde` (it authorises this Python with KWin), then rerun"


class KdeSession(WlrSession):
    needed = {"wl_seat": 1}
    missing_fix = "use KDE Plasma's KWin (--platform kde) on a Wayland session"

    def __init__(self, display: str) -> None:
        self.connected_at = time.monotonic()  # binding fake input made our device, about now
        super().__init__(display)

    def _wanted(self) -> dict[str, tuple[Any, str, int]]:
        from pywayland.protocol.wayland import WlSeat
        from pywayland.protocol.xdg_output_unstable_v1 import ZxdgOutputManagerV1

        from tracer_cli.desktop.platforms import wlr_protocols

        fake = wlr_protocols.load()["fake_input"]
        self.keymap: Any = None  # kde_keymap.Keymap once the seat's keyboard sent it
        self._keyboard: Any = None
        return {
            "wl_seat": (WlSeat, "seat", 5),
            "zxdg_output_manager_v1": (ZxdgOutputManagerV1, "xdg_output_manager", 2),
            FAKE_INPUT: (fake.OrgKdeKwinFakeInput, "fake", 4),
        }

    @property
    def authorised(self) -> bool:
        return self.fake is not None

    def fake_input(self) -> Any:
        """The fake input device, authenticated (a DisplayError with the fix where KWin does
        not offer it to this program)."""
        if self.fake is None:
            raise DisplayError("KWin does not let this program send input (it offers "
                               f"{FAKE_INPUT} only to authorised programs)", SETUP_FIX)
        with self.lock:
            if not getattr(self, "_authenticated", False):
                self.fake.authenticate("tracer", "a desktop agent acting for you")
                self._authenticated = True
                self.sync()
        return self.fake

    def read_keymap(self, timeout: float = 2.0) -> Any:
        """The seat's keymap, compiled (kde_keymap.Keymap); None where the seat has no
        keyboard in ``timeout`` seconds."""
        from tracer_cli.desktop.platforms.kde_keymap import compile_keymap, read_keymap_fd

        with self.lock:
            if self.keymap is not None:
                return self.keymap
            if not self.wait_for(lambda: bool(self.info.seat_caps & 2), timeout):
                return None
            if self._keyboard is None:
                keyboard = self._keyboard = self.seat.get_keyboard()
                texts: list[bytes] = []

                def on_keymap(_k: Any, fmt: int, fd: int, size: int) -> None:
                    if fmt == 1:
                        texts.append(read_keymap_fd(fd, size))
                    else:
                        import os

                        os.close(fd)

                keyboard.dispatcher["keymap"] = on_keymap
                for name in ("enter", "leave", "key", "modifiers", "repeat_info"):
                    keyboard.dispatcher[name] = lambda *_: None
                self._keymap_texts = texts
            self.wait_for(lambda: bool(self._keymap_texts), timeout)
            if self._keymap_texts:
                self.keymap = compile_keymap(self._keymap_texts[-1])
            return self.keymap


_sessions: dict[str, KdeSession] = {}
_buses: dict[str, Any] = {}
_lock = threading.Lock()


def session(display: str) -> KdeSession:
    """This process's Wayland connection to KWin at ``display`` (a new one when the last one
    broke)."""
    with _lock:
        if not _sessions and not _buses:
            import atexit

            atexit.register(close_all)
        found = _sessions.get(display)
        if found is None or found.closed or found.broken:
            if found is not None:
                found.close()
            found = _sessions[display] = KdeSession(display)
        return found


def bus(address: str) -> Any:
    """This process's connection to the session bus at ``address`` (dbus_client.Bus)."""
    from tracer_cli.desktop.platforms.dbus_client import Bus

    with _lock:
        if not _sessions and not _buses:
            import atexit

            atexit.register(close_all)
        found = _buses.get(address)
        if found is None or found.closed:
            try:
                found = _buses[address] = Bus(address)
            except (OSError, ValueError, KeyError) as exc:
                raise DisplayError(f"cannot connect to the session bus: {exc}",
                                   "run tracer inside your Plasma session (it needs "
                                   "DBUS_SESSION_BUS_ADDRESS)") from None
        return found


def close_session(display: str) -> None:
    with _lock:
        found = _sessions.pop(display, None)
    if found is not None:
        found.close()


def close_all() -> None:
    with _lock:
        for found in _sessions.values():
            found.close()
        _sessions.clear()
        for connection in _buses.values():
            connection.close()
        _buses.clear()

