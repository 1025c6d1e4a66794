"""GNOME on Wayland, through mutter's own D-Bus interfaces: no portal, no consent dialog.

One RemoteDesktop session with a ScreenCast session tied to it, and one stream per monitor,
serve a run's screens and input (``GnomeSession``: opened on first use, closed when the last
screen or input is closed, or at exit). Only the D-Bus connection that created the session may
send input (mutter checks the sender), and mutter ends the session when that connection goes
away: a killed tracer leaves nothing behind.

- Pictures: each stream's PipeWire node through ``gst-launch-1.0 pipewiresrc`` (gnome_frames).
  mutter sends a frame only when the picture changed: no new frame for ``quiet`` seconds is a
  settled screen.
- Pointer: ``NotifyPointerMotionAbsolute`` on the stream of the monitor the point is on, in
  stream coordinates, which are the monitor's physical pixels in both of mutter's layout modes
  (mutter divides by the scale itself): desktop pixels are physical pixels and input units are
  desktop pixels (input scale 1), exact at scale 2 and on every monitor.
- Keys: ``NotifyKeyboardKeycode`` (evdev codes) for named keys; characters by keysym where the
  seat's keymap makes mutter type them exactly (gnome_keymap), and through the clipboard
  (the session offers the text, then Ctrl+V) where it does not: é, €, 中. A paste the focused
  window never asks for is an error, never a silent drop.
- GNOME 45 and later also offer ``ConnectToEIS`` (libei); the ``Notify*`` methods remain, up to
  mutter 50 at least, and are what tracer uses (doctor says which are offered).

Gotchas met on real sessions and handled here: the session's virtual keyboard and pointer exist
only after their first event, and clients learn of them late (a warm-up, then a wait until the
Wayland seat shows both); gnome-shell hands keys to IBus asynchronously while modifier changes
reach programs at once, so every modifier change waits until the keys before it were drawn.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import PLATFORMS, Check
from tracer_cli.errors import ActionError, DisplayError, DisplayLost, TracerError

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.platforms.gnome_dbus import Bus
    from tracer_cli.desktop.platforms.gnome_frames import FrameReader
    from tracer_cli.desktop.platforms.gnome_keymap import Keymap
    from tracer_cli.desktop.platforms.gnome_shortcut import ShortcutKillSwitch, ShortcutPauseSwitch
    from tracer_cli.desktop.screen import Screenshot

RD_DEST = "org.gnome.Mutter.RemoteDesktop"
RD_PATH = "/org/gnome/Mutter/RemoteDesktop"
RD_SESSION = "org.gnome.Mutter.RemoteDesktop.Session"
SC_DEST = "org.gnome.Mutter.ScreenCast"
SC_PATH = "/org/gnome/Mutter/ScreenCast"
SC_SESSION = "org.gnome.Mutter.ScreenCast.Session"
SC_STREAM = "org.gnome.Mutter.ScreenCast.Stream"
DC_DEST = "org.gnome.Mutter.DisplayConfig"
DC_PATH = "/org/gnome/Mutter/DisplayConfig"
LAYOUT_LOGICAL = 1
CURSOR_HIDDEN = 0
RESTART = "start the desktop again and rerun"
FIX_SESSION = "run tracer inside your GNOME session (log in to 'GNOME', not 'GNOME on Xorg')"

BUTTONS = {"left": 0x110, "right": 0x111, "middle": 0x112}  # evdev BTN_*
# evdev key codes (layout independent) of the actuator's named keys.
KEYCODES: dict[str, int] = {
    "escape": 1, "esc": 1, "backspace": 14, "tab": 15, "enter": 28, "return": 28,
    "ctrl": 29, "ctrlleft": 29, "ctrlright": 97, "shift": 42, "shiftleft": 42,
    "shiftright": 54, "alt": 56, "altleft": 56, "altright": 100, "altgr": 100, "option": 56,
    "space": 57, "capslock": 58, "numlock": 69, "scrolllock": 70,
    "win": 125, "winleft": 125, "winright": 126, "super": 125, "command": 125, "cmd": 125,
    "apps": 127, "menu": 127,
    "home": 102, "up": 103, "pageup": 104, "pgup": 104, "left": 105, "right": 106,
    "end": 107, "down": 108, "pagedown": 109, "pgdn": 109, "insert": 110, "delete": 111,
    "del": 111, "volumemute": 113, "volumedown": 114, "volumeup": 115, "pause": 119,
    "printscreen": 99, "prtsc": 99, "prntscrn": 99, "print": 99,
    "nexttrack": 163, "playpause": 164, "prevtrack": 165, "stop": 166,
    **{f"f{i}": 58 + i for i in range(1, 11)}, "f11": 87, "f12": 88,
    **{f"f{i}": 170 + i for i in range(13, 25)},
    "num0": 82, "num1": 79, "num2": 80, "num3": 81, "num4": 75, "num5": 76, "num6": 77,
    "num7": 71, "num8": 72, "num9": 73, "add": 78, "subtract": 74, "multiply": 55,
    "divide": 98, "decimal": 83,
}
# The US positions of characters: a shortcut's letter where the layout has no such keysym
# (GNOME programs match shortcuts on the key's Latin meaning).
US_KEYCODES = {ch: start + i for row, start in (("1234567890-=", 2), ("qwertyuiop[]", 16),
                                                 ("asdfghjkl;'`", 30), ("zxcvbnm,./", 44))
               for i, ch in enumerate(row)} | {"\\": 43}
MODIFIER_KEYCODES = {29, 97, 42, 54, 56, 100, 125, 126}
ESSENTIAL_KEYS = ("a", "z", "0", "9", "space", "enter", "tab", "backspace", "escape", "shift",
                  "ctrl", "alt")
CLIPBOARD_TYPES = ["text/plain;charset=utf-8", "text/plain", "UTF8_STRING", "STRING", "TEXT"]


@dataclass(frozen=True)
class Monitor:
    connector: str  # what ScreenCast.RecordMonitor wants: "Meta-0", "eDP-1"
    left: int  # desktop (physical) pixels
    top: int
    width: int  # physical pixels of the current mode: what the stream delivers
    height: int
    scale: float
    primary: bool

    def contains(self, x: int, y: int) -> bool:
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height


def monitors(bus: Bus) -> list[Monitor]:
    """The active monitors from DisplayConfig: the primary first, then left to right."""
    _serial, physical, logical, props = bus.call(DC_DEST, DC_PATH, DC_DEST, "GetCurrentState")
    modes: dict[str, tuple[int, int]] = {}
    for (connector, *_), available, _props in physical:
        for mode in available:
            if mode[6].get("is-current", ("b", False))[1]:
                modes[connector] = (int(mode[1]), int(mode[2]))
    by_scale = props.get("layout-mode", ("u", 2))[1] == LAYOUT_LOGICAL
    found = []
    for x, y, scale, _transform, primary, specs, _props in logical:
        for connector, *_ in specs:
            w, h = modes.get(connector, (0, 0))
            left, top = (round(x * scale), round(y * scale)) if by_scale else (x, y)
            found.append(Monitor(connector, left, top, w, h, scale, bool(primary)))
    found.sort(key=lambda m: (not m.primary, m.left, m.top))
    return found


def listing(found: list[Monitor]) -> str:
    return ", ".join(f"{i}: {m.width}x{m.height}+{m.left}+{m.top}" + (
        f" (scale {m.scale:g})" if m.scale != 1 else "") for i, m in enumerate(found, 1))


def _session_bus() -> Bus:
    from tracer_cli.desktop.platforms.gnome_dbus import Bus

    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not os.environ.get("XDG_RUNTIME_DIR"):
        raise DisplayError("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set", FIX_SESSION)
    try:
        return Bus("SESSION")
    except Exception as exc:
        raise DisplayError(f"cannot connect to the D-Bus session bus: {exc}", FIX_SESSION) from None


def _lost(exc: BaseException) -> DisplayLost:
    return DisplayLost(f"the GNOME session went away ({type(exc).__name__}: {exc})", RESTART)


class GnomeSession:
    """mutter's RemoteDesktop + ScreenCast sessions: a stream and a frame reader per monitor,
    the clipboard the session may own, and what is told when mutter closes it."""

    def __init__(self, on_closed: Callable[[str], None]) -> None:
        from tracer_cli.desktop.platforms.gnome_dbus import BusError
        from tracer_cli.desktop.platforms.gnome_frames import GST_FIX, FrameReader

        if shutil.which("gst-launch-1.0") is None:
            raise DisplayError("gst-launch-1.0 is missing, so tracer cannot see GNOME's screen",
                               GST_FIX)
        self.on_closed = on_closed
        self.closed_reason = ""
        self.readers: list[FrameReader] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self.bus = _session_bus()
        self.rd_path = ""
        self.timings: dict[str, float] = {}
        start = time.monotonic()
        try:
            if not self.bus.has_owner(RD_DEST) or not self.bus.has_owner(SC_DEST):
                raise DisplayError("GNOME's RemoteDesktop and ScreenCast interfaces are not on "
                                   "the session bus (is this GNOME on Wayland?)", FIX_SESSION)
            self.monitors = monitors(self.bus)
            self.streams = self._open_streams()
            self.methods = self.bus.introspect(RD_DEST, self.rd_path)
        except BusError as exc:
            self.close()
            raise DisplayError(f"GNOME refused the remote desktop session: {exc.text}",
                               "see `tracer doctor --platform gnome`") from None
        except BaseException:
            self.close()
            raise
        self.timings["session"] = time.monotonic() - start
        try:
            self.readers = [FrameReader(node, dict(os.environ), connector)
                            for connector, _path, node in self.streams]
            for reader in self.readers:
                if not reader.wait_frame(0, 1):
                    self._nudge()  # a still screen sends no frame until something repaints it
                if not reader.wait_frame(0, 10):
                    raise DisplayError(f"no picture from PipeWire for {reader.name}: "
                                       f"{reader.error or 'no frame within 10 s'}",
                                       f"{GST_FIX}; check that PipeWire and WirePlumber run")
        except BaseException:
            self.close()
            raise
        self.timings["first_frames"] = time.monotonic() - start
        # the clipboard route of typing (see GnomeInput._paste)
        self.clip_lock = threading.Lock()
        self.clip_text: str | None = None
        self.clip_served = threading.Event()
        self.clip_enabled = False
        self.clip_owner: dict[str, Any] = {}
        self.clip_saved: str | None = None
        self.warmed = False

    def _open_streams(self) -> list[tuple[str, str, int]]:
        """(connector, stream path, PipeWire node) per monitor, once the session started."""
        bus = self.bus
        (self.rd_path,) = bus.call(RD_DEST, RD_PATH, "org.gnome.Mutter.RemoteDesktop",
                                   "CreateSession")
        session_id = bus.get_property(RD_DEST, self.rd_path, RD_SESSION, "SessionId")
        self._unsubscribe.append(bus.subscribe(self._closed, path=self.rd_path,
                                               interface=RD_SESSION, member="Closed"))
        (sc_path,) = bus.call(SC_DEST, SC_PATH, "org.gnome.Mutter.ScreenCast", "CreateSession",
                              "a{sv}", ({"remote-desktop-session-id": ("s", session_id)},))
        added: dict[str, int] = {}
        got = threading.Condition()

        def on_added(msg: Any) -> None:
            with got:
                added[msg.header.fields[1]] = int(msg.body[0])  # path -> node id
                got.notify_all()

        paths = []
        for monitor in self.monitors:
            (path,) = bus.call(SC_DEST, sc_path, SC_SESSION, "RecordMonitor", "sa{sv}",
                               (monitor.connector, {"cursor-mode": ("u", CURSOR_HIDDEN)}))
            paths.append(path)
            self._unsubscribe.append(bus.subscribe(on_added, path=path, interface=SC_STREAM,
                                                   member="PipeWireStreamAdded"))
        bus.call(RD_DEST, self.rd_path, RD_SESSION, "Start")
        with got:
            if not got.wait_for(lambda: len(added) == len(paths), 10):
                raise DisplayError("mutter started no PipeWire stream",
                                   "check that PipeWire and WirePlumber run in this session")
        return [(m.connector, p, added[p]) for m, p in zip(self.monitors, paths, strict=True)]

    def _nudge(self) -> None:
        """Make mutter repaint: the pointer one pixel there and back (where it is now)."""
        with contextlib.suppress(Exception):
            for dx in (1.0, -1.0):
                self.bus.call(RD_DEST, self.rd_path, RD_SESSION, "NotifyPointerMotionRelative",
                              "dd", (dx, 0.0))

    def _closed(self, _msg: Any) -> None:
        if not self.closed_reason:
            self.closed_reason = ("GNOME closed tracer's remote desktop session (screen sharing "
                                  "was stopped, or the session ended)")
            self.on_closed(self.closed_reason)

    def offers(self, method: str) -> bool:
        return f'name="{method}"' in self.methods

    def call(self, method: str, sig: str = "", body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """A method of the RemoteDesktop session; DisplayLost once the session is gone."""
        from tracer_cli.desktop.platforms.gnome_dbus import BusError

        if self.closed_reason:
            raise DisplayLost(self.closed_reason, RESTART)
        try:
            return self.bus.call(RD_DEST, self.rd_path, RD_SESSION, method, sig, body)
        except BusError as exc:
            if self.closed_reason or "UnknownObject" in exc.name or "ServiceUnknown" in exc.name:
                raise DisplayLost(self.closed_reason or f"the GNOME session went away "
                                  f"({exc.text})", RESTART) from None
            raise ActionError(f"GNOME refused {method}: {exc.text}") from None
        except (OSError, EOFError, TimeoutError, RuntimeError) as exc:
            raise _lost(exc) from None

    def close(self) -> None:
        for reader in self.readers:
            reader.close()
        self.readers = []
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self.rd_path and not self.closed_reason:
            self.closed_reason = "closed"
            with contextlib.suppress(Exception):
                self.bus.call(RD_DEST, self.rd_path, RD_SESSION, "Stop", timeout=3)
        self.bus.close()


@PLATFORMS.register("gnome")
class GnomePlatform:
    name = "gnome"

    def __init__(self, display: str = "") -> None:
        self.display = display or os.environ.get("WAYLAND_DISPLAY", "") or "wayland-0"
        # the compositor's socket, for the seat and keymap reads (a relative name is in the
        # runtime folder as it is now)
        self.socket = os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), self.display)
        self._session: GnomeSession | None = None
        self._users = 0
        self._lock = threading.Lock()
        self._watchers: list[Callable[[str], None]] = []

    def describe(self) -> str:
        return f"GNOME (Wayland) {self.display}"

    def target(self) -> str:
        return f"gnome {self.socket}"

    # -- the shared session ---------------------------------------------------------------------

    def session(self) -> GnomeSession:
        """The session of this platform, opened on first use; pair with ``release()``."""
        with self._lock:
            if self._session is None or self._session.closed_reason:
                self._session = GnomeSession(self._tell_lost)
                self._users = 0
                atexit.register(self._close_session)
            self._users += 1
            return self._session

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
        self._close_session()

    def _close_session(self) -> None:
        with self._lock:
            session, self._session, self._users = self._session, None, 0
        if session is not None:
            session.close()

    def _tell_lost(self, reason: str) -> None:
        for lost in list(self._watchers):
            lost(reason)

    # -- seeing and acting ----------------------------------------------------------------------

    def open_screen(self, monitor: int = 1,
                    input_size: tuple[int, int] | None = None) -> GnomeScreen:
        session = self.session()
        if not 1 <= monitor <= len(session.monitors):
            self.release()
            raise DisplayError(f"monitor {monitor} does not exist; monitors: "
                               f"{listing(session.monitors)}",
                               f"choose --monitor from 1 to {len(session.monitors)}")
        return GnomeScreen(self, session, monitor)

    def open_input(self) -> GnomeInput:
        session = self.session()
        try:
            return GnomeInput(self, session)
        except BaseException:
            self.release()
            raise

    # -- the user's switches and listening ------------------------------------------------------

    def _media_keys(self) -> bool | None:
        try:
            bus = _session_bus()
        except DisplayError:
            return None
        try:
            return bus.has_owner("org.gnome.SettingsDaemon.MediaKeys")
        except Exception:
            return None
        finally:
            bus.close()

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None = None) -> ShortcutKillSwitch:
        from tracer_cli.desktop.platforms.gnome_shortcut import ShortcutKillSwitch

        return ShortcutKillSwitch(hotkey, stop, wake, self._media_keys())

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> ShortcutPauseSwitch:
        from tracer_cli.desktop.platforms.gnome_shortcut import ShortcutPauseSwitch

        return ShortcutPauseSwitch(hotkey, pause, on_toggle, self._media_keys())

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        raise DisplayError("tracer record cannot listen to input on GNOME on Wayland (no "
                           "program may hear the keys and clicks of other windows there)",
                           "record in a sandbox display (tracer sandbox start, then tracer "
                           "record --display :N) or in an X11 session ('GNOME on Xorg')")

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        """A connection of its own watches mutter's name on the session bus and the bus itself;
        the session closing (screen sharing stopped) is told too."""
        told = threading.Event()

        def once(reason: str) -> None:
            if not told.is_set():
                told.set()
                lost(reason)

        bus = _session_bus()

        def owner_changed(msg: Any) -> None:
            _name, _old, new = msg.body
            if not new:
                once("GNOME's compositor (mutter) went away: the session ended")

        bus.subscribe(owner_changed, sender="org.freedesktop.DBus", interface="org.freedesktop.DBus",
                      member="NameOwnerChanged", arg0=RD_DEST)
        bus.on_disconnect(lambda: once("the D-Bus session bus went away: the GNOME session ended"))
        self._watchers.append(once)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._watchers.remove(once)
            bus.close()

        return stop

    # -- doctor ---------------------------------------------------------------------------------

    def checks(self, monitor: int) -> list[Check]:
        rows = [self._check_bus(), _check_pipewire(), _check_gstreamer()]
        if not all(r.ok for r in rows):
            return [*rows, Check("screen capture", None, "needs the rows above"),
                    Check("input control", None, "needs the rows above"), self._check_shortcut()]
        try:
            session = self.session()
        except TracerError as exc:
            return [*rows, Check("screen capture", False, exc.message, exc.hint),
                    Check("input control", None, "needs a session"), self._check_shortcut()]
        try:
            rows.append(self._check_capture(session, monitor))
            rows.append(self._check_input(session))
        finally:
            self.release()
        return [*rows, self._check_shortcut()]

    def _check_bus(self) -> Check:
        name = "display"
        try:
            bus = _session_bus()
        except DisplayError as exc:
            return Check(name, False, exc.message, exc.hint)
        try:
            versions = []
            for dest, path, label in ((RD_DEST, RD_PATH, "RemoteDesktop"),
                                      (SC_DEST, SC_PATH, "ScreenCast")):
                if not bus.has_owner(dest):
                    return Check(name, False, f"{dest} is not on the session bus",
                                 "this needs GNOME (mutter) on Wayland: " + FIX_SESSION)
                versions.append(f"{label} {bus.get_property(dest, path, dest, 'Version')}")
            shell = ""
            if bus.has_owner("org.gnome.Shell"):
                shell = ", gnome-shell " + str(bus.get_property(
                    "org.gnome.Shell", "/org/gnome/Shell", "org.gnome.Shell", "ShellVersion"))
            else:
                shell = ", mutter without gnome-shell"
        except Exception as exc:
            return Check(name, False, f"the session bus did not answer: {exc}", FIX_SESSION)
        finally:
            bus.close()
        return Check(name, True, f"GNOME on Wayland ({self.display}): mutter's D-Bus "
                     f"{' and '.join(versions)}{shell}")

    def _check_capture(self, session: GnomeSession, monitor: int) -> Check:
        name = "screen capture"
        if not 1 <= monitor <= len(session.monitors):
            return Check(name, False, f"monitor {monitor} does not exist; monitors: "
                         f"{listing(session.monitors)}",
                         f"choose --monitor from 1 to {len(session.monitors)}")
        screen = GnomeScreen(self, session, monitor, owned=False)
        start = time.perf_counter()
        shot = screen.capture()
        ms = (time.perf_counter() - start) * 1000
        return Check(name, True, f"monitor {monitor} from its ScreenCast stream through "
                     f"PipeWire ({shot.image.width}x{shot.image.height}, {ms:.0f} ms, session "
                     f"{session.timings['first_frames'] * 1000:.0f} ms); monitors: "
                     f"{listing(session.monitors)}")

    def _check_input(self, session: GnomeSession) -> Check:
        name = "input control"
        eis = ("; ConnectToEIS is offered too (not used)" if session.offers("ConnectToEIS")
               else "")
        if not session.offers("NotifyKeyboardKeysym"):
            return Check(name, False, "this GNOME's RemoteDesktop session has no Notify* "
                         "methods" + eis, "report it: tracer needs a libei client here")
        try:
            keyboard = GnomeInput(self, session, owned=False)
            missing = keyboard.missing_keys(list(ESSENTIAL_KEYS))
            keymap = keyboard.keymap()
        except TracerError as exc:
            return Check(name, False, exc.message, exc.hint)
        width, height = keyboard.size()
        detail = (f"RemoteDesktop Notify* input on {width}x{height} (input scale 1: stream "
                  f"pixels){eis}; keymap {', '.join(keymap.layouts) or '?'}: "
                  f"{len(keymap.first_match[0]) if keymap.first_match else 0} keysyms, other "
                  "characters are pasted (the clipboard)")
        if missing:
            return Check(name, False, detail + f"; the keymap lacks {', '.join(missing)}",
                         "add a Latin keyboard layout in Settings > Keyboard")
        return Check(name, True, detail)

    def _check_shortcut(self) -> Check:
        name = "stop shortcut"
        present = self._media_keys()
        if present:
            return Check(name, True, "the kill and pause hotkeys are GNOME custom shortcuts "
                         "(gsd-media-keys runs them), removed when tracer exits")
        return Check(name, None, "gsd-media-keys is not running: the kill and pause hotkeys "
                     "cannot be armed; `tracer stop` and `tracer pause` work",
                     "bind `tracer stop` and `tracer pause` to keys in Settings > Keyboard, "
                     "and run with --kill-hotkey '' --pause-hotkey ''")


def _check_pipewire() -> Check:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    remote = os.environ.get("PIPEWIRE_REMOTE", "pipewire-0")
    path = remote if os.path.isabs(remote) else os.path.join(runtime, remote)
    if runtime and os.path.exists(path):
        return Check("PipeWire", True, f"{path}")
    return Check("PipeWire", False, f"no PipeWire socket ({path or 'XDG_RUNTIME_DIR is not set'})",
                 "systemctl --user start pipewire wireplumber")


def _check_gstreamer() -> Check:
    from tracer_cli.desktop.platforms.gnome_frames import GST_FIX

    name = "GStreamer pipewiresrc"
    if shutil.which("gst-launch-1.0") is None or shutil.which("gst-inspect-1.0") is None:
        return Check(name, False, "gst-launch-1.0 is missing", GST_FIX)
    done = subprocess.run(["gst-inspect-1.0", "pipewiresrc"], capture_output=True,
                          timeout=20)
    if done.returncode != 0:
        return Check(name, False, "GStreamer has no pipewiresrc element", GST_FIX)
    return Check(name, True, "gst-launch-1.0 with pipewiresrc")


class GnomeScreen:
    """One monitor's stream. ``owned``: this screen holds a use of the platform's session."""

    def __init__(self, platform: GnomePlatform, session: GnomeSession, index: int,
                 owned: bool = True) -> None:
        from tracer_cli.desktop.screen import Geometry, Rect

        self.platform, self.session, self.owned = platform, session, owned
        m = session.monitors[index - 1]
        self.reader = session.readers[index - 1]
        self.geometry = Geometry(Rect(m.left, m.top, m.width, m.height), index, (1.0, 1.0),
                                 desktop=platform.describe())
        self._fingerprint: tuple[int, bytes] | None = None

    def _latest(self) -> tuple[bytes, int]:
        r = self.reader
        with r.cond:
            if self.session.closed_reason and self.session.closed_reason != "closed":
                raise DisplayLost(self.session.closed_reason, RESTART)
            if r.error or r.frame is None:
                raise DisplayLost(f"the screen stream of monitor {self.geometry.index} stopped "
                                  f"({r.error or 'no frame'})", RESTART)
            return r.frame, r.seq

    def _image(self, frame: bytes) -> Image.Image:
        from PIL import Image

        return Image.frombuffer("RGB", (self.reader.width, self.reader.height), frame, "raw",
                                "BGRX", 0, 1)

    def capture(self) -> Screenshot:
        from tracer_cli.desktop.screen import Screenshot

        frame, _ = self._latest()
        return Screenshot(self._image(frame), self.geometry, time.time())

    def fingerprint(self) -> bytes:
        """CRC-32 of the latest frame (computed once per frame)."""
        frame, seq = self._latest()
        if self._fingerprint is None or self._fingerprint[0] != seq:
            self._fingerprint = (seq, zlib.crc32(frame).to_bytes(4, "big"))
        return self._fingerprint[1]

    def settled_capture(self) -> Screenshot:
        """The latest frame is the settled picture: mutter sends none while nothing changes."""
        return self.capture()

    def wait_settled(self, quiet: float = 0.25, timeout: float = 2.0) -> tuple[float, bool]:
        """Wait until no frame arrived for ``quiet`` seconds (counted from the later of the last
        frame and this call), at most ``timeout``: (seconds waited, whether it settled)."""
        r = self.reader
        start = time.monotonic()
        with r.cond:
            while True:
                if r.error:
                    raise DisplayLost(f"the screen stream of monitor {self.geometry.index} "
                                      f"stopped ({r.error})", RESTART)
                now = time.monotonic()
                since = max(r.frame_time, start)
                if now - since >= quiet:
                    return now - start, True
                if now - start >= timeout:
                    return now - start, False
                r.cond.wait(min(since + quiet, start + timeout) - now + 0.001)

    def close(self) -> None:
        if self.owned:
            self.owned = False
            self.platform.release()


class GnomeInput:
    """The session's virtual pointer and keyboard, in desktop pixels (input scale 1)."""

    def __init__(self, platform: GnomePlatform, session: GnomeSession, owned: bool = True) -> None:
        self.platform, self.session, self.owned = platform, session, owned
        self._keymap: Keymap | None = None
        self._keymap_time = 0.0
        self._held_keys: list[tuple[str, int]] = []
        self._held_buttons: set[int] = set()
        self._pending: tuple[float, list[int]] | None = None  # the last key: when, frame numbers
        self._key_latency = 0.05  # key -> frame, a running estimate (s)
        m = session.monitors[0]
        self._pos: tuple[int, int] = (m.left + m.width // 2, m.top + m.height // 2)
        if not session.warmed:
            self._warm_up()
            session.warmed = True

    def _warm_up(self, timeout: float = 3.0) -> None:
        """mutter makes the session's virtual keyboard and pointer on their first event, and
        programs learn of them a moment later: without this the first keys are lost. A shift
        press and release and a motion make them; then wait until a Wayland client sees the
        seat with both."""
        from tracer_cli.desktop.platforms.gnome_keymap import seat_capabilities

        if not self.session.offers("NotifyKeyboardKeycode"):
            raise DisplayError("this GNOME's RemoteDesktop session has no Notify* input methods",
                               "report it: tracer needs a libei client on this GNOME")
        self.session.call("NotifyKeyboardKeycode", "ub", (42, True))
        self.session.call("NotifyKeyboardKeycode", "ub", (42, False))
        self.move(*self._pos)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if seat_capabilities(self.platform.socket) & 3 == 3:
                    break
            except Exception as exc:
                raise DisplayError(f"cannot reach the Wayland display {self.platform.display}: "
                                   f"{exc}", "set WAYLAND_DISPLAY to GNOME's socket "
                                   "(run tracer inside your GNOME session)") from None
            time.sleep(0.01)
        self.keymap()

    # -- pointer --------------------------------------------------------------------------------

    def size(self) -> tuple[int, int]:
        found = self.session.monitors
        return max(m.left + m.width for m in found), max(m.top + m.height for m in found)

    def position(self) -> tuple[int, int]:
        """Where tracer last put the pointer (mutter does not tell a remote desktop session
        where the pointer is: the user's own moves since then are not seen)."""
        return self._pos

    def move(self, x: int, y: int) -> None:
        x, y = int(x), int(y)
        for m, (_, path, _) in zip(self.session.monitors, self.session.streams, strict=True):
            if m.contains(x, y):
                self.session.call("NotifyPointerMotionAbsolute", "sdd",
                                  (path, float(x - m.left), float(y - m.top)))
                self._pos = (x, y)
                return
        raise ActionError(f"point ({x},{y}) is on no monitor ({listing(self.session.monitors)})")

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        self.move(x, y)
        for n in range(clicks):
            if n:
                time.sleep(0.05)
            self.button(button, True)
            self.button(button, False)
        time.sleep(0.02)

    def button(self, name: str, down: bool) -> None:
        code = BUTTONS.get(name)
        if code is None:
            raise ActionError(f"unknown mouse button {name!r}")
        self._settle_keys()  # the keys typed before may still be on their way through IBus
        self.session.call("NotifyPointerButton", "ib", (code, down))
        (self._held_buttons.add if down else self._held_buttons.discard)(code)

    def scroll(self, x: int, y: int, clicks: int) -> None:
        self.move(x, y)
        if clicks:  # mutter: positive steps scroll down; tracer: positive is up
            self.session.call("NotifyPointerAxisDiscrete", "ui", (0, -int(clicks)))
        time.sleep(0.02)

    # -- keyboard -------------------------------------------------------------------------------

    def keymap(self, max_age: float = 2.0) -> Keymap:
        """The seat's keymap, read again when older than ``max_age`` seconds (the user may
        switch layouts)."""
        from tracer_cli.desktop.platforms.gnome_keymap import fetch_keymap

        if self._keymap is None or time.monotonic() - self._keymap_time > max_age:
            try:
                self._keymap = fetch_keymap(self.platform.socket)
            except Exception as exc:
                raise DisplayError(f"cannot read GNOME's keyboard layout: {exc}",
                                   "set WAYLAND_DISPLAY to GNOME's socket (run tracer inside "
                                   "your GNOME session)") from None
            self._keymap_time = time.monotonic()
        return self._keymap

    def _entry(self, name: str) -> tuple[str, int] | None:
        """("code", evdev code) or ("sym", keysym) that presses key ``name``; None: none."""
        from tracer_cli.desktop.platforms.gnome_keymap import char_to_keysym

        lower = name.lower() if len(name) > 1 else name
        if lower in KEYCODES:
            return "code", KEYCODES[lower]
        if len(name) == 1:
            keysym = char_to_keysym(name.lower() if name.isalpha() else name)
            if self.keymap().keysym_ok(keysym):
                return "sym", keysym
            if name.lower() in US_KEYCODES:
                return "code", US_KEYCODES[name.lower()]
        return None

    def missing_keys(self, keys: list[str]) -> list[str]:
        return [k for k in keys if self._entry(k) is None]

    def key(self, name: str, down: bool) -> None:
        entry = self._entry(name)
        if entry is None:
            raise ActionError(f"cannot press {name!r}: not on this keyboard layout")
        if down:
            self._send(entry, True)
            self._held_keys.append(entry)
        else:
            self._send(entry, False)
            if entry in self._held_keys:
                self._held_keys.remove(entry)

    def _tap(self, entry: tuple[str, int], level: int = 0) -> None:
        self._send(entry, True, level)
        self._send(entry, False, level)

    @staticmethod
    def _is_modifier(entry: tuple[str, int]) -> bool:
        kind, value = entry
        if kind == "code":
            return value in MODIFIER_KEYCODES
        return 0xFFE1 <= value <= 0xFFEE or value in (0xFE03, 0xFE11)

    def _send(self, entry: tuple[str, int], down: bool, level: int = 0) -> None:
        """One key event. A modifier change (mutter adds Shift itself for level 1) first waits
        until the keys before it were handled: gnome-shell passes keys through IBus
        asynchronously while modifier changes reach programs at once, so a shift release could
        overtake the 'H' before it."""
        kind, value = entry
        if self._is_modifier(entry) or level > 0:
            self._settle_keys()
        self.session.call("NotifyKeyboardKeysym" if kind == "sym" else "NotifyKeyboardKeycode",
                          "ub", (value, down))
        if not self._is_modifier(entry):
            self._pending = (time.monotonic(), [r.seq for r in self.session.readers])

    def _settle_keys(self) -> None:
        """Wait until the keys sent so far were drawn: a frame after the last one, then no
        frame for a gap (1.5 times the key -> frame latency seen so far, at least 30 ms: a
        frame may still be an earlier key's); at most a cap after that key (four times that
        latency, 0.15 to 1 s: a key that changes nothing costs the whole cap)."""
        if self._pending is None:
            return
        gap = max(0.03, 1.5 * self._key_latency)
        cap = min(max(4 * self._key_latency, 0.15), 1.0)
        sent, seqs = self._pending
        readers = self.session.readers
        deadline = sent + cap
        while time.monotonic() < deadline and not any(r.seq > s for r, s in zip(readers, seqs, strict=True)):
            time.sleep(0.002)
        first = [r.frame_time for r, s in zip(readers, seqs, strict=True) if r.seq > s]
        if first:
            self._key_latency = 0.7 * self._key_latency + 0.3 * max(min(first) - sent, 0.0)
        while time.monotonic() < deadline and \
                time.monotonic() - max(r.frame_time for r in readers) < gap:
            time.sleep(0.002)
        self._pending = None

    def untypable(self, text: str) -> list[str]:
        """Control characters only: what the keymap cannot type is pasted."""
        return sorted({ch for ch in text if ch not in "\n\t" and
                       (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0)})

    def type_char(self, ch: str) -> None:
        from tracer_cli.desktop.platforms.gnome_keymap import char_to_keysym

        if ch == "\n":
            return self._tap(("code", KEYCODES["enter"]))
        if ch == "\t":
            return self._tap(("code", KEYCODES["tab"]))
        if self.untypable(ch):
            raise ActionError(f"cannot type {ch!r} (U+{ord(ch):04X}): a control character")
        keymap = self.keymap()
        keysym = char_to_keysym(ch)
        if not keymap.keysym_ok(keysym):
            return self._paste(ch)
        if ch.lower() != ch.upper() and self._caps_lock():
            # mutter adds shift for level 1 but knows nothing of Caps Lock: ask for the other case
            other = ch.lower() if ch.isupper() else ch.upper()
            if len(other) == 1 and keymap.keysym_ok(char_to_keysym(other)):
                keysym = char_to_keysym(other)
        level = max(found[keysym][1] for found in keymap.first_match)
        self._tap(("sym", keysym), level)
        return None

    def _caps_lock(self) -> bool:
        try:
            return bool(self.session.bus.get_property(RD_DEST, self.session.rd_path, RD_SESSION,
                                                      "CapsLockState"))
        except Exception:
            return False

    # -- the clipboard route --------------------------------------------------------------------

    def _enable_clipboard(self) -> None:
        s = self.session
        if s.clip_enabled:
            return
        s._unsubscribe.append(s.bus.subscribe(self._on_transfer, path=s.rd_path,
                                              interface=RD_SESSION, member="SelectionTransfer"))
        s._unsubscribe.append(s.bus.subscribe(self._on_owner, path=s.rd_path,
                                              interface=RD_SESSION, member="SelectionOwnerChanged"))
        s.call("EnableClipboard", "a{sv}", ({},))
        s.clip_enabled = True
        s.clip_saved = self._read_clipboard()

    def _on_owner(self, msg: Any) -> None:
        self.session.clip_owner = {k: v[1] for k, v in msg.body[0].items()}

    def _read_clipboard(self, timeout: float = 1.0) -> str | None:
        """The clipboard's text before tracer replaced it (None: none, or not text)."""
        s = self.session
        deadline = time.monotonic() + 0.2
        while not s.clip_owner and time.monotonic() < deadline:
            time.sleep(0.01)  # mutter tells the current owner on EnableClipboard
        types = s.clip_owner.get("mime-types", [])
        wanted = next((t for t in CLIPBOARD_TYPES if t in types), None)
        if wanted is None or s.clip_owner.get("session-is-owner"):
            return None
        try:
            (fd,) = s.call("SelectionRead", "s", (wanted,))
        except TracerError:
            return None
        data = b""
        with fd.to_file("rb") as pipe:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                ready, _, _ = select.select([pipe], [], [], end - time.monotonic())
                if not ready:
                    return None  # the owner did not answer in time
                chunk = os.read(pipe.fileno(), 65536)
                if not chunk:
                    return data.decode("utf-8", "replace")
                data += chunk
        return None

    def _on_transfer(self, msg: Any) -> None:
        s = self.session
        _mime, serial = msg.body
        text, ok = s.clip_text, False
        try:
            (fd,) = s.call("SelectionWrite", "u", (serial,))
            with fd.to_file("wb") as pipe:
                if text is not None:
                    pipe.write(text.encode("utf-8"))
                    ok = True
        except Exception:
            ok = False
        finally:
            with contextlib.suppress(Exception):
                s.call("SelectionWriteDone", "ub", (serial, ok))
            if ok:
                s.clip_served.set()

    def _offer(self, text: str) -> None:
        s = self.session
        s.clip_text = text
        s.call("SetSelection", "a{sv}", ({"mime-types": ("as", CLIPBOARD_TYPES)},))

    def _paste(self, text: str, timeout: float = 2.0) -> None:
        """Offer ``text`` as the clipboard and press Ctrl+V; an ActionError unless the focused
        window asked for it. Then the user's clipboard text is offered again (while tracer
        runs: GNOME drops a remote session's clipboard when the session ends)."""
        s = self.session
        with s.clip_lock:
            self._enable_clipboard()
            s.clip_served.clear()
            self._offer(text)
            seqs = [r.seq for r in s.readers]
            ctrl, v = ("code", KEYCODES["ctrl"]), self._entry("v")
            assert v is not None
            self._send(ctrl, True)
            try:
                self._tap(v)
            finally:
                self._send(ctrl, False)
            if not s.clip_served.wait(timeout):
                raise ActionError(f"cannot type {text!r}: it is not on the keyboard layout, and "
                                  "the focused window did not paste it from the clipboard "
                                  "(Ctrl+V)")
            # The program reads the pipe and inserts the text asynchronously: a key sent now
            # could overtake it. Wait for the frame that shows it.
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline and not any(
                    r.wait_frame(seq, 0.01) for r, seq in zip(s.readers, seqs, strict=True)):
                pass
            if s.clip_saved is not None:
                self._offer(s.clip_saved)

    def user_modifiers(self) -> None:
        """Unknown: mutter does not tell a remote desktop session about other keyboards."""
        return None

    def release(self, keys: list[str]) -> None:
        """Let go of every key and button this input holds (``keys`` are among them: nothing
        else presses keys on this session's keyboard)."""
        for entry in reversed(self._held_keys):
            with contextlib.suppress(TracerError):
                self._send(entry, False)
        self._held_keys.clear()
        for code in list(self._held_buttons):
            with contextlib.suppress(TracerError):
                self.session.call("NotifyPointerButton", "ib", (code, False))
        self._held_buttons.clear()

    def close(self) -> None:
        with contextlib.suppress(TracerError):
            self.release([])
        if self.owned:
            self.owned = False
            self.platform.release()
