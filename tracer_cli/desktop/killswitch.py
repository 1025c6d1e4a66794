"""The kill switch and the pause: global hotkeys that stop or pause a run from anywhere on the
desktop.

A pynput keyboard listener (the X RECORD extension on Linux) watches every key. When the chord
is complete it records the moment, asks the run to stop (``StopRequest``) and calls ``wake``,
which the CLI uses to interrupt a long model call at once. The actuator checks the stop between
two keys, so typing ends mid-text; it also refuses to press a chord that contains the hotkey.

tracer's own keys (pyautogui through XTest) reach the listener like the user's. Typing text only
ever presses shift, one key, enter or tab, so a hotkey is refused when typing could produce it,
and the default ``<ctrl>+<alt>+<shift>+k`` needs ctrl and alt, which typing never touches. While
the user holds ctrl and alt, tracer typing a capital presses and releases shift; a shift press
therefore counts until ctrl and alt are let go, so the chord still completes mid-typing.

The pause hotkey (``PauseSwitch``) is the same kind of listener. It toggles a ``PauseRequest``:
the actuator sees the request at the next key boundary (before a click, a chord, or the next
character of a text) and raises ``Paused``; the run loop lets go of everything and waits until
the hotkey is pressed again.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from tracer_cli.errors import ConfigError, DisplayError, TracerError

EXAMPLE = "<ctrl>+<alt>+<shift>+k"
HOW_TO_TURN_OFF = "--kill-hotkey '' or TRACER_KILL_HOTKEY="
PAUSE_EXAMPLE = "<ctrl>+<alt>+<shift>+p"
HOW_TO_TURN_OFF_PAUSE = "--pause-hotkey '' or TRACER_PAUSE_HOTKEY="
# pyautogui's (and the US layout's) characters typed with shift, besides capitals.
SHIFTED = frozenset('~!@#$%^&*()_+{}|:"<>?')
# Keys that typing text presses: shift for capitals, enter for a newline, tab, any character.
TYPED = frozenset({"shift", "enter", "tab", "space"})
MODIFIERS = frozenset({"ctrl", "alt", "shift", "win", "altgr"})
# pynput's key names that differ from pyautogui's (the actuator's); others lose their "_".
PYNPUT_NAMES = {
    "cmd": "win", "alt_gr": "altgr", "esc": "escape", "menu": "apps",
    "media_play_pause": "playpause", "media_volume_mute": "volumemute",
    "media_volume_down": "volumedown", "media_volume_up": "volumeup",
    "media_previous": "prevtrack", "media_next": "nexttrack",
}
# pyautogui's names for the same key, side by side.
_ACTUATOR_NAMES = {
    "ctrlleft": "ctrl", "ctrlright": "ctrl", "altleft": "alt", "altright": "alt",
    "option": "alt", "shiftleft": "shift", "shiftright": "shift", "winleft": "win",
    "winright": "win", "command": "win", "esc": "escape", "return": "enter", "\n": "enter",
    "\r": "enter", "\t": "tab", " ": "space",
}
# X reports Alt as Meta_L/Meta_R when shift is already down (the keysym on the shifted level).
X_META = (0xFFE7, 0xFFE8)


# Why a run or a recording stopped, by the signal that stopped it (one wording everywhere).
SIGNAL_REASONS = {signal.SIGINT: "interrupted with Ctrl-C", signal.SIGTERM: "terminated by SIGTERM"}


class StopRequest(threading.Event):
    """The run's stop flag, with the reason of the first request to stop; ``error`` when the
    stop is a failure rather than the user's wish (the desktop went away)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = ""
        self.error: TracerError | None = None
        self._lock = threading.RLock()  # re-entrant: a signal handler may run inside request()

    def request(self, reason: str, error: TracerError | None = None) -> None:
        with self._lock:
            if not self.is_set():
                self.reason, self.error = reason, error
                self.set()


def stop_reason(stop: threading.Event, default: str = "stopped") -> str:
    """Why ``stop`` was set (a plain Event knows no reason)."""
    return getattr(stop, "reason", "") or default


# -- what a switch does, the same on every desktop -----------------------------------------------
# A platform's switch class says how its chord is bound and heard, and calls ``pressed()`` when
# the chord is pressed and ``released()`` when it is let go; one of these, mixed in, says what that
# does. The switch class sets ``label`` before calling the action's __init__.


class KillAction:
    """The kill switch: the first press asks the run to stop (``stop``, with the reason) and
    calls ``wake``, which the CLI uses to interrupt a long model call at once."""

    kind = "kill"
    label: str

    def __init__(self, stop: threading.Event, wake: Callable[[], None] | None) -> None:
        self.reason = f"stopped by the kill switch ({self.label})"
        self.stop = stop
        self.wake = wake
        self.triggered_at: float | None = None  # time.monotonic() when the chord was pressed

    def pressed(self) -> None:
        if self.triggered_at is not None:
            return
        self.triggered_at = time.monotonic()
        if isinstance(self.stop, StopRequest):
            self.stop.request(self.reason)
        else:
            self.stop.set()
        if self.wake is not None:
            self.wake()

    def released(self) -> None:
        """Letting go changes nothing: the stop stands."""


class PauseAction:
    """The pause switch: a press pauses the run (``pause``); a press while paused resumes it
    once the chord is let go, so that tracer's next key does not meet the user's ctrl or alt.
    ``release_wait``: where the desktop may not tell the release, the resume comes at the
    latest that many seconds after the press. ``on_toggle(paused)`` is told of each change."""

    kind = "pause"
    release_wait: float | None = None

    def __init__(self, pause: PauseRequest, on_toggle: Callable[[bool], None] | None) -> None:
        self.pause = pause
        self.on_toggle = on_toggle
        self._resuming = False  # pressed to resume: resumes when the chord is let go
        self._resume_lock = threading.Lock()

    def pressed(self) -> None:
        if self.pause.requested.is_set():
            if not self._resuming:
                self._resuming = True
                if self.release_wait is not None:
                    timer = threading.Timer(self.release_wait, self.released)
                    timer.daemon = True
                    timer.start()
            return
        self.pause.toggle()
        if self.on_toggle is not None:
            self.on_toggle(True)

    def released(self) -> None:
        with self._resume_lock:
            if not self._resuming:
                return
            self._resuming = False
            if self.pause.requested.is_set():
                self.pause.toggle()
                if self.on_toggle is not None:
                    self.on_toggle(False)


class Binding:
    """A chord bound on the desktop (platform.Switch): a platform's subclass says how it is
    bound (``start``, ``close``) and heard, and calls ``pressed()`` and ``released()``; the
    action mixed in before it says what they do. Also a context manager."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def pressed(self) -> None:
        raise NotImplementedError

    def released(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Binding:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def key_names(keys: Iterable[str]) -> frozenset[str]:
    """The keys an actuator chord really holds, in the kill switch's names: ``K`` is shift+k,
    ``ctrlleft`` is ctrl."""
    names: set[str] = set()
    for key in keys:
        name = _ACTUATOR_NAMES.get(key, key if len(key) == 1 else key.lower())
        if len(name) == 1 and (name.isupper() or name in SHIFTED):
            names.add("shift")
            name = name.lower()
        names.add(name)
    return frozenset(names)


def label(hotkey: str) -> str:
    """How the hotkey is shown: ``ctrl+alt+shift+k``."""
    return re.sub(r"<([^<>]+)>", r"\1", hotkey)


# What each hotkey is called in messages, an example of it, and how to turn it off.
KINDS = {"kill": ("kill switch", EXAMPLE, HOW_TO_TURN_OFF),
         "pause": ("pause hotkey", PAUSE_EXAMPLE, HOW_TO_TURN_OFF_PAUSE)}


def _bad(hotkey: str, problem: str, kind: str = "kill") -> ConfigError:
    _, example, turn_off = KINDS[kind]
    return ConfigError(f"{kind} hotkey {hotkey!r} {problem}",
                       f"write it in pynput syntax, like {example}, or turn it off: {turn_off}")


def _keyboard(kind: str = "kill") -> Any:
    """pynput.keyboard, imported on first use: its X backend connects to the display."""
    try:
        from pynput import keyboard
    except Exception as exc:  # ImportError, or an X error from connecting
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        name, _, turn_off = KINDS[kind]
        raise DisplayError(f"cannot arm the {name}: pynput cannot use this display "
                           f"({first})", f"run without it: {turn_off}") from None
    return keyboard


def check_apart(kill: frozenset[str], pause: frozenset[str], pause_hotkey: str) -> None:
    """Refuse a pause chord that the kill chord contains, or that contains it: pressing one
    would also complete the other."""
    if kill <= pause or pause <= kill:
        raise _bad(pause_hotkey, f"collides with the kill hotkey ({'+'.join(sorted(kill))})",
                   "pause")


def parse(hotkey: str, kind: str = "kill") -> tuple[list[Any], frozenset[str]]:
    """The hotkey's pynput keys and their names. Raises ConfigError with the fix on a hotkey
    that is malformed, could never be seen as written, or that tracer's own typing could press.
    ``kind``: kill or pause, for the messages."""
    keyboard = _keyboard(kind)

    def bad(problem: str) -> ConfigError:
        return _bad(hotkey, problem, kind)

    try:
        keys = keyboard.HotKey.parse(hotkey)
    except ValueError as exc:
        part = str(exc)
        if not part or part == hotkey:
            raise bad("is not valid (empty, or a key named twice)") from None
        raise bad(f"is not valid: unknown key {part!r}") from None
    sides = {key.value.vk: key.name for key in keyboard.Key if key.name.endswith(("_l", "_r"))}
    by_vk = {key.value.vk: key.name for key in keyboard.Key if key.name not in sides.values()}
    names: list[str] = []
    for key in keys:
        if isinstance(key, keyboard.Key):
            name = PYNPUT_NAMES.get(key.name, key.name)
        elif key.char is not None:
            name = key.char
        elif key.vk in sides:  # the listener reports <ctrl> for either side: never seen
            side = sides[key.vk]
            raise bad(f"names one side of a modifier (<{side}>); use <{side[:-2]}>, "
                       "which is either side")
        else:  # a named key, or a raw key code such as <65307>
            raw = by_vk.get(key.vk, str(key.vk))
            name = PYNPUT_NAMES.get(raw, raw.replace("_", ""))
        names.append(name)
    chord = frozenset(names)
    chars = [n for n in names if len(n) == 1]
    if any(c in SHIFTED for c in chars):
        raise bad("uses a character typed with shift; use its unshifted key with "
                   "<shift>, or a letter")
    if "shift" in chord and any(not c.isalpha() for c in chars):
        raise bad("combines <shift> with a digit or sign, which shift turns into "
                   "another character; use a letter")
    if all(n in TYPED or len(n) == 1 for n in chord):
        raise bad("is something tracer's own typing could press; add <ctrl> or <alt>")
    return keys, chord


def start_listener(listener: Any, failed: DisplayError, timeout: float = 15.0) -> None:
    """Start a pynput listener and wait until it listens; raises ``failed`` if it does not."""
    listener.start()
    ready = threading.Thread(target=listener.wait, daemon=True)  # wait() has no timeout
    ready.start()
    ready.join(timeout)
    time.sleep(0.02)  # a listener that failed after signalling ready has ended by now
    if ready.is_alive() or not listener.is_alive():
        # pynput's stop() waits for the listener to be ready, which it may never be
        threading.Thread(target=listener.stop, daemon=True).start()
        raise failed


def stop_listener(listener: Any) -> None:
    """Stop a pynput listener at once."""
    try:
        listener.stop()
    except Exception:  # its display went away: the listener has ended with it
        return
    # pynput's X listener ends only at the next key event after stop(); disabling its
    # RECORD context over its other connection (as its own clean-up does) ends it now.
    display, context = getattr(listener, "_display_stop", None), getattr(listener, "_context", None)
    if display is not None and context is not None:
        with contextlib.suppress(Exception):  # it ended meanwhile and closed the connection
            display.record_disable_context(context)
            display.flush()
    listener.join(1.0)


class GlobalHotkey(Binding):
    """A global chord heard from anywhere on the desktop; the action mixed in (KillAction,
    PauseAction) says what it does. ``start()`` arms it, ``close()`` disarms it; also a context
    manager. The chord counts once per press: a held key's auto-repeat does not count again;
    letting go of a modifier of the chord (of any key of a chord without modifiers) re-arms
    it. It is let go when every key of the chord is."""

    kind = "kill"
    mechanism = "a global hotkey"

    def __init__(self, hotkey: str) -> None:
        self.hotkey = hotkey
        self.label = label(hotkey)
        self.keys, self.chord = parse(hotkey, self.kind)
        self.warning = ""  # set by start() when the listener may miss keys
        name, _, self._turn_off = KINDS[self.kind]
        self._name = name if self.kind == "kill" else "pause hotkey"
        keyboard = _keyboard(self.kind)
        self._Key, self._KeyCode = keyboard.Key, keyboard.KeyCode
        self._shift = keyboard.Key.shift if "shift" in self.chord else None
        self._mods = [k for k in self.keys if isinstance(k, keyboard.Key) and k != self._shift]
        self._down: set[Any] = set()
        self._latched = False  # shift was pressed while the chord's other modifiers are held
        self._fired = False  # the chord counted, and is not re-armed yet
        self._rearm = {k for k in self.keys if isinstance(k, keyboard.Key)} or set(self.keys)
        self._listener: Any = None
        self._canon: Callable[[Any], Any] = lambda key: key

    def start(self, timeout: float = 15.0) -> None:
        """Start listening. Raises DisplayError when the listener cannot run."""
        if self._listener is not None:
            return
        keyboard = _keyboard(self.kind)
        if sys.platform.startswith("linux"):
            self._check_x()
        listener = keyboard.Listener(on_press=self._press, on_release=self._release)
        self._canon = listener.canonical
        start_listener(listener, DisplayError(
            f"cannot arm the {self._name}: the global keyboard listener did not start",
            f"check the input permissions (macOS: Accessibility), or run without it: "
            f"{self._turn_off}"), timeout)
        self._listener = listener
        if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
            self.warning = (f"under Wayland the {self._name} hears keys only while an X11 "
                            "(XWayland) window has the focus; Ctrl-C in this terminal always works")

    def _check_x(self) -> None:
        import Xlib.display

        try:
            conn = Xlib.display.Display()
        except Exception as exc:
            raise DisplayError(f"cannot arm the {self._name}: cannot open the X display: {exc}",
                               f"check DISPLAY, or run without it: {self._turn_off}") from None
        try:
            record = conn.has_extension("RECORD")
        finally:
            conn.close()
        if not record:
            raise DisplayError(f"cannot arm the {self._name}: the X server lacks the RECORD "
                               "extension that a global hotkey needs",
                               f"enable it (Xorg/Xvfb: +extension RECORD), or run without it: "
                               f"{self._turn_off}")

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            stop_listener(listener)

    @property
    def armed(self) -> bool:
        return self._listener is not None

    # The listener's thread.
    def _canonical(self, key: Any) -> Any:
        key = self._canon(key)
        if isinstance(key, self._KeyCode) and key.char is None and key.vk in X_META:
            return self._Key.alt
        return key

    def _press(self, key: Any, injected: bool = False) -> None:
        if key is None or injected:  # injected: sent by a program (macOS, Windows; not XTest)
            return
        key = self._canonical(key)
        self._down.add(key)
        if key == self._shift:
            self._latched = True
        if key in self.keys and all(self._held(k) for k in self.keys) and not self._fired:
            self._fired = True
            self.pressed()

    def _release(self, key: Any, injected: bool = False) -> None:
        if key is None or injected:
            return
        key = self._canonical(key)
        self._down.discard(key)
        if self._latched and self._shift not in self._down and \
                not any(m in self._down for m in self._mods):
            self._latched = False
        if key in self.keys:
            if key in self._rearm:
                self._fired = False
            if not any(k in self._down for k in self.keys):
                self.released()

    def _held(self, key: Any) -> bool:
        return key in self._down or (key == self._shift and self._latched)


class KillSwitch(KillAction, GlobalHotkey):
    """A global hotkey that sets ``stop`` (once) and calls ``wake``."""

    def __init__(self, hotkey: str, stop: threading.Event,
                 wake: Callable[[], None] | None = None) -> None:
        GlobalHotkey.__init__(self, hotkey)
        KillAction.__init__(self, stop, wake)


class Paused(Exception):  # noqa: N818 - not an error: the user's request
    """Raised by the actuator at a key boundary when a pause is requested: nothing of the
    action was sent, except ``typed`` characters of a text."""

    def __init__(self, typed: int = 0, of: int = 0) -> None:
        super().__init__(f"paused after {typed} of {of} characters" if of else "paused")
        self.typed = typed
        self.of = of

    def progress(self) -> str:
        """What of the interrupted action was done, in words."""
        if self.typed:
            return f"after typing {self.typed} of {self.of} characters"
        return "before the action was sent"


class PauseRequest:
    """The run's pause flag, toggled by the pause hotkey: ``requested`` while the user has the
    mouse, until it is toggled again. Lines typed at the terminal meanwhile become the note
    handed to the model on resume."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._lock = threading.Lock()
        self._notes: list[str] = []

    def toggle(self) -> None:
        with self._lock:
            if self.requested.is_set():
                self.requested.clear()
            else:
                self.requested.set()

    def resume(self) -> None:
        self.requested.clear()

    def add_note(self, line: str) -> None:
        with self._lock:
            if line.strip():
                self._notes.append(line.strip())

    def take_note(self) -> str:
        with self._lock:
            note, self._notes = " ".join(self._notes), []
        return note

    def wait_resumed(self, stop: threading.Event, poll: float = 0.05) -> bool:
        """Wait until the pause is toggled off (True) or the run is stopped (False)."""
        while self.requested.is_set():
            if stop.wait(poll):
                return False
        return not stop.is_set()


class PauseSwitch(PauseAction, GlobalHotkey):
    """A global hotkey that toggles ``pause``: it pauses as soon as the chord is complete, and
    resumes once every key of the chord is let go."""

    def __init__(self, hotkey: str, pause: PauseRequest,
                 on_toggle: Callable[[bool], None] | None = None) -> None:
        GlobalHotkey.__init__(self, hotkey)
        PauseAction.__init__(self, pause, on_toggle)
