"""The kill and pause hotkeys on KDE Plasma: a global shortcut of the run's own, registered with
KGlobalAccel (org.kde.kglobalaccel, which KWin runs on Wayland) over D-Bus.

While a run is armed, a component ``tracer-<pid>-<token>`` owns one action whose shortcut is the
chord; KGlobalAccel tells it of each press and release (the component's globalShortcutPressed
and globalShortcutReleased signals), and the focused program never gets the chord's key. A chord
another component holds is refused at start (KGlobalAccel answers with no key), naming it.

``close()`` unregisters the action (KGlobalAccel then forgets it, in kglobalshortcutsrc too). If
tracer is killed (kill -9) it cannot: a janitor process started with the shortcut holds the read
end of a pipe only tracer writes to; when tracer dies the pipe closes and the janitor
unregisters the action, then exits. On a normal close tracer unregisters it itself and ends the
janitor first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tracer_cli.desktop.killswitch import KINDS, Binding, KillAction, PauseAction, PauseRequest
from tracer_cli.desktop.platforms.sway_switch import parse
from tracer_cli.errors import ConfigError, DisplayError

SERVICE, PATH, IFACE = "org.kde.kglobalaccel", "/kglobalaccel", "org.kde.KGlobalAccel"
COMPONENT_IFACE = "org.kde.kglobalaccel.Component"
MECHANISM = "a KDE global shortcut"
SET_PRESENT, NO_AUTOLOADING = 2, 4
# KGlobalAccel repeats the press while the chord is held (after ~0.6 s, then every 40 ms): a press
# within REPEAT of the last one, with no release between, is a repeat. Its release can go
# missing (seen rarely while tracer typed): a press later than that counts as a new one, and a
# hand back waits at most RELEASE_WAIT for the release.
REPEAT = 0.8
RELEASE_WAIT = 1.0
# Qt's modifier bits and key codes (qnamespace.h), for the keysyms sway_switch.parse gives
QT_MODIFIERS = {"Shift": 0x02000000, "Ctrl": 0x04000000, "Mod1": 0x08000000, "Mod4": 0x10000000}
QT_KEYS = {"Escape": 0x01000000, "Tab": 0x01000001, "BackSpace": 0x01000003,
           "Return": 0x01000004, "Insert": 0x01000006, "Delete": 0x01000007,
           "Pause": 0x01000008, "Print": 0x01000009, "Home": 0x01000010, "End": 0x01000011,
           "Left": 0x01000012, "Up": 0x01000013, "Right": 0x01000014, "Down": 0x01000015,
           "Prior": 0x01000016, "Next": 0x01000017, "Menu": 0x01000055, "space": 0x20,
           **{f"F{n}": 0x01000030 + n - 1 for n in range(1, 25)}}
SIGNS = {"minus": "-", "equal": "=", "bracketleft": "[", "bracketright": "]", "semicolon": ";",
         "apostrophe": "'", "grave": "`", "backslash": "\\", "comma": ",", "period": ".",
         "slash": "/"}

# Run as `python -S -c JANITOR JEEPNEY_DIR BUS COMPONENT ACTION...`: waits for end of file on
# stdin (tracer died: its end of the pipe closed), then unregisters each action.
JANITOR = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
while sys.stdin.buffer.read(4096):
    pass
sys.path.insert(0, sys.argv[1])
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
try:
    conn = open_dbus_connection(sys.argv[2])
    where = DBusAddress("/kglobalaccel", bus_name="org.kde.kglobalaccel",
                        interface="org.kde.KGlobalAccel")
    for action in sys.argv[4:]:
        conn.send_and_get_reply(new_method_call(where, "unregister", "ss",
                                                (sys.argv[3], action)), timeout=5)
    conn.close()
except Exception:
    pass
"""


def qt_key(combo: str, hotkey: str, kind: str) -> int:
    """The chord as KGlobalAccel stores it (one int: Qt modifier bits plus a Qt key code)."""
    *mods, key = combo.split("+")
    value = 0
    for mod in mods:
        if mod not in QT_MODIFIERS:
            _, example, turn_off = KINDS[kind]
            raise ConfigError(f"{kind} hotkey {hotkey!r} uses a modifier KDE cannot bind here",
                              f"write it like {example}, or turn it off: {turn_off}")
        value |= QT_MODIFIERS[mod]
    if key in QT_KEYS:
        return value | QT_KEYS[key]
    char = SIGNS.get(key, key)
    return value | ord(char.upper())


def bus_address(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    return env.get("DBUS_SESSION_BUS_ADDRESS", "") or "SESSION"


class KdeShortcut(Binding):
    """A chord registered with KGlobalAccel while armed; the action mixed in
    (killswitch.KillAction, PauseAction) says what its press and release do."""

    kind = "kill"
    mechanism = MECHANISM

    def __init__(self, hotkey: str, address: str) -> None:
        from tracer_cli.desktop.killswitch import label

        self.hotkey = hotkey
        self.label = label(hotkey)
        self.combo, self.chord = parse(hotkey, self.kind)
        self.key = qt_key(self.combo, hotkey, self.kind)
        self.warning = ""
        self.address = address
        self.component = f"tracer-{os.getpid()}-{secrets.token_hex(4)}"
        self.action = self.kind
        self._name, _, self._turn_off = KINDS[self.kind]
        self._bus: Any = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._janitor: subprocess.Popen[bytes] | None = None
        self._registered = False
        self._down = False
        self._last_press = 0.0

    def _action_id(self) -> list[str]:
        return [self.component, self.action, "tracer", f"tracer: the {self._name}"]

    def _call(self, method: str, sig: str = "", body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        return self._bus.call(SERVICE, PATH, IFACE, method, sig, body, timeout=5)

    def start(self) -> None:
        from tracer_cli.desktop.platforms.dbus_client import Bus, BusError

        try:
            self._bus = Bus(self.address, timeout=5)
            if not self._bus.has_owner(SERVICE):
                raise DisplayError(f"cannot arm the {self._name}: KDE's global shortcuts "
                                   f"({SERVICE}) do not run in this session",
                                   f"bind `tracer {'stop' if self.kind == 'kill' else 'pause'}` "
                                   f"to a key in System Settings, then run with {self._turn_off}")
            self._call("doRegister", "as", (self._action_id(),))
            self._registered = True
            (got,) = self._call("setShortcut", "asaiu", (self._action_id(), [self.key],
                                                         SET_PRESENT | NO_AUTOLOADING))
            if list(got) != [self.key]:
                raise DisplayError(f"cannot arm the {self._name} ({self.label}): "
                                   f"{self._holder()} already uses it",
                                   f"choose another chord, or run with {self._turn_off}")
            (path,) = self._call("getComponent", "s", (self.component,))
            for member in ("globalShortcutPressed", "globalShortcutReleased"):
                self._unsubscribe.append(self._bus.subscribe(
                    self._signal, path=str(path), interface=COMPONENT_IFACE, member=member))
        except DisplayError:
            self.close()
            raise
        except (BusError, OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise DisplayError(f"cannot arm the {self._name} as a KDE global shortcut: {exc}",
                               f"check that KWin runs, or run without it: {self._turn_off}"
                               ) from None
        import jeepney

        self._janitor = subprocess.Popen(
            [sys.executable, "-S", "-c", JANITOR, os.path.dirname(os.path.dirname(
                jeepney.__file__)), self.address, self.component, self.action],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)

    def _holder(self) -> str:
        with contextlib.suppress(Exception):
            (found,) = self._call("getGlobalShortcutsByKey", "i", (self.key,))
            for info in found:
                # KGlobalShortcutInfo: (contextUnique, contextFriendly, componentUnique,
                # componentFriendly, uniqueName, friendlyName, keys, defaultKeys)
                if info[2] != self.component:
                    return f"{info[3] or info[2]}'s \"{info[5] or info[4]}\""
        return "another program"

    def _signal(self, message: Any) -> None:
        from jeepney import HeaderFields

        component, action = message.body[0], message.body[1]
        if component == self.component and action == self.action:
            released = message.header.fields.get(HeaderFields.member) == "globalShortcutReleased"
            now = time.monotonic()
            if released:
                if not self._down:
                    return  # a release without its press
                self._down = False
            else:
                if self._down and now - self._last_press < REPEAT:
                    self._last_press = now
                    return  # the press repeated while held
                self._down, self._last_press = True, now
            (self.released if released else self.pressed)()

    @property
    def armed(self) -> bool:
        return self._janitor is not None

    def close(self) -> None:
        bus, self._bus = self._bus, None
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if bus is not None:
            if self._registered:
                with contextlib.suppress(Exception):
                    bus.call(SERVICE, PATH, IFACE, "unregister", "ss",
                             (self.component, self.action), timeout=5)
                self._registered = False
            bus.close()
        janitor, self._janitor = self._janitor, None
        if janitor is not None:  # the shortcut is gone: the janitor has nothing left to do
            janitor.kill()
            janitor.wait()
            if janitor.stdin is not None:
                janitor.stdin.close()


class KdeKillSwitch(KillAction, KdeShortcut):
    """Sets ``stop`` (once) and calls ``wake`` when the chord is pressed."""

    def __init__(self, hotkey: str, address: str, stop: Any,
                 wake: Callable[[], None] | None = None) -> None:
        KdeShortcut.__init__(self, hotkey, address)
        KillAction.__init__(self, stop, wake)


class KdePauseSwitch(PauseAction, KdeShortcut):
    """Toggles ``pause`` once per press; a release that went missing resumes RELEASE_WAIT after
    the press."""

    release_wait = RELEASE_WAIT

    def __init__(self, hotkey: str, address: str, pause: PauseRequest,
                 on_toggle: Callable[[bool], None] | None = None) -> None:
        KdeShortcut.__init__(self, hotkey, address)
        PauseAction.__init__(self, pause, on_toggle)
