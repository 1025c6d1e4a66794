"""The mouse and keyboard of KWin: org_kde_kwin_fake_input, a device of tracer's own on the seat.

Coordinates: the Input takes desktop pixels (the screenshots' physical pixels, placed as in
wlr_session) and sends each point in KWin's global logical coordinates, through the output it
lies on. wl_fixed carries 1/256 of a unit; the point is rounded *up* to that grid, so that a
program (which finds the pixel under the pointer by rounding its position down) lands on the
pixel's own corner at any scale. KWin 5.27 then puts the pointer on whole logical units: at
scale 2 an odd physical pixel is reached as the next one (1 px off), which no client can change.

Keyboard: fake input sends evdev key codes, which KWin reads through its own keymap and its one
keyboard state (shared with the user's keyboard). tracer types what that keymap reaches (with
Shift and AltGr) and refuses any other character before it types anything (kde_keymap). No
Wayland client can read the pointer's position or the user's modifiers: ``position`` and
``user_modifiers`` are None.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import TYPE_CHECKING

from tracer_cli.desktop import keysyms
from tracer_cli.desktop.platforms.wayland import PACE, WaylandInput, grace_until
from tracer_cli.errors import ActionError, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.platforms.kde_keymap import Keymap, Stroke
    from tracer_cli.desktop.platforms.kde_session import KdeSession

AXIS_VERTICAL = 0
WHEEL_STEP = 15.0  # axis units of one notch of a wheel (libinput's, as KWin reports them)
FIXED = 256  # wl_fixed: 1/256 of a unit


class KdeInput(WaylandInput):
    """tracer's fake input device on the seat of ``session``'s KWin."""

    def __init__(self, session: KdeSession) -> None:
        super().__init__(session)
        self._held_keys: list[int] = []  # evdev codes, in the order pressed
        with session.lock:
            session.pump(0)
            self.fake = session.fake_input()
        self._keymap: Keymap | None = None
        # Binding fake input made our device when the session connected.
        self._grace_until = grace_until(session.connected_at, session.info.first_seat_caps or 0)

    def keymap(self) -> Keymap:
        if self._keymap is None:
            found = self.session.read_keymap()
            if found is None:
                raise ActionError("KWin's seat has no keyboard, so tracer cannot type",
                                  "check `tracer doctor --platform kde`")
            self._keymap = found
        return self._keymap

    # -- where --------------------------------------------------------------------------------

    def _logical(self, x: float, y: float) -> tuple[float, float]:
        """A desktop pixel in KWin's logical coordinates, on the grid of wl_fixed."""
        lx, ly = self._layout_point(x, y)
        return (math.ceil(lx * FIXED - 1e-6) / FIXED, math.ceil(ly * FIXED - 1e-6) / FIXED)

    # -- the pointer --------------------------------------------------------------------------

    def move(self, x: int, y: int) -> None:
        with self.session.lock:
            self._grace()
            self.fake.pointer_motion_absolute(*self._logical(x, y))
            self.session.flush()

    def _button(self, code: int, down: bool) -> None:
        self.fake.button(code, 1 if down else 0)
        (self._held_buttons.add if down else self._held_buttons.discard)(code)

    def scroll(self, x: int, y: int, clicks: int) -> None:
        """Turn the wheel: positive up (a negative axis value)."""
        self.move(x, y)
        if not clicks:
            return
        step = -WHEEL_STEP if clicks > 0 else WHEEL_STEP
        with self.session.lock:
            for _ in range(abs(clicks)):
                self.fake.axis(AXIS_VERTICAL, step)
            self.session.flush()
        time.sleep(PACE)

    # -- the keyboard -------------------------------------------------------------------------

    def _key(self, code: int, down: bool) -> None:
        self.fake.keyboard_key(code, 1 if down else 0)
        if down:
            self._held_keys.append(code)
        elif code in self._held_keys:
            self._held_keys.remove(code)

    def _named_stroke(self, name: str) -> Stroke:
        """The key of a key name: a letter is its key whatever the case (a shortcut)."""
        key = name.lower() if len(name) > 1 or name.isalpha() else name
        try:
            sym = keysyms.key_keysym(key)
        except KeyError:
            raise ActionError(f"cannot press {name!r}: tracer knows no such key") from None
        stroke = self.keymap().stroke(sym)
        if stroke is None or (len(key) == 1 and not key.isalpha() and stroke.modifiers):
            raise ActionError(f"cannot press {name!r}: KWin's keyboard layout has no key "
                              "of its own for it", "type it as text instead")
        return stroke

    def missing_keys(self, keys: list[str]) -> list[str]:
        missing = []
        for key in keys:
            try:
                self._named_stroke(key)
            except ActionError:
                missing.append(key)
        return missing

    def key(self, name: str, down: bool) -> None:
        stroke = self._named_stroke(name)
        with self.session.lock:
            self._grace()
            if down or stroke.code in self._held_keys:
                self._key(stroke.code, down)
            self.session.flush()

    def _char_stroke(self, ch: str) -> Stroke | None:
        if not keysyms.typable(ch):
            return None
        return self.keymap().stroke(keysyms.char_keysym(ch))

    def untypable(self, text: str) -> list[str]:
        return sorted({ch for ch in text if self._char_stroke(ch) is None})

    def prepare_text(self, text: str) -> None:
        """Nothing to get ready: each character is typed as it comes."""

    def type_char(self, ch: str) -> None:
        stroke = self._char_stroke(ch) if len(ch) == 1 else None
        if stroke is None:
            raise ActionError(f"cannot type {ch!r}: KWin's keyboard layout has no key for it")
        with self.session.lock:
            self._grace()
            held = [m for m in stroke.modifiers if m not in self._held_keys]
            for code in held:
                self._key(code, True)
            self._key(stroke.code, True)
            self._key(stroke.code, False)
            for code in reversed(held):
                self._key(code, False)
            self.session.flush()

    def release(self, keys: list[str]) -> None:
        """Let go of every key and button this device holds (``keys`` are among them when
        held: the device holds only what tracer pressed)."""
        with self.session.lock:
            for code in reversed(list(self._held_keys)):
                self._key(code, False)
            for code in list(self._held_buttons):
                self._button(code, False)
            self.session.flush()

    def close(self) -> None:
        with self.session.lock:
            if self._closed or self.session.closed:
                return
            self._closed = True
            with contextlib.suppress(TracerError):
                self.release([])
                self.session.sync(1.0)
