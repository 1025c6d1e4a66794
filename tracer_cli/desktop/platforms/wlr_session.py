"""One Wayland connection to a wlroots compositor, shared by a process's screens and input.

Every request and every dispatch of events happens under the session's lock, on the caller's
thread; no thread reads in the background (this client owns no surface, so nothing must be
answered: the compositor sends events only in answer to requests, and output changes).

Desktop pixels: a screenshot of an output has its physical pixels. Outputs are placed in one
"desktop" of physical pixels at their layout position times the largest output scale, so they
never overlap, whatever scales are mixed; an output whose scale is smaller than the largest
leaves a gap, harmless. With one scale everywhere that is the plain physical layout.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracer_cli.desktop.screen import Rect
from tracer_cli.errors import DisplayError, DisplayLost

FIX_CONNECT = ("run tracer inside your sway or Hyprland session, or name the compositor's socket "
               "with --display (an absolute path works) and make it readable by this user")
LOST_FIX = "start the desktop again and rerun"
# What tracer needs of the compositor, and the version it speaks of each.
NEEDED = {"zwlr_screencopy_manager_v1": 3, "zwlr_virtual_pointer_manager_v1": 2,
          "zwp_virtual_keyboard_manager_v1": 1, "wl_shm": 1, "wl_seat": 1}


def socket_path(display: str) -> str:
    """The socket of a Wayland display name (absolute, or relative to XDG_RUNTIME_DIR)."""
    if os.path.isabs(display):
        return display
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), display)


@dataclass
class Output:
    proxy: Any
    global_name: int
    name: str = ""
    logical: tuple[int, int, int, int] = (0, 0, 0, 0)  # x, y, width, height in layout units
    mode: tuple[int, int] = (0, 0)  # physical pixels
    scale: int = 1  # wl_output's integer scale (fractional ones show in exact_scale)
    xdg: Any = None
    done: bool = False

    @property
    def exact_scale(self) -> float:
        """Physical pixels per layout unit."""
        return self.mode[0] / self.logical[2] if self.logical[2] else float(self.scale)

    @property
    def known(self) -> bool:
        return self.done and self.mode[0] > 0 and self.logical[2] > 0


@dataclass
class Placed:
    """An output and where its pixels lie on the desktop (physical pixels)."""

    output: Output
    rect: Rect
    index: int  # tracer's monitor number: 1, 2, ... left to right, then top to bottom


@dataclass
class Globals:
    versions: dict[str, int] = field(default_factory=dict)
    seat_caps: int = 0  # wl_seat capabilities: 1 pointer, 2 keyboard
    first_seat_caps: int | None = None  # the first ones told (before a device of ours counted)


class WlrSession:
    """A connection with the globals tracer needs (a DisplayError naming what is missing)."""

    # What the compositor must offer (interface: the version spoken), and the fix when it does not.
    needed = NEEDED
    missing_fix = ("use sway, Hyprland or another wlroots compositor, or a GNOME session "
                   "(--platform gnome)")

    def __init__(self, display: str) -> None:
        from pywayland.client import Display
        from pywayland.protocol.wayland import WlOutput

        self.name = display
        self.lock = threading.RLock()
        self.closed = False
        self.broken = False  # the connection broke: the next session() makes a new one
        self.display = Display(display)
        try:
            self.display.connect()
        except Exception as exc:
            raise DisplayError(f"cannot connect to the Wayland display {display}: {exc}",
                               FIX_CONNECT) from None
        self.outputs: dict[int, Output] = {}
        self.info = Globals()
        self.seat: Any = None
        self.xdg_output_manager: Any = None
        wanted = self._wanted()
        for _cls, attr, _version in wanted.values():
            setattr(self, attr, None)

        def on_global(registry: Any, name: int, interface: str, version: int) -> None:
            self.info.versions[interface] = version
            if interface == "wl_output":
                self._add_output(Output(registry.bind(name, WlOutput, min(version, 3)), name))
            elif interface in wanted:
                cls, attr, speaks = wanted[interface]
                setattr(self, attr, registry.bind(name, cls, min(version, speaks)))
                if attr == "seat":
                    self.seat.dispatcher["capabilities"] = on_capabilities
                    self.seat.dispatcher["name"] = lambda *_: None

        def on_capabilities(_seat: Any, caps: int) -> None:
            self.info.seat_caps = caps
            if self.info.first_seat_caps is None:
                self.info.first_seat_caps = caps

        def on_global_remove(_registry: Any, name: int) -> None:
            self.outputs.pop(name, None)

        self.registry = self.display.get_registry()
        self.registry.dispatcher["global"] = on_global
        self.registry.dispatcher["global_remove"] = on_global_remove
        self.display.roundtrip()
        missing = [name for name in self.needed if name not in self.info.versions]
        if missing:
            self.close()
            raise DisplayError(f"the Wayland compositor at {display} does not offer "
                               f"{', '.join(missing)}, which tracer needs to see and act",
                               self.missing_fix)
        for output in self.outputs.values():
            self._describe(output)
        self.display.roundtrip()
        self.display.roundtrip()

    def _wanted(self) -> dict[str, tuple[Any, str, int]]:
        """The globals to bind: interface -> (pywayland class, attribute, highest version)."""
        from pywayland.protocol.wayland import WlSeat, WlShm
        from pywayland.protocol.xdg_output_unstable_v1 import ZxdgOutputManagerV1

        from tracer_cli.desktop.platforms import wlr_protocols

        protocols = wlr_protocols.load()
        self.screencopy_module = protocols["wlr_screencopy_unstable_v1"]
        pointer_module = protocols["wlr_virtual_pointer_unstable_v1"]
        keyboard_module = protocols["virtual_keyboard_unstable_v1"]
        return {
            "wl_shm": (WlShm, "shm", 1),
            "wl_seat": (WlSeat, "seat", 1),
            "zxdg_output_manager_v1": (ZxdgOutputManagerV1, "xdg_output_manager", 2),
            "zwlr_screencopy_manager_v1": (self.screencopy_module.ZwlrScreencopyManagerV1,
                                           "screencopy", 3),
            "zwlr_virtual_pointer_manager_v1": (pointer_module.ZwlrVirtualPointerManagerV1,
                                                "pointer_manager", 2),
            "zwp_virtual_keyboard_manager_v1": (keyboard_module.ZwpVirtualKeyboardManagerV1,
                                                "keyboard_manager", 1),
        }

    # -- outputs --------------------------------------------------------------------------------

    def _add_output(self, output: Output) -> None:
        def geometry(_p: Any, x: int, y: int, *_rest: Any) -> None:
            if output.xdg is None:
                output.logical = (x, y, *output.logical[2:])

        def mode(_p: Any, flags: int, width: int, height: int, _refresh: int) -> None:
            if flags & 1:  # the current mode
                output.mode = (width, height)

        def scale(_p: Any, factor: int) -> None:
            output.scale = factor

        def done(_p: Any) -> None:
            output.done = True

        def name(_p: Any, text: str) -> None:
            output.name = output.name or text

        proxy = output.proxy
        proxy.dispatcher["geometry"] = geometry
        proxy.dispatcher["mode"] = mode
        proxy.dispatcher["scale"] = scale
        proxy.dispatcher["done"] = done
        proxy.dispatcher["name"] = name
        proxy.dispatcher["description"] = lambda *_: None
        self.outputs[output.global_name] = output
        if self.xdg_output_manager is not None:
            self._describe(output)

    def _describe(self, output: Output) -> None:
        """Ask xdg-output for the output's place and size in layout units, and its name."""
        if self.xdg_output_manager is None or output.xdg is not None:
            return
        xdg = self.xdg_output_manager.get_xdg_output(output.proxy)
        output.xdg = xdg

        def position(_p: Any, x: int, y: int) -> None:
            output.logical = (x, y, *output.logical[2:])

        def size(_p: Any, width: int, height: int) -> None:
            output.logical = (*output.logical[:2], width, height)

        def name(_p: Any, text: str) -> None:
            output.name = text

        xdg.dispatcher["logical_position"] = position
        xdg.dispatcher["logical_size"] = size
        xdg.dispatcher["name"] = name
        xdg.dispatcher["description"] = lambda *_: None
        xdg.dispatcher["done"] = lambda *_: None

    def layout(self) -> list[Placed]:
        """The outputs as tracer's monitors: left to right, then top to bottom, each with its
        rectangle of desktop pixels (see the module's docstring)."""
        with self.lock:
            self.pump(0)
            if any(not o.known for o in self.outputs.values()):
                self.wait_for(lambda: all(o.known for o in self.outputs.values()), 1.0)
            outputs = sorted((o for o in self.outputs.values() if o.known),
                             key=lambda o: (o.logical[0], o.logical[1]))
        if not outputs:
            return []
        most = max(o.exact_scale for o in outputs)
        x0 = min(o.logical[0] for o in outputs)
        y0 = min(o.logical[1] for o in outputs)
        return [Placed(o, Rect(round((o.logical[0] - x0) * most), round((o.logical[1] - y0) * most),
                               *o.mode), n) for n, o in enumerate(outputs, 1)]

    def desktop_point(self, lx: float, ly: float) -> tuple[float, float, float] | None:
        """A layout point as a desktop pixel, and the desktop pixels per layout unit there
        (the output it lies on); None off every output."""
        for placed in self.layout():
            x, y, width, height = placed.output.logical
            if x <= lx < x + width and y <= ly < y + height:
                scale = placed.output.exact_scale
                return (placed.rect.left + (lx - x) * scale, placed.rect.top + (ly - y) * scale,
                        scale)
        return None

    def layout_box(self) -> tuple[int, int, int, int]:
        """The bounding box of the outputs in layout units: x0, y0, x1, y1."""
        outputs = [o for o in self.outputs.values() if o.known]
        return (min(o.logical[0] for o in outputs), min(o.logical[1] for o in outputs),
                max(o.logical[0] + o.logical[2] for o in outputs),
                max(o.logical[1] + o.logical[3] for o in outputs))

    # -- the connection -------------------------------------------------------------------------

    def lost(self, why: str) -> DisplayLost:
        self.broken = True
        return DisplayLost(f"the Wayland compositor at {self.name} went away ({why})", LOST_FIX)

    def flush(self) -> None:
        """Send what is queued; the connection breaking is the compositor going away."""
        import errno

        from pywayland._ffi import ffi, lib

        if self.closed:
            raise self.lost("its connection was closed")
        while lib.wl_display_flush(self.display._ptr) < 0:
            if ffi.errno != errno.EAGAIN:
                raise self.lost(os.strerror(ffi.errno) or "the connection broke")
            select.select([], [self.display.get_fd()], [], 1.0)

    def pump(self, timeout: float | None) -> None:
        """Send what is queued, wait up to ``timeout`` seconds for events (0: none waiting),
        and dispatch them."""
        from pywayland._ffi import lib

        if self.closed:
            raise self.lost("its connection was closed")
        ptr = self.display._ptr
        while lib.wl_display_prepare_read(ptr) != 0:
            if lib.wl_display_dispatch_pending(ptr) < 0:
                raise self._failed()
        try:
            self.flush()
            select.select([self.display.get_fd()], [], [], timeout)
        finally:
            # After a timeout read_events finds nothing (EAGAIN), returns 0 and so ends the
            # prepared read: pywayland has no wl_display_cancel_read.
            read = lib.wl_display_read_events(ptr)
        if read != 0 or lib.wl_display_dispatch_pending(ptr) < 0:
            raise self._failed()

    def _failed(self) -> DisplayLost:
        from pywayland._ffi import lib

        code = lib.wl_display_get_error(self.display._ptr)
        if code and code != 32:  # EPIPE is the socket closing, not a refused request
            return self.lost(f"protocol error {code}: the compositor refused a request")
        return self.lost("it closed the connection")

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.pump(left)
        return True

    def sync(self, timeout: float = 2.0) -> bool:
        """Wait until the compositor has handled every request sent so far."""
        with self.lock:
            done: list[int] = []
            callback = self.display.sync()
            callback.dispatcher["done"] = lambda *_: done.append(1)
            return self.wait_for(lambda: bool(done), timeout)

    def close(self) -> None:
        """Disconnect (pywayland frees proxies when they are collected; collecting them after
        their display is gone crashed the interpreter, so a session is always closed)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(Exception):
                self.display.flush()
            with contextlib.suppress(Exception):
                self.display.disconnect()


def watch_socket(path: str, display: str, gone: Callable[[], None]) -> Callable[[], None]:
    """Call ``gone()`` once, on a thread of its own, when the compositor listening at ``path``
    ends: the thread holds a connection of its own to the socket (it sends nothing, so nothing
    comes back), and the socket closing is the compositor ending. Returns what stops watching."""
    import socket

    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        conn.connect(path)
    except OSError as exc:
        conn.close()
        raise DisplayError(f"cannot connect to the Wayland display {display}: "
                           f"{exc.strerror or exc}", "start the compositor, or check "
                           "--display and WAYLAND_DISPLAY") from None
    wake_read, wake_write = os.pipe()

    def run() -> None:
        try:
            while True:
                ready, _, _ = select.select([conn, wake_read], [], [])
                if wake_read in ready:
                    return
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    gone()
                    return
        finally:
            conn.close()
            os.close(wake_read)

    threading.Thread(target=run, name="watch-wayland", daemon=True).start()

    def stop() -> None:
        with contextlib.suppress(OSError):
            os.write(wake_write, b"x")
            os.close(wake_write)

    return stop


_sessions: dict[str, WlrSession] = {}
_sessions_lock = threading.Lock()


def session(display: str) -> WlrSession:
    """This process's connection to ``display`` (one per display: screens and input share it);
    a new one when the last one broke."""
    with _sessions_lock:
        if not _sessions:
            import atexit

            atexit.register(close_sessions)
        found = _sessions.get(display)
        if found is None or found.closed or found.broken:
            if found is not None:
                found.close()
            found = _sessions[display] = WlrSession(display)
        return found


def close_session(display: str) -> None:
    """Close this process's connection to ``display``, if it has one."""
    with _sessions_lock:
        found = _sessions.pop(display, None)
    if found is not None:
        found.close()


def close_sessions() -> None:
    with _sessions_lock:
        for found in _sessions.values():
            found.close()
        _sessions.clear()
