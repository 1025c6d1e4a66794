"""Which characters mutter's NotifyKeyboardKeysym types exactly, from the seat's real keymap.

mutter (src/backends/native/meta-virtual-input-device-native.c, notify_keyval) turns a keysym
into a key press like this: it scans keycodes min..max-1 of the *current* layout, every level of
each, and takes the first (keycode, level) whose symbols hold the keysym; level 1: it presses
Shift around the key, level 2: ISO_Level3_Shift, level 3 and up: the key alone (a WRONG
character); no match: it drops the key, and the D-Bus call still succeeds (a silent drop). Seen
in mutter 43 and read unchanged in the sources of 45 to 50.

mutter's keymap also puts some keysyms (EuroSign here) on keycodes above 255, which X11 cannot
carry: an Xwayland program never sees them. So a character is typable by keysym when, in every
layout of the keymap (which one is locked cannot be seen), that first match exists on a keycode
up to 255, at level 0, at level 1 with Shift in the keymap, or at level 2 with ISO_Level3_Shift.

The keymap is read the way any Wayland client gets it (wl_seat -> wl_keyboard.keymap, through
pywayland's core protocol) and compiled with libxkbcommon through ctypes: no compiled code of
tracer's. pywayland is imported by the functions that use it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from dataclasses import dataclass, field

XKB_KEY_Shift_L = 0xFFE1
XKB_KEY_ISO_Level3_Shift = 0xFE03

_lib = None


def _xkb() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(ctypes.util.find_library("xkbcommon") or "libxkbcommon.so.0")
        lib.xkb_context_new.restype = ctypes.c_void_p
        lib.xkb_context_new.argtypes = [ctypes.c_int]
        lib.xkb_context_unref.argtypes = [ctypes.c_void_p]
        lib.xkb_keymap_new_from_string.restype = ctypes.c_void_p
        lib.xkb_keymap_new_from_string.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                   ctypes.c_int, ctypes.c_int]
        lib.xkb_keymap_unref.argtypes = [ctypes.c_void_p]
        for name in ("xkb_keymap_min_keycode", "xkb_keymap_max_keycode",
                     "xkb_keymap_num_layouts"):
            getattr(lib, name).restype = ctypes.c_uint32
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        lib.xkb_keymap_num_levels_for_key.restype = ctypes.c_uint32
        lib.xkb_keymap_num_levels_for_key.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                                      ctypes.c_uint32]
        lib.xkb_keymap_key_get_syms_by_level.restype = ctypes.c_int
        lib.xkb_keymap_key_get_syms_by_level.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
            ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32))]
        lib.xkb_keymap_layout_get_name.restype = ctypes.c_char_p
        lib.xkb_keymap_layout_get_name.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.xkb_keysym_to_utf32.restype = ctypes.c_uint32
        lib.xkb_keysym_to_utf32.argtypes = [ctypes.c_uint32]
        lib.xkb_utf32_to_keysym.restype = ctypes.c_uint32
        lib.xkb_utf32_to_keysym.argtypes = [ctypes.c_uint32]
        _lib = lib
    return _lib


def char_to_keysym(ch: str) -> int:
    """The keysym libxkbcommon gives a character (legacy keysyms first, e.g. EuroSign)."""
    if ch == "\n":
        return 0xFF0D  # Return
    if ch == "\t":
        return 0xFF09  # Tab
    return _xkb().xkb_utf32_to_keysym(ord(ch))


@dataclass
class Keymap:
    text: bytes
    layouts: list[str] = field(default_factory=list)
    # per layout: keysym -> (keycode, level) of mutter's first match
    first_match: list[dict[int, tuple[int, int]]] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: bytes) -> Keymap:
        lib = _xkb()
        ctx = lib.xkb_context_new(0)
        km = lib.xkb_keymap_new_from_string(ctx, text.rstrip(b"\0"), 1, 0)
        if not km:
            lib.xkb_context_unref(ctx)
            raise ValueError("libxkbcommon could not compile the seat's keymap")
        try:
            self = cls(text)
            lo, hi = lib.xkb_keymap_min_keycode(km), lib.xkb_keymap_max_keycode(km)
            syms = ctypes.POINTER(ctypes.c_uint32)()
            for layout in range(lib.xkb_keymap_num_layouts(km)):
                name = lib.xkb_keymap_layout_get_name(km, layout)
                self.layouts.append(name.decode() if name else f"layout {layout}")
                found: dict[int, tuple[int, int]] = {}
                for keycode in range(lo, hi):  # mutter stops before max_keycode too
                    for level in range(lib.xkb_keymap_num_levels_for_key(km, keycode, layout)):
                        n = lib.xkb_keymap_key_get_syms_by_level(km, keycode, layout, level,
                                                                 ctypes.byref(syms))
                        for i in range(n):
                            found.setdefault(syms[i], (keycode, level))
                self.first_match.append(found)
            return self
        finally:
            lib.xkb_keymap_unref(km)
            lib.xkb_context_unref(ctx)

    def keysym_ok(self, keysym: int) -> bool:
        """mutter 43 would type exactly this keysym, whichever layout is current."""
        if not self.first_match or keysym == 0:
            return False
        for found in self.first_match:
            hit = found.get(keysym)
            if hit is None:
                return False
            keycode, level = hit
            if keycode > 255:
                return False  # X11 keycodes end at 255: Xwayland apps would never see it
            if level == 1 and XKB_KEY_Shift_L not in found:
                return False
            if level == 2 and XKB_KEY_ISO_Level3_Shift not in found:
                return False
            if level > 2:
                return False
        return True

    def keycode_of(self, keysym: int, layout: int = 0) -> tuple[int, int] | None:
        return self.first_match[layout].get(keysym) if self.first_match else None


def fetch_keymap(wayland_display: str | None = None) -> Keymap:
    """The keymap the compositor gives its clients' keyboards (needs WAYLAND_DISPLAY). The
    seat must have a keyboard (a RemoteDesktop session that has sent a key gives it one)."""
    from pywayland.client import Display
    from pywayland.protocol.wayland import WlSeat

    display = Display(wayland_display or os.environ.get("WAYLAND_DISPLAY"))
    display.connect()
    try:
        seats: list = []
        registry = display.get_registry()

        def on_global(reg, name, interface, version):
            if interface == "wl_seat" and not seats:
                seats.append(reg.bind(name, WlSeat, min(version, 5)))

        registry.dispatcher["global"] = on_global
        display.roundtrip()
        if not seats:
            raise ValueError("the compositor offers no wl_seat")
        caps: list[int] = []
        seats[0].dispatcher["capabilities"] = lambda seat, c: caps.append(c)
        display.roundtrip()
        if not caps or not caps[-1] & 2:  # WL_SEAT_CAPABILITY_KEYBOARD
            raise ValueError("the seat has no keyboard yet")
        keyboard = seats[0].get_keyboard()
        got: list[bytes] = []

        def on_keymap(kb, fmt, fd, size):
            try:
                if fmt == 1:  # XKB_V1
                    with mmap.mmap(fd, size, mmap.MAP_PRIVATE, mmap.PROT_READ) as m:
                        got.append(bytes(m[:size]))
            finally:
                os.close(fd)

        keyboard.dispatcher["keymap"] = on_keymap
        display.roundtrip()
        if not got:
            raise ValueError("the compositor sent no xkb keymap")
        return Keymap.from_text(got[0])
    finally:
        display.disconnect()


def seat_capabilities(wayland_display: str) -> int:
    """wl_seat's capabilities (1 pointer, 2 keyboard, 4 touch) as a Wayland client sees them."""
    from pywayland.client import Display
    from pywayland.protocol.wayland import WlSeat

    display = Display(wayland_display)
    display.connect()
    try:
        seats: list = []
        registry = display.get_registry()
        registry.dispatcher["global"] = lambda reg, name, iface, ver: (
            seats.append(reg.bind(name, WlSeat, 1)) if iface == "wl_seat" and not seats else None)
        display.roundtrip()
        caps = [0]
        if seats:
            seats[0].dispatcher["capabilities"] = lambda seat, c: caps.__setitem__(0, c)
            display.roundtrip()
        return caps[0]
    finally:
        display.disconnect()
