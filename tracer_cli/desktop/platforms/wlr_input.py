"""The mouse and keyboard of a wlroots compositor: a virtual pointer (zwlr_virtual_pointer_v1)
and a virtual keyboard (zwp_virtual_keyboard_v1) of tracer's own on the compositor's seat.

Coordinates: the Input takes desktop pixels (the screenshots' physical pixels, see
wlr_session) and turns each point into layout units through the output it falls on, so a click
is exact at any scale, mixed scales included; the pointer's position is sent in 1/64 of a layout
unit, which hits a physical pixel exactly at scales 2, 4, 1.25, 1.5 ...

Keyboard: the keymap travels with the virtual keyboard, and tracer writes it: a US-like base (so
shortcuts and ASCII behave as on a real keyboard) plus a spare key code for each other character
typed, given that character's keysym; a new character rewrites the keymap. So any Unicode
character is typed exactly. No Wayland client can read the pointer's position or another
keyboard's modifiers: ``position`` and ``user_modifiers`` are None.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING

from tracer_cli.desktop.platforms.wayland import PACE, WaylandInput, grace_until
from tracer_cli.errors import ActionError, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.platforms.wlr_session import WlrSession

AXIS_VERTICAL = 0
AXIS_SOURCE_WHEEL = 0
KEYMAP_FORMAT_XKB_V1 = 1
SUB = 64  # pointer positions are sent in 1/SUB of a layout unit

# evdev code, keysym, shifted keysym: the US layout's rows of digits and signs
_US_ROWS = [
    (2, "1", "exclam"), (3, "2", "at"), (4, "3", "numbersign"), (5, "4", "dollar"),
    (6, "5", "percent"), (7, "6", "asciicircum"), (8, "7", "ampersand"), (9, "8", "asterisk"),
    (10, "9", "parenleft"), (11, "0", "parenright"), (12, "minus", "underscore"),
    (13, "equal", "plus"), (26, "bracketleft", "braceleft"), (27, "bracketright", "braceright"),
    (39, "semicolon", "colon"), (40, "apostrophe", "quotedbl"), (41, "grave", "asciitilde"),
    (43, "backslash", "bar"), (51, "comma", "less"), (52, "period", "greater"),
    (53, "slash", "question"), (57, "space", None),
]
_CHARS = {"exclam": "!", "at": "@", "numbersign": "#", "dollar": "$", "percent": "%",
          "asciicircum": "^", "ampersand": "&", "asterisk": "*", "parenleft": "(",
          "parenright": ")", "minus": "-", "underscore": "_", "equal": "=", "plus": "+",
          "bracketleft": "[", "braceleft": "{", "bracketright": "]", "braceright": "}",
          "semicolon": ";", "colon": ":", "apostrophe": "'", "quotedbl": '"', "grave": "`",
          "asciitilde": "~", "backslash": "\\", "bar": "|", "comma": ",", "less": "<",
          "period": ".", "greater": ">", "slash": "/", "question": "?", "space": " "}
_LETTERS = {ch: first + n for row, first in (("qwertyuiop", 16), ("asdfghjkl", 30), ("zxcvbnm", 44))
            for n, ch in enumerate(row)}
# tracer's key names (plan.KNOWN_KEYS and their side forms) -> (evdev code, keysym)
_NAMED = {
    "escape": (1, "Escape"), "esc": (1, "Escape"), "backspace": (14, "BackSpace"),
    "tab": (15, "Tab"), "\t": (15, "Tab"), "enter": (28, "Return"), "return": (28, "Return"),
    "\n": (28, "Return"), "ctrl": (29, "Control_L"), "ctrlleft": (29, "Control_L"),
    "ctrlright": (97, "Control_R"), "shift": (42, "Shift_L"), "shiftleft": (42, "Shift_L"),
    "shiftright": (54, "Shift_R"), "alt": (56, "Alt_L"), "altleft": (56, "Alt_L"),
    "option": (56, "Alt_L"), "altright": (100, "Alt_R"), "win": (125, "Super_L"),
    "winleft": (125, "Super_L"), "command": (125, "Super_L"), "winright": (126, "Super_R"),
    "space": (57, "space"), " ": (57, "space"), "capslock": (58, "Caps_Lock"),
    "numlock": (69, "Num_Lock"), "scrolllock": (70, "Scroll_Lock"), "home": (102, "Home"),
    "up": (103, "Up"), "pageup": (104, "Prior"), "left": (105, "Left"), "right": (106, "Right"),
    "end": (107, "End"), "down": (108, "Down"), "pagedown": (109, "Next"),
    "insert": (110, "Insert"), "delete": (111, "Delete"), "printscreen": (99, "Print"),
    "pause": (119, "Pause"), "apps": (127, "Menu"), "volumemute": (113, "XF86AudioMute"),
    "volumedown": (114, "XF86AudioLowerVolume"), "volumeup": (115, "XF86AudioRaiseVolume"),
    "nexttrack": (163, "XF86AudioNext"), "playpause": (164, "XF86AudioPlay"),
    "prevtrack": (165, "XF86AudioPrev"),
}
for _n, _code in enumerate([59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88, *range(183, 195)], 1):
    _NAMED[f"f{_n}"] = (_code, f"F{_n}")
MOD_MASK = {"Shift": 1, "Lock": 2, "Control": 4, "Mod1": 8, "Mod2": 16, "Mod4": 64}
MOD_OF_KEYSYM = {"Shift_L": "Shift", "Shift_R": "Shift", "Control_L": "Control",
                 "Control_R": "Control", "Alt_L": "Mod1", "Alt_R": "Mod1", "Super_L": "Mod4",
                 "Super_R": "Mod4"}
SHIFT = 42


def _keysym(ch: str) -> str:
    """The xkb keysym of a character: Latin-1 by its code, the rest as Unicode ``Uxxxx``."""
    cp = ord(ch)
    if 0x20 < cp < 0x7F or 0xA0 <= cp <= 0xFF:
        return f"0x{cp:04x}"
    return f"U{cp:04X}"


def typable(ch: str) -> bool:
    """Every character has a key of its own when needed, except control characters (other than
    newline and tab) and lone surrogates."""
    cp = ord(ch)
    return ch in "\n\t" or not (cp < 0x20 or cp == 0x7F or 0x80 <= cp < 0xA0
                                or 0xD800 <= cp <= 0xDFFF)


class Keymap:
    """The xkb keymap tracer's virtual keyboard carries: fixed keys on their evdev codes, and
    spare codes given to other characters on demand (the least recently used one is reused)."""

    def __init__(self) -> None:
        self.keys: dict[int, tuple[str, ...]] = {}  # evdev code -> keysyms by level
        self.by_name: dict[str, tuple[int, int]] = {}  # key name or character -> (code, level)
        for name, (code, sym) in _NAMED.items():
            self.keys[code] = (sym,)
            self.by_name[name] = (code, 0)
        for ch, code in _LETTERS.items():
            self.keys[code] = (ch, ch.upper())
            self.by_name[ch] = (code, 0)
            self.by_name[ch.upper()] = (code, 1)
        for code, plain, shifted in _US_ROWS:
            self.keys[code] = (plain,) if shifted is None else (plain, shifted)
            self.by_name[_CHARS.get(plain, plain)] = (code, 0)
            if shifted:
                self.by_name[_CHARS.get(shifted, shifted)] = (code, 1)
        # evdev codes 0..247 are xkb codes 8..255 (Xwayland's limit); the free ones hold characters
        self.spare = [c for c in range(1, 248) if c not in self.keys and c != 84]
        self.dynamic: dict[str, int] = {}  # character -> code, least recently used first

    def code(self, ch: str, held: set[int], plain_only: bool = False) -> tuple[int, int, bool]:
        """(evdev code, level, whether the keymap changed) of a character."""
        if ch in self.by_name and not (plain_only and self.by_name[ch][1]):
            code, level = self.by_name[ch]
            return code, level, False
        if ch in self.dynamic:
            self.dynamic[ch] = self.dynamic.pop(ch)  # now the most recently used
            return self.dynamic[ch], 0, False
        used = set(self.dynamic.values())
        free = [c for c in self.spare if c not in used]
        if free:
            code = free[0]
        else:
            oldest = next(k for k, c in self.dynamic.items() if c not in held)
            code = self.dynamic.pop(oldest)
        self.dynamic[ch] = code
        return code, 0, True

    def text(self) -> str:
        codes = sorted(set(self.keys) | set(self.dynamic.values()))
        syms = dict(self.keys)
        for ch, code in self.dynamic.items():
            syms[code] = (_keysym(ch),)
        lines = ["xkb_keymap {", 'xkb_keycodes "tracer" {', "minimum = 8;", "maximum = 255;"]
        lines += [f"<I{c + 8}> = {c + 8};" for c in codes]
        lines += ["};", 'xkb_types "tracer" { include "complete" };',
                  'xkb_compatibility "tracer" { include "complete" };', 'xkb_symbols "tracer" {']
        lines += [f"key <I{c + 8}> {{ [ {', '.join(syms[c])} ] }};" for c in codes]
        mods: dict[str, list[int]] = {"Lock": [58], "Mod2": [69]}
        for code, levels in syms.items():
            if levels[0] in MOD_OF_KEYSYM:
                mods.setdefault(MOD_OF_KEYSYM[levels[0]], []).append(code)
        lines += [f"modifier_map {m} {{ {', '.join(f'<I{c + 8}>' for c in cs)} }};"
                  for m, cs in mods.items()]
        lines += ["};", "};", ""]
        return "\n".join(lines)


class WlrInput(WaylandInput):
    """tracer's virtual pointer and keyboard on the seat of ``session``'s compositor."""

    def __init__(self, session: WlrSession) -> None:
        super().__init__(session)
        self.keymap = Keymap()
        self._held_keys: dict[int, str] = {}  # code -> keysym
        self._mods = 0
        self._t0 = time.monotonic()
        with session.lock:
            session.pump(0)
            had = session.info.seat_caps
            self.pointer = session.pointer_manager.create_virtual_pointer(session.seat)
            self.keyboard = session.keyboard_manager.create_virtual_keyboard(session.seat)
            self._upload_keymap()
            # A modifiers event before any key: the seat has our keyboard and its keymap first.
            self.keyboard.modifiers(0, 0, 0, 0)
            session.sync()
        self._grace_until = grace_until(time.monotonic(), had)

    def _ms(self) -> int:
        return int((time.monotonic() - self._t0) * 1000) & 0xFFFFFFFF

    def _upload_keymap(self) -> None:
        data = self.keymap.text().encode() + b"\0"
        fd = os.memfd_create("tracer-keymap", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            self.keyboard.keymap(KEYMAP_FORMAT_XKB_V1, fd, len(data))
        finally:
            os.close(fd)

    # -- the pointer --------------------------------------------------------------------------

    def move(self, x: int, y: int) -> None:
        with self.session.lock:
            self._grace()
            lx, ly = self._layout_point(x, y)
            x0, y0, x1, y1 = self.session.layout_box()
            # A program finds the pixel under the pointer by rounding its position down, so the
            # pixel's own corner (not its centre) hits it at any scale.
            self.pointer.motion_absolute(self._ms(), round((lx - x0) * SUB), round((ly - y0) * SUB),
                                         (x1 - x0) * SUB, (y1 - y0) * SUB)
            self.pointer.frame()
            self.session.flush()

    def _button(self, code: int, down: bool) -> None:
        self.pointer.button(self._ms(), code, 1 if down else 0)
        self.pointer.frame()
        (self._held_buttons.add if down else self._held_buttons.discard)(code)

    def scroll(self, x: int, y: int, clicks: int) -> None:
        """Turn the wheel: positive up (away from the user: a negative axis value)."""
        self.move(x, y)
        if not clicks:
            return
        step = -1 if clicks > 0 else 1
        with self.session.lock:
            for _ in range(abs(clicks)):
                self.pointer.axis_source(AXIS_SOURCE_WHEEL)
                self.pointer.axis_discrete(self._ms(), AXIS_VERTICAL, 15.0 * step, step)
                self.pointer.frame()
            self.session.flush()
        time.sleep(PACE)

    # -- the keyboard -------------------------------------------------------------------------

    def _key(self, code: int, down: bool) -> None:
        """One key event; the modifiers follow (a virtual keyboard's keys do not change the
        modifier state in wlroots: the client sends it)."""
        sym = self.keymap.keys.get(code, ("",))[0]
        self.keyboard.key(self._ms(), code, 1 if down else 0)
        if down:
            self._held_keys[code] = sym
        else:
            self._held_keys.pop(code, None)
        mod = MOD_OF_KEYSYM.get(sym)
        if mod:
            held = any(MOD_OF_KEYSYM.get(s) == mod for s in self._held_keys.values())
            bit = MOD_MASK[mod]
            self._mods = (self._mods | bit) if held else (self._mods & ~bit)
            self.keyboard.modifiers(self._mods, 0, 0, 0)

    def _key_code(self, name: str) -> int:
        """The code of a key by tracer's name: a letter is its key whatever the case (a
        shortcut); another single character is a key that makes exactly it."""
        if len(name) == 1 and name.lower() in _LETTERS:
            return _LETTERS[name.lower()]
        if len(name) == 1:
            code, _, changed = self.keymap.code(name, set(self._held_keys), plain_only=True)
            if changed:
                self._upload_keymap()
            return code
        if name.lower() in _NAMED:
            return _NAMED[name.lower()][0]
        raise ActionError(f"cannot press {name!r}: tracer's keyboard has no such key")

    def missing_keys(self, keys: list[str]) -> list[str]:
        return [k for k in keys if not (len(k) == 1 and typable(k)) and k.lower() not in _NAMED]

    def key(self, name: str, down: bool) -> None:
        with self.session.lock:
            self._grace()
            code = self._key_code(name)
            if down or code in self._held_keys:
                self._key(code, down)
            self.session.flush()

    def untypable(self, text: str) -> list[str]:
        return sorted({ch for ch in text if not typable(ch)})

    def prepare_text(self, text: str) -> None:
        """Nothing to get ready: each character is typed as it comes."""

    def type_char(self, ch: str) -> None:
        if len(ch) != 1 or not typable(ch):
            raise ActionError(f"cannot type {ch!r}: a control character")
        with self.session.lock:
            self._grace()
            code, level, changed = self.keymap.code(ch, set(self._held_keys))
            if changed:
                self._upload_keymap()
            shift = level == 1 and not self._mods & MOD_MASK["Shift"]
            if shift:
                self._key(SHIFT, True)
            self._key(code, True)
            self._key(code, False)
            if shift:
                self._key(SHIFT, False)
            self.session.flush()

    def release(self, keys: list[str]) -> None:
        """Let go of every key and button this keyboard and pointer hold (``keys`` are among
        them when held: a virtual keyboard holds only what tracer pressed)."""
        with self.session.lock:
            for code in list(self._held_keys):
                self._key(code, False)
            for code in list(self._held_buttons):
                self._button(code, False)
            if self._mods:
                self._mods = 0
                self.keyboard.modifiers(0, 0, 0, 0)
            self.session.flush()

    def close(self) -> None:
        with self.session.lock:
            if self._closed or self.session.closed:
                return
            self._closed = True
            with contextlib.suppress(TracerError):
                self.release([])
                self.pointer.destroy()
                self.keyboard.destroy()
                self.session.sync(1.0)
