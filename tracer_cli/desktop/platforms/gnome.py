"""GNOME on Wayland, through mutter's own D-Bus interfaces: no portal, no consent dialog.

One RemoteDesktop session with a ScreenCast session tied to it, and one stream per monitor,
serve a run's screens and input (``GnomeSession``: opened on first use, closed when the last
screen or input is closed, or at exit). Only the D-Bus connection that created the session may
send input (mutter checks the sender), and mutter ends the session when that connection goes
away: a killed tracer leaves nothing behind.

- Pictures: each stream's PipeWire node through ``gst-launch-1.0 pipewiresrc`` (gnome_frames).
  mutter sends a frame only when the picture changed: no new frame for ``quiet`` seconds is a
  settled screen.
- Input (gnome_input): the session's virtual pointer on each monitor's stream, whose pixels
  are physical pixels whatever the scale (desktop pixels, input scale 1: exact at scale 2 and
  on every monitor); keys by evdev code, characters by keysym where the seat's keymap types
  them exactly, pasted otherwise.
- The kill and pause switches (gnome_shortcut): GNOME custom shortcuts.
- GNOME 45 and later also offer ``ConnectToEIS`` (libei); the ``Notify*`` methods remain, up to
  mutter 50 at least, and are what tracer uses (doctor says which are offered).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import ESSENTIAL_KEYS, PLATFORMS, Check
from tracer_cli.errors import ActionError, DisplayError, DisplayLost, TracerError

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.platforms.dbus_client import Bus
    from tracer_cli.desktop.platforms.gnome_frames import FrameReader
    from tracer_cli.desktop.platforms.gnome_input import GnomeInput
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
    from tracer_cli.desktop.platforms.dbus_client import Bus

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
        from tracer_cli.desktop.platforms.dbus_client import BusError
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
                reader.wait_caps(10)  # the stream is negotiated: a frame should follow
                if not reader.wait_frame(0, 0.2):
                    self._nudge()  # a still screen may send no frame until something repaints
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
        from tracer_cli.desktop.platforms.dbus_client import BusError

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


NO_WINDOW_POSITIONS = (
    "not mapped on %s: Wayland programs report element boxes relative to their windows, and "
    "GNOME tells no ordinary program where windows lie (org.gnome.Shell.Introspect.GetWindows "
    "answers only the desktop portals, or anyone in the shell's unsafe mode, and even then "
    "with window sizes but no positions; org.gnome.Shell.Eval answers only in unsafe mode; "
    "mutter's own D-Bus interfaces describe monitors, not windows)")


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

    def elements(self) -> Any:
        """No elements: Wayland programs report element boxes relative to their windows, and
        nothing of GNOME tells an ordinary program where its windows lie (read in mutter's and
        gnome-shell's sources, 43-47)."""
        from tracer_cli.desktop.elements import NoElements

        return NoElements(NO_WINDOW_POSITIONS % self.describe())

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
        from tracer_cli.desktop.platforms.gnome_input import GnomeInput

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
        from tracer_cli.desktop.platforms.gnome_input import GnomeInput

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

    def settled_capture(self, max_age: float = 0.2) -> Screenshot:
        """The latest frame is the settled picture, however old: mutter sends none while
        nothing changes."""
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
