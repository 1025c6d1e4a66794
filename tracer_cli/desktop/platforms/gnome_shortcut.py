"""The kill and pause switches on GNOME: a custom keyboard shortcut (what Settings > Keyboard >
Custom Shortcuts writes), because a Wayland client cannot hear keys pressed in other windows.

gsd-media-keys, part of every GNOME session, grabs the chord in gnome-shell and runs the
shortcut's command when it is pressed. The command writes one byte into a FIFO in a private
folder; a thread of tracer's reading it fires the switch. The shortcut lives in dconf, so it
would outlive a killed tracer: a guard process (in a session of its own, so Ctrl-C does not
reach it) waits for the end of a pipe only tracer writes to, and removes the shortcut when
tracer exits, however it exits, even by SIGKILL. A shortcut that survives anyway (the guard
killed too, the machine crashed) runs a harmless command and is removed by the next start.

gnome-shell's own GrabAccelerator is not used: it answers only callers owning the bus names of
Settings or of gsd-media-keys itself.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tracer_cli.desktop.killswitch import (
    KINDS,
    PYNPUT_NAMES,
    SHIFTED,
    TYPED,
    Binding,
    KillAction,
    PauseAction,
    PauseRequest,
    _bad,
    label,
)
from tracer_cli.errors import DisplayError

SCHEMA = "org.gnome.settings-daemon.plugins.media-keys"
ENTRY_SCHEMA = f"{SCHEMA}.custom-keybinding"
ENTRY_PREFIX = "/org/gnome/settings-daemon/plugins/media-keys/custom-keybindings/tracer-"
MEDIA_KEYS = "org.gnome.SettingsDaemon.MediaKeys"
MECHANISM = "a GNOME custom shortcut"
RESUME_DELAY = 0.4  # seconds between the chord that resumes and tracer's next key
FIX_NO_MEDIA_KEYS = ("use `tracer stop` and `tracer pause` instead (bind them to keys in Settings "
                     "> Keyboard > Custom Shortcuts), or turn the hotkey off: {turn_off}")

# GTK's names for modifiers and keys, by the hotkey syntax's names (<ctrl>, <f5>, ...).
GTK_MODIFIERS = {"ctrl": "<Control>", "alt": "<Alt>", "shift": "<Shift>", "win": "<Super>"}
GTK_KEYS = {"escape": "Escape", "space": "space", "enter": "Return", "tab": "Tab",
            "backspace": "BackSpace", "delete": "Delete", "insert": "Insert", "home": "Home",
            "end": "End", "pageup": "Page_Up", "pagedown": "Page_Down", "up": "Up",
            "down": "Down", "left": "Left", "right": "Right", "pause": "Pause",
            "printscreen": "Print", **{f"f{n}": f"F{n}" for n in range(1, 13)}}
HOTKEY_NAMES = {"cmd": "win", "super": "win", "esc": "escape", "return": "enter",
                "page_up": "pageup", "page_down": "pagedown", "print_screen": "printscreen",
                "ctrl_l": "", "ctrl_r": "", "alt_l": "", "alt_r": "", "shift_l": "",
                "shift_r": ""}


def parse(hotkey: str, kind: str = "kill") -> tuple[frozenset[str], str]:
    """The chord (the actuator's key names) and GTK's accelerator (``<Control><Alt>k``) of a
    hotkey in tracer's syntax (``<ctrl>+<alt>+<shift>+k``), checked as on X11: a ConfigError
    with the fix for a hotkey that is malformed, or that tracer's own typing could press."""

    def bad(problem: str) -> Exception:
        return _bad(hotkey, problem, kind)

    names: list[str] = []
    for part in hotkey.split("+"):
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            raw = part[1:-1].lower()
            name = HOTKEY_NAMES.get(raw, PYNPUT_NAMES.get(raw, raw))
            if name == "":
                raise bad(f"names one side of a modifier (<{raw}>); use <{raw[:-2]}>, "
                          "which is either side")
            if name not in GTK_MODIFIERS and name not in GTK_KEYS:
                raise bad(f"is not valid: unknown key {raw!r}")
        elif len(part) == 1 and part.isprintable() and not part.isspace():
            name = part.lower() if part.isalpha() else part
        else:
            raise bad("is not valid (empty, or a key named twice)" if not part else
                      f"is not valid: unknown key {part!r}")
        if name in names:
            raise bad("is not valid (empty, or a key named twice)")
        names.append(name)
    chord = frozenset(names)
    keys = [n for n in names if n not in GTK_MODIFIERS]
    if len(keys) != 1:
        raise bad("needs exactly one key besides its modifiers for a GNOME shortcut")
    if any(n in SHIFTED for n in keys):
        raise bad("uses a character typed with shift; use its unshifted key with <shift>, "
                  "or a letter")
    if "shift" in chord and any(len(n) == 1 and not n.isalpha() for n in keys):
        raise bad("combines <shift> with a digit or sign, which shift turns into another "
                  "character; use a letter")
    if all(n in TYPED or len(n) == 1 for n in chord):
        raise bad("is something tracer's own typing could press; add <ctrl> or <alt>")
    accel = "".join(GTK_MODIFIERS[n] for n in names if n in GTK_MODIFIERS)
    return chord, accel + GTK_KEYS.get(keys[0], keys[0])


# -- the shortcut in dconf, through gsettings -----------------------------------------------------


def gsettings(*args: str) -> str:
    try:
        done = subprocess.run(["gsettings", *args], capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        raise DisplayError("gsettings is missing, so tracer cannot add its GNOME shortcut",
                           "sudo apt-get install libglib2.0-bin") from None
    if done.returncode != 0:
        raise DisplayError(f"gsettings {' '.join(args[:3])} failed: {done.stderr.strip()}",
                           "run tracer inside your GNOME session (its D-Bus session bus)")
    return done.stdout.strip()


def _parse_list(text: str) -> list[str]:
    text = text.removeprefix("@as ").strip()
    if text in ("[]", ""):
        return []
    return [p.strip().strip("'\"") for p in text.strip("[]").split(",") if p.strip()]


def entries() -> list[str]:
    return _parse_list(gsettings("get", SCHEMA, "custom-keybindings"))


def _write(listed: list[str]) -> None:
    gsettings("set", SCHEMA, "custom-keybindings", "[" + ", ".join(f"'{p}'" for p in listed) + "]")


def remove_entry(path: str, tries: int = 10) -> None:
    """Take the shortcut ``path`` out of GNOME's list and reset its keys. The list is read,
    changed and written whole: another writer at the same moment (the other switch's guard)
    can put it back, so it is read again until it stays out."""
    for _ in range(tries):
        listed = entries()
        if path not in listed:
            break
        _write([p for p in listed if p != path])
        time.sleep(0.1)
    for key in ("name", "command", "binding"):
        gsettings("reset", f"{ENTRY_SCHEMA}:{path}", key)


def _remove_stale() -> None:
    """Remove tracer's shortcuts whose process is gone (its guard could not)."""
    for path in entries():
        if path.startswith(ENTRY_PREFIX):
            pid = path.rstrip("/").rsplit("-", 1)[-1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                remove_entry(path)


class ShortcutSwitch(Binding):
    """A GNOME custom shortcut that calls ``pressed()`` when its chord is pressed (the Switch of
    platform.py); the action mixed in (killswitch.KillAction, PauseAction) says what that does.
    GNOME tells nothing of the release. ``media_keys``: whether gsd-media-keys runs (None: not
    known)."""

    kind = "kill"
    mechanism = MECHANISM

    def __init__(self, hotkey: str, media_keys: bool | None) -> None:
        self.hotkey = hotkey
        self.label = label(hotkey)
        self.chord, self.accel = parse(hotkey, self.kind)
        self.warning = ""
        self.media_keys = media_keys
        self.path = f"{ENTRY_PREFIX}{self.kind}-{os.getpid()}/"
        self._dir: str | None = None
        self._fd: int | None = None
        self._guard: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        name, _, turn_off = KINDS[self.kind]
        if self.media_keys is False:
            raise DisplayError(f"cannot arm the {name}: GNOME's media-keys daemon "
                               "(gsd-media-keys), which runs custom shortcuts, is not running",
                               FIX_NO_MEDIA_KEYS.format(turn_off=turn_off))
        if self._guard is not None:
            return
        _remove_stale()
        self._dir = tempfile.mkdtemp(prefix="tracer-shortcut-")
        fifo = os.path.join(self._dir, "pressed")
        os.mkfifo(fifo, 0o600)
        self._fd = os.open(fifo, os.O_RDWR)  # never blocks, never sees an end of file
        threading.Thread(target=self._read, args=(self._fd,), daemon=True,
                         name=f"shortcut-{self.kind}").start()
        # The guard first: from now on the shortcut goes when tracer does.
        package_root = str(Path(__file__).resolve().parents[3])
        self._guard = subprocess.Popen(
            [sys.executable, "-m", "tracer_cli.desktop.platforms.gnome_shortcut", "guard",
             self.path, self._dir], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "PYTHONPATH": package_root})
        # gsd-media-keys splits the command like a shell; sh opens the FIFO read-write (never
        # blocks, even after tracer is gone) and writes one byte.
        command = f"sh -c {shlex.quote(f'exec 3<>{fifo} && printf x >&3')}"
        try:
            listed = entries()
            for key, value in (("name", f"tracer {self.kind}"), ("command", command),
                               ("binding", self.accel)):
                gsettings("set", f"{ENTRY_SCHEMA}:{self.path}", key, value)
            if self.path not in listed:
                listed.append(self.path)
            _write(listed)
        except BaseException:
            self.close()
            raise
        if self.media_keys is None:
            self.warning = ("gsd-media-keys was not seen on the session bus: the shortcut may not "
                            "work; `tracer stop` always does")

    def _read(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 64)
            except OSError:
                return
            if not data or self._fd != fd:
                return
            self.pressed()

    def close(self) -> None:
        """Remove the shortcut (the guard does it, and ends) and stop reading."""
        guard, self._guard = self._guard, None
        if guard is not None:
            assert guard.stdin is not None
            guard.stdin.close()
            try:
                guard.wait(20)
            except subprocess.TimeoutExpired:
                guard.kill()
                guard.wait()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


class ShortcutKillSwitch(KillAction, ShortcutSwitch):
    """Sets ``stop`` (once) and calls ``wake``."""

    def __init__(self, hotkey: str, stop: threading.Event,
                 wake: Callable[[], None] | None, media_keys: bool | None) -> None:
        ShortcutSwitch.__init__(self, hotkey, media_keys)
        KillAction.__init__(self, stop, wake)


class ShortcutPauseSwitch(PauseAction, ShortcutSwitch):
    """Toggles ``pause`` at each press. GNOME runs the shortcut when the chord is pressed, and
    tells nothing of its release: a resume takes effect RESUME_DELAY later, so that tracer's
    next key does not meet the user's ctrl and alt still held."""

    release_wait = RESUME_DELAY

    def __init__(self, hotkey: str, pause: PauseRequest,
                 on_toggle: Callable[[bool], None] | None, media_keys: bool | None) -> None:
        ShortcutSwitch.__init__(self, hotkey, media_keys)
        PauseAction.__init__(self, pause, on_toggle)


def guard(path: str, folder: str) -> None:
    """Wait until tracer closes our stdin (or dies), then remove its shortcut and folder."""
    with contextlib.suppress(Exception):
        sys.stdin.buffer.read()
    with contextlib.suppress(Exception):
        remove_entry(path)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "guard":
    guard(sys.argv[2], sys.argv[3])
