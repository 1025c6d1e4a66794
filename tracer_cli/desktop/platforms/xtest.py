"""Input on an X display through the XTEST extension (python-xlib), on the display the platform
names rather than whatever DISPLAY was when a library was imported.

Characters are typed by their keysym: from the keyboard map where a key (or shift and a key)
makes them, else on a spare key code (one the layout leaves empty) mapped to that keysym for the
run, so any Unicode character arrives exactly; the spare codes are emptied again at ``close``.
The pointer in a corner of the screen is the user's fail-safe gesture: an action then stops with
``Interrupted``, as pyautogui's fail-safe did.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from typing import Any

from tracer_cli.desktop.keysyms import MODIFIERS, char_keysym, key_keysym, typable
from tracer_cli.desktop.platform import ModifiersHeld
from tracer_cli.errors import ActionError, DisplayLost, Interrupted

# Seconds between mapping new key codes and typing on them. A client reads the new keyboard map
# in its own time (Chromium reloads its keymap as a task of its own) and turns a key of a code it
# has not read yet into nothing: under load the first "é" of a text went missing. The X server
# cannot tell when every client has read it; this is paid once per text that needs new codes.
MAP_SETTLE = 0.3

BUTTONS = {"left": 1, "middle": 2, "right": 3}
WHEEL_UP, WHEEL_DOWN = 4, 5
# X's modifier rows (get_modifier_mapping) by tracer's name for what they hold.
MODIFIER_ROWS = {0: "shift", 2: "ctrl", 3: "alt", 6: "win", 7: "altgr"}
PACE = 0.02  # seconds after a click, a chord or a turn of the wheel: the program takes it in
FAILSAFE = "stopped by the fail-safe: the mouse is in a corner of the screen"


class XTestInput:
    """Mouse and keyboard of one X display. ``connect`` opens the display (the platform passes
    its own, with its X authority)."""

    def __init__(self, conn: Any, name: str) -> None:
        from Xlib import XK, X
        from Xlib.ext import xtest

        self._X, self._XK, self._fake = X, XK, xtest.fake_input
        self._d = conn
        self.name = name
        self._screen = conn.screen()
        self._spare: list[int] = []
        self._mapped: OrderedDict[int, int] = OrderedDict()  # spare code -> keysym, newest last
        self._held_buttons: set[int] = set()
        self._held_keys: dict[str, tuple[int, bool]] = {}  # key name -> (code, with shift)
        self._load_keymap()

    # -- the keyboard map -----------------------------------------------------------------------

    def _load_keymap(self) -> None:
        first = self._d.display.info.min_keycode
        count = self._d.display.info.max_keycode - first + 1
        rows = self._d.get_keyboard_mapping(first, count)
        self._per_code = len(rows[0]) if rows else 2
        self._codes: dict[int, tuple[int, bool]] = {}  # keysym -> (code, needs shift)
        self._spare = []
        for offset, row in enumerate(rows):
            code = first + offset
            if not any(row):
                self._spare.append(code)
                continue
            for level, keysym in enumerate(row[:2]):
                if keysym and keysym not in self._codes:
                    self._codes[keysym] = (code, level == 1)
        self._spare.reverse()  # the highest codes first: least likely to be a real key
        modmap = self._d.get_modifier_mapping()
        self._modifier_codes = {code: MODIFIER_ROWS[row] for row, codes in enumerate(modmap)
                                if row in MODIFIER_ROWS for code in codes if code}
        shift = self._codes.get(MODIFIERS["shift"][0])
        self._shift = shift[0] if shift else 0

    def _code(self, keysym: int) -> tuple[int, bool] | None:
        """The key code that makes ``keysym`` and whether shift is needed; a spare code mapped
        to it when the layout has none (None when no spare code is left)."""
        found = self._codes.get(keysym)
        if found is not None:
            return found
        if keysym in self._mapped.values():
            code = next(c for c, k in self._mapped.items() if k == keysym)
            self._mapped.move_to_end(code)
            return code, False
        if self._spare:
            code = self._spare.pop()
        elif self._mapped:
            code, _ = self._mapped.popitem(last=False)  # the least recently used one
        else:
            return None
        self._map(code, keysym)
        time.sleep(MAP_SETTLE)
        return code, False

    def _map(self, code: int, keysym: int) -> None:
        self._d.change_keyboard_mapping(code, [(keysym,) * self._per_code])
        self._d.sync()
        self._mapped[code] = keysym

    def prepare_text(self, text: str) -> None:
        """Map spare key codes for all the characters of ``text`` the layout lacks, at once (as
        many as there are spare codes; the rest are mapped as they come), and give the clients
        MAP_SETTLE to read the new map before the first key."""
        mapped = False
        for ch in dict.fromkeys(text):
            keysym = char_keysym(ch) if typable(ch) else 0
            if not keysym or keysym in self._codes or keysym in self._mapped.values():
                continue
            if not self._spare:
                break
            self._x(self._map, self._spare.pop(), keysym)
            mapped = True
        if mapped:
            time.sleep(MAP_SETTLE)

    # -- Input ----------------------------------------------------------------------------------

    def _x(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One call to the X server; its connection breaking is the display going away."""
        from Xlib import error as xerror

        try:
            return fn(*args, **kwargs)
        except (xerror.ConnectionClosedError, ConnectionError, OSError) as exc:
            raise DisplayLost(f"the X display {self.name} went away ({exc})",
                              "start the desktop again and rerun") from None

    def size(self) -> tuple[int, int]:
        return int(self._screen.width_in_pixels), int(self._screen.height_in_pixels)

    def position(self) -> tuple[int, int]:
        reply = self._x(self._screen.root.query_pointer)
        return int(reply.root_x), int(reply.root_y)

    def _failsafe(self) -> None:
        w, h = self.size()
        x, y = self.position()
        if x in (0, w - 1) and y in (0, h - 1):
            raise Interrupted(FAILSAFE)

    def _send(self, kind: int, detail: int = 0, **where: int) -> None:
        self._x(self._fake, self._d, kind, detail, **where)

    def _flush(self) -> None:
        self._x(self._d.sync)

    def move(self, x: int, y: int) -> None:
        self._send(self._X.MotionNotify, x=int(x), y=int(y))
        self._flush()

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        self._failsafe()
        self.move(x, y)
        number = BUTTONS[button]
        for n in range(clicks):
            if n:
                time.sleep(0.05)
            self._send(self._X.ButtonPress, number)
            self._send(self._X.ButtonRelease, number)
            self._flush()
        time.sleep(PACE)

    def button(self, name: str, down: bool) -> None:
        number = BUTTONS[name]
        self._send(self._X.ButtonPress if down else self._X.ButtonRelease, number)
        self._flush()
        (self._held_buttons.add if down else self._held_buttons.discard)(number)

    def scroll(self, x: int, y: int, clicks: int) -> None:
        self._failsafe()
        self.move(x, y)
        wheel = WHEEL_UP if clicks > 0 else WHEEL_DOWN
        for _ in range(abs(clicks)):
            self._send(self._X.ButtonPress, wheel)
            self._send(self._X.ButtonRelease, wheel)
        self._flush()
        time.sleep(PACE)

    def missing_keys(self, keys: list[str]) -> list[str]:
        """Keys of a chord this keyboard cannot press (named keys must be on the layout; a
        spare code is for characters typed, not for chords)."""
        missing = []
        for key in keys:
            try:
                keysym = key_keysym(key)
            except KeyError:
                missing.append(key)
                continue
            if keysym not in self._codes:
                missing.append(key)
        return missing

    def key(self, name: str, down: bool) -> None:
        if down:
            if name == "shift" or name not in self._held_keys:
                if self.missing_keys([name]):
                    raise ActionError(f"cannot press {name!r}: not on this keyboard layout")
                code, shift = self._codes[key_keysym(name)]
                if shift:
                    self._send(self._X.KeyPress, self._shift)
                self._send(self._X.KeyPress, code)
                self._held_keys[name] = (code, shift)
        else:
            code, shift = self._held_keys.pop(name, (0, False))
            if not code and not self.missing_keys([name]):
                code, shift = self._codes[key_keysym(name)]
            if code:
                self._send(self._X.KeyRelease, code)
            if shift:
                self._send(self._X.KeyRelease, self._shift)
        self._flush()

    def untypable(self, text: str) -> list[str]:
        return sorted({ch for ch in text if not typable(ch)})

    def type_char(self, ch: str) -> None:
        """Type ``ch`` unless the user holds a modifier: the look at the key state and the key
        itself happen under a server grab, so no other client's key (a person's, through XTEST)
        can come between them."""
        found = self._code(char_keysym(ch))
        if found is None:
            raise ActionError(f"cannot type {ch!r}: no free key code left on this X keyboard")
        code, shift = found
        self._x(self._d.grab_server)
        try:
            held = self.user_modifiers()
            if held:
                raise ModifiersHeld(held)
            if shift:
                self._send(self._X.KeyPress, self._shift)
            self._send(self._X.KeyPress, code)
            self._send(self._X.KeyRelease, code)
            if shift:
                self._send(self._X.KeyRelease, self._shift)
        finally:
            self._x(self._d.ungrab_server)
            self._flush()

    def user_modifiers(self) -> frozenset[str]:
        """The modifiers held down on the server now. tracer lets go of every key after each
        character, so between two characters a modifier that is down is the user's."""
        keymap = self._x(self._d.query_keymap)
        held = set()
        for code, name in self._modifier_codes.items():
            if keymap[code // 8] & (1 << (code % 8)):
                held.add(name)
        return frozenset(held)

    def release(self, keys: list[str]) -> None:
        for key in [*self._held_keys, *keys]:
            with contextlib.suppress(ActionError, KeyError):
                self.key(key, False)
        for number in list(self._held_buttons):
            self._send(self._X.ButtonRelease, number)
            self._held_buttons.discard(number)
        self._flush()

    def close(self) -> None:
        """Empty the spare key codes mapped for this run, and close the connection."""
        with contextlib.suppress(Exception):
            for code in list(self._mapped):
                self._d.change_keyboard_mapping(code, [(0,) * self._per_code])
            self._mapped.clear()
            self._d.sync()
        with contextlib.suppress(Exception):
            self._d.close()
