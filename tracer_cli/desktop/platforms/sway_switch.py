"""The kill and pause hotkeys on sway: a binding of the run's own, heard over sway's IPC.

A Wayland client cannot listen to the keyboard, but sway can run a command on a chord. While a
run is armed, the chord is bound (over IPC) to ``nop tracer-<pid>-<token>``: a command that does
nothing, so no process starts when it is pressed; tracer subscribes to sway's "binding" events
and sees its own ``nop`` run. The focused program never gets the chord. ``--inhibited`` keeps it
working while a program inhibits shortcuts (a virtual machine, a remote desktop).

``close()`` removes the binding. If tracer is killed (kill -9) it cannot: a janitor process
started with the binding holds the read end of a pipe only tracer writes to; when tracer dies
the pipe closes and the janitor removes the binding, then exits. On a normal close tracer
removes the binding itself and ends the janitor first, so that it cannot remove a later run's.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from tracer_cli.desktop.killswitch import (
    KINDS,
    SHIFTED,
    TYPED,
    Binding,
    KillAction,
    PauseAction,
    PauseRequest,
    _bad,
)
from tracer_cli.desktop.platforms.swayipc import (
    EVENT_BINDING,
    EVENT_SHUTDOWN,
    SUBSCRIBE,
    SwayIPC,
    SwayIPCError,
)
from tracer_cli.errors import DisplayError

# pynput's modifier names (the hotkey syntax) -> sway's modifier, tracer's key name
MODIFIERS = {"ctrl": ("Ctrl", "ctrl"), "alt": ("Mod1", "alt"), "shift": ("Shift", "shift"),
             "cmd": ("Mod4", "win"), "super": ("Mod4", "win"), "win": ("Mod4", "win"),
             "alt_gr": ("Mod5", "altgr")}
# pynput's other key names -> the xkb keysym sway binds, tracer's key name
KEYS = {"esc": ("Escape", "escape"), "enter": ("Return", "enter"), "space": ("space", "space"),
        "tab": ("Tab", "tab"), "backspace": ("BackSpace", "backspace"),
        "delete": ("Delete", "delete"), "insert": ("Insert", "insert"), "home": ("Home", "home"),
        "end": ("End", "end"), "page_up": ("Prior", "pageup"), "page_down": ("Next", "pagedown"),
        "up": ("Up", "up"), "down": ("Down", "down"), "left": ("Left", "left"),
        "right": ("Right", "right"), "pause": ("Pause", "pause"),
        "print_screen": ("Print", "printscreen"), "menu": ("Menu", "apps"),
        **{f"f{n}": (f"F{n}", f"f{n}") for n in range(1, 25)}}
# characters of the US layout's unshifted keys -> their keysym names
SIGNS = {"-": "minus", "=": "equal", "[": "bracketleft", "]": "bracketright", ";": "semicolon",
         "'": "apostrophe", "`": "grave", "\\": "backslash", ",": "comma", ".": "period",
         "/": "slash"}
FLAGS = "--no-repeat --inhibited"
MECHANISM = "a sway binding"

# Run as `python -S -c JANITOR SWAYSOCK COMMAND...`: waits for end of file on stdin (tracer
# died: its end of the pipe closed), then sends each command to sway.
JANITOR = r"""
import signal, socket, struct, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
while sys.stdin.buffer.read(4096):
    pass
for command in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    try:
        s.connect(sys.argv[1])
        p = command.encode()
        s.sendall(b"i3-ipc" + struct.pack("=II", len(p), 0) + p)
        s.recv(4096)
    except OSError:
        pass
    finally:
        s.close()
"""


def parse(hotkey: str, kind: str = "kill") -> tuple[str, frozenset[str]]:
    """The hotkey as sway binds it (``<ctrl>+<alt>+<shift>+k`` -> ``Ctrl+Mod1+Shift+k``) and its
    keys in the actuator's names; the same refusals as the X11 hotkeys (killswitch.parse)."""
    parts = hotkey.split("+")
    if not hotkey or any(not p for p in parts):
        raise _bad(hotkey, "is not valid (empty, or a + without a key)", kind)
    mods: list[str] = []
    keys: list[str] = []
    names: list[str] = []
    for part in parts:
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1].lower()
            if name.endswith(("_l", "_r")) and name[:-2] in MODIFIERS:
                raise _bad(hotkey, f"names one side of a modifier ({part}); use <{name[:-2]}>, "
                           "which is either side", kind)
            if name in MODIFIERS:
                sway, ours = MODIFIERS[name]
                mods.append(sway)
            elif name in KEYS:
                sway, ours = KEYS[name]
                keys.append(sway)
            else:
                raise _bad(hotkey, f"is not valid: sway cannot bind {part}", kind)
        elif len(part) == 1:
            if part in SHIFTED or part.isupper():
                raise _bad(hotkey, "uses a character typed with shift; use its unshifted key "
                           "with <shift>, or a letter", kind)
            if not (part.isascii() and (part.isalnum() or part in SIGNS)):
                raise _bad(hotkey, f"is not valid: sway cannot bind {part!r} here; use a letter",
                           kind)
            ours = part
            keys.append(SIGNS.get(part, part))
        else:
            raise _bad(hotkey, f"is not valid: unknown key {part!r}", kind)
        if ours in names:
            raise _bad(hotkey, "is not valid (a key named twice)", kind)
        names.append(ours)
    chord = frozenset(names)
    if len(keys) != 1:
        raise _bad(hotkey, "must have exactly one key besides its modifiers for sway to bind it",
                   kind)
    if "shift" in chord and not keys[0].isalpha():
        raise _bad(hotkey, "combines <shift> with a digit or sign, which shift turns into "
                   "another character; use a letter", kind)
    if all(n in TYPED or len(n) == 1 for n in chord):
        raise _bad(hotkey, "is something tracer's own typing could press; add <ctrl> or <alt>", kind)
    return "+".join([*mods, *keys]), chord


class SwayBinding(Binding):
    """A chord bound in sway while armed; the action mixed in (killswitch.KillAction,
    PauseAction) says what its press and release do."""

    kind = "kill"
    mechanism = MECHANISM

    def __init__(self, hotkey: str, swaysock: str) -> None:
        from tracer_cli.desktop.killswitch import label

        self.hotkey = hotkey
        self.label = label(hotkey)
        self.combo, self.chord = parse(hotkey, self.kind)
        self.warning = ""
        self.swaysock = swaysock
        self.tag = f"tracer-{os.getpid()}-{secrets.token_hex(4)}"
        self._name, _, self._turn_off = KINDS[self.kind]
        self._commands: SwayIPC | None = None
        self._events: SwayIPC | None = None
        self._thread: threading.Thread | None = None
        self._janitor: subprocess.Popen[bytes] | None = None

    def bindings(self) -> list[tuple[str, str]]:
        """(flags, command) of each binding of the chord: the press's, by default."""
        return [(FLAGS, f"nop {self.tag}")]

    def start(self) -> None:
        try:
            self._commands = SwayIPC(self.swaysock)
            self._events = SwayIPC(self.swaysock, timeout=None)
            if not self._events.request(SUBSCRIBE, '["binding", "shutdown"]').get("success"):
                raise SwayIPCError("sway refused the subscription to binding events")
            for flags, command in self.bindings():
                self._commands.command(f"bindsym {flags} {self.combo} {command}")
        except (OSError, SwayIPCError) as exc:
            self.close()
            raise DisplayError(f"cannot arm the {self._name} as a sway binding: {exc}",
                               f"check that sway runs and SWAYSOCK names its socket, or run "
                               f"without it: {self._turn_off}") from None
        self._janitor = subprocess.Popen(
            [sys.executable, "-S", "-c", JANITOR, self.swaysock, *self._unbind_commands()],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        self._thread = threading.Thread(target=self._listen, name=f"sway-{self.kind}",
                                        daemon=True)
        self._thread.start()

    def _unbind_commands(self) -> list[str]:
        # unbindsym must repeat the flags the binding was made with, or sway finds none
        return [f"unbindsym {flags} {self.combo}" for flags, _ in self.bindings()]

    def _listen(self) -> None:
        events = self._events
        assert events is not None
        mine = {command: "release" in flags for flags, command in self.bindings()}
        while True:
            try:
                kind, body = events.receive()
            except (OSError, SwayIPCError):
                return
            if kind == EVENT_SHUTDOWN:
                return
            if kind == EVENT_BINDING:
                command = (body or {}).get("binding", {}).get("command")
                if command in mine:
                    with contextlib.suppress(Exception):  # a listener thread must not die
                        (self.released if mine[command] else self.pressed)()

    @property
    def armed(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        commands, self._commands = self._commands, None
        if commands is not None:
            for command in self._unbind_commands():
                with contextlib.suppress(OSError, SwayIPCError):
                    commands.command(command)
            commands.close()
        janitor, self._janitor = self._janitor, None
        if janitor is not None:  # the binding is gone: the janitor must not remove a later one
            janitor.kill()
            janitor.wait()
            if janitor.stdin is not None:
                janitor.stdin.close()
        events, self._events = self._events, None
        if events is not None:
            with contextlib.suppress(OSError):
                events.sock.shutdown(2)
            events.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(2)


class SwayKillSwitch(KillAction, SwayBinding):
    """Sets ``stop`` (once) and calls ``wake`` when the chord is pressed."""

    def __init__(self, hotkey: str, swaysock: str, stop: Any,
                 wake: Callable[[], None] | None = None) -> None:
        SwayBinding.__init__(self, hotkey, swaysock)
        KillAction.__init__(self, stop, wake)


class SwayPauseSwitch(PauseAction, SwayBinding):
    """Toggles ``pause`` once per press of the chord (sway does not repeat it); sway tells the
    release through a second, --release binding."""

    def __init__(self, hotkey: str, swaysock: str, pause: PauseRequest,
                 on_toggle: Callable[[bool], None] | None = None) -> None:
        SwayBinding.__init__(self, hotkey, swaysock)
        PauseAction.__init__(self, pause, on_toggle)

    def bindings(self) -> list[tuple[str, str]]:
        return [(FLAGS, f"nop {self.tag}"),
                ("--release --inhibited", f"nop {self.tag}-released")]
