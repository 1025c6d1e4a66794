"""The keyboard and mouse of a GNOME RemoteDesktop session (the gnome platform's Input), in
desktop pixels: a stream's pixels are physical pixels whatever the scale, so input scale 1.

- Pointer: ``NotifyPointerMotionAbsolute`` on the stream of the monitor the point is on;
  buttons and the wheel (discrete steps).
- Keys: ``NotifyKeyboardKeycode`` (evdev codes) for named keys; characters by keysym where the
  seat's keymap makes mutter type them exactly (gnome_keymap), pasted through the clipboard
  otherwise (the session offers the text, then Ctrl+V); a paste the focused window never asks
  for is an ActionError, never a silent drop. The user's clipboard text is offered again after
  each paste, while tracer runs.
- The session's virtual devices exist only after their first event, and programs learn of them
  late: a warm-up makes them, once per session. gnome-shell hands keys to IBus asynchronously
  while modifier changes reach programs at once: every modifier change waits until the keys
  before it were drawn.
- Which keys another keyboard holds is not told to a remote session: ``user_modifiers`` is
  None, and ``position`` is where tracer last put the pointer.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from typing import TYPE_CHECKING, Any

from tracer_cli.errors import ActionError, DisplayError, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.platforms.gnome import GnomePlatform, GnomeSession
    from tracer_cli.desktop.platforms.gnome_keymap import Keymap

RD_DEST = "org.gnome.Mutter.RemoteDesktop"
RD_SESSION = "org.gnome.Mutter.RemoteDesktop.Session"

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
CLIPBOARD_TYPES = ["text/plain;charset=utf-8", "text/plain", "UTF8_STRING", "STRING", "TEXT"]


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
        raise ActionError(f"point ({x},{y}) is on no monitor")

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

    def prepare_text(self, text: str) -> None:
        """Nothing to get ready: each character is typed as it comes."""

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
        if isinstance(types, tuple) and len(types) == 1:
            types = types[0]  # mutter sends a struct "(as)"
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
                os.set_blocking(pipe.fileno(), True)
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
