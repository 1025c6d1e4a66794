"""Which key (and which modifiers) types a keysym on KWin, from the seat's real keymap.

KWin's fake input sends evdev key codes, and KWin turns them into text through its own keymap and
its one keyboard state, shared with the user's keyboard. So tracer can type exactly the keysyms
that keymap has, on a level it can reach by pressing Shift and/or ISO_Level3_Shift (AltGr); any
other character is refused before anything is typed. With several layouts in the keymap (which
one is active cannot be seen from a client), a keysym counts only where every layout has it on
the same key and level.

The keymap arrives the way any Wayland client gets it (wl_seat -> wl_keyboard.keymap) and is
compiled with libxkbcommon through ctypes: no compiled code of tracer's.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from dataclasses import dataclass, field

SHIFT_L = 0xFFE1
LEVEL3 = 0xFE03  # ISO_Level3_Shift
EVDEV_OFFSET = 8  # xkb key codes are evdev codes plus 8

_lib: ctypes.CDLL | None = None


def _xkb() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("xkbcommon") or "libxkbcommon.so.0"
        lib = ctypes.CDLL(name)
        vp, u32 = ctypes.c_void_p, ctypes.c_uint32
        lib.xkb_context_new.restype = vp
        lib.xkb_context_new.argtypes = [ctypes.c_int]
        lib.xkb_context_unref.argtypes = [vp]
        lib.xkb_keymap_new_from_string.restype = vp
        lib.xkb_keymap_new_from_string.argtypes = [vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.xkb_keymap_unref.argtypes = [vp]
        for fn in ("xkb_keymap_min_keycode", "xkb_keymap_max_keycode", "xkb_keymap_num_layouts"):
            getattr(lib, fn).restype = u32
            getattr(lib, fn).argtypes = [vp]
        lib.xkb_keymap_num_levels_for_key.restype = u32
        lib.xkb_keymap_num_levels_for_key.argtypes = [vp, u32, u32]
        lib.xkb_keymap_key_get_syms_by_level.restype = ctypes.c_int
        lib.xkb_keymap_key_get_syms_by_level.argtypes = [
            vp, u32, u32, u32, ctypes.POINTER(ctypes.POINTER(u32))]
        lib.xkb_keymap_key_get_mods_for_level.restype = ctypes.c_size_t
        lib.xkb_keymap_key_get_mods_for_level.argtypes = [
            vp, u32, u32, u32, ctypes.POINTER(u32), ctypes.c_size_t]
        lib.xkb_keymap_mod_get_index.restype = u32
        lib.xkb_keymap_mod_get_index.argtypes = [vp, ctypes.c_char_p]
        _lib = lib
    return _lib


@dataclass(frozen=True)
class Stroke:
    """How to type a keysym: the evdev code of its key and the modifier keys held around it."""

    code: int
    modifiers: tuple[int, ...] = ()


@dataclass
class Keymap:
    strokes: dict[int, Stroke] = field(default_factory=dict)  # keysym -> how to type it
    modifier_codes: dict[int, int] = field(default_factory=dict)  # modifier keysym -> evdev code
    layouts: int = 1

    def stroke(self, keysym: int) -> Stroke | None:
        return self.strokes.get(keysym)


def compile_keymap(text: bytes) -> Keymap:
    """The strokes of every keysym the keymap reaches (the first key and lowest level win)."""
    lib = _xkb()
    context = lib.xkb_context_new(0)
    if not context:
        raise OSError("libxkbcommon could not make a context")
    try:
        keymap = lib.xkb_keymap_new_from_string(context, text.rstrip(b"\0"), 1, 0)
        if not keymap:
            raise OSError("libxkbcommon could not read the compositor's keymap")
        try:
            return _read(lib, keymap)
        finally:
            lib.xkb_keymap_unref(keymap)
    finally:
        lib.xkb_context_unref(context)


def _read(lib: ctypes.CDLL, keymap: int) -> Keymap:
    low, high = lib.xkb_keymap_min_keycode(keymap), lib.xkb_keymap_max_keycode(keymap)
    layouts = max(1, lib.xkb_keymap_num_layouts(keymap))
    shift_bit = 1 << lib.xkb_keymap_mod_get_index(keymap, b"Shift")
    syms_ptr = ctypes.POINTER(ctypes.c_uint32)()
    masks = (ctypes.c_uint32 * 8)()
    # per layout: keysym -> (key, level mask); the level-0 keysym of each key, for modifiers
    found: list[dict[int, tuple[int, int]]] = [{} for _ in range(layouts)]
    modifier_codes: dict[int, int] = {}
    for key in range(low, min(high, 255) + 1):  # Xwayland programs see key codes up to 255
        for layout in range(layouts):
            for level in range(lib.xkb_keymap_num_levels_for_key(keymap, key, layout)):
                count = lib.xkb_keymap_key_get_syms_by_level(keymap, key, layout, level,
                                                             ctypes.byref(syms_ptr))
                if count != 1:
                    continue
                sym = syms_ptr[0]
                n = lib.xkb_keymap_key_get_mods_for_level(keymap, key, layout, level, masks, 8)
                options = sorted(masks[i] for i in range(n))
                if not options:
                    continue
                if sym not in found[layout] or _better(options[0], found[layout][sym][1]):
                    found[layout][sym] = (key, options[0])
                if level == 0 and options[0] == 0 and sym in (SHIFT_L, LEVEL3):
                    modifier_codes.setdefault(sym, key - EVDEV_OFFSET)
    level3_bit = _level3_bit(lib, keymap)
    strokes: dict[int, Stroke] = {}
    for sym, (key, mask) in found[0].items():
        if any(other.get(sym) != (key, mask) for other in found[1:]):
            continue  # differs between layouts: which one is active cannot be seen
        held = []
        rest = mask
        if rest & shift_bit and SHIFT_L in modifier_codes:
            held.append(modifier_codes[SHIFT_L])
            rest &= ~shift_bit
        if level3_bit and rest & level3_bit and LEVEL3 in modifier_codes:
            held.append(modifier_codes[LEVEL3])
            rest &= ~level3_bit
        if rest:
            continue  # a level behind another modifier (NumLock, a lock): not reliably reached
        strokes[sym] = Stroke(key - EVDEV_OFFSET, tuple(held))
    return Keymap(strokes, modifier_codes, layouts)


def _better(mask: int, than: int) -> bool:
    return bin(mask).count("1") < bin(than).count("1")


def _level3_bit(lib: ctypes.CDLL, keymap: int) -> int:
    """The real modifier ISO_Level3_Shift sets (levels come back as real modifiers: Mod5)."""
    index = lib.xkb_keymap_mod_get_index(keymap, b"Mod5")
    return 0 if index == 0xFFFFFFFF else 1 << index


def read_keymap_fd(fd: int, size: int) -> bytes:
    """The keymap text a wl_keyboard.keymap event hands over (the fd is closed)."""
    try:
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as data:
            return bytes(data)
    finally:
        os.close(fd)
