"""Keys as every desktop names them: the X keysym of each key name tracer's steps use (pyautogui's
names, see plan.KNOWN_KEYS) and of each character it types. X11's XTest, Mutter's
NotifyKeyboardKeysym and a Wayland virtual keyboard's keymap all speak keysyms."""

from __future__ import annotations

# Key names (plan._NAMED_KEYS and their side-specific forms) -> X keysym names.
_NAMES = {
    "enter": "Return", "tab": "Tab", "space": "space", "backspace": "BackSpace",
    "delete": "Delete", "escape": "Escape", "insert": "Insert", "home": "Home", "end": "End",
    "pageup": "Prior", "pagedown": "Next", "up": "Up", "down": "Down", "left": "Left",
    "right": "Right", "ctrl": "Control_L", "ctrlleft": "Control_L", "ctrlright": "Control_R",
    "shift": "Shift_L", "shiftleft": "Shift_L", "shiftright": "Shift_R", "alt": "Alt_L",
    "altleft": "Alt_L", "altright": "Alt_R", "option": "Alt_L", "win": "Super_L",
    "winleft": "Super_L", "winright": "Super_R", "command": "Super_L", "capslock": "Caps_Lock",
    "numlock": "Num_Lock", "scrolllock": "Scroll_Lock", "printscreen": "Print",
    "pause": "Pause", "apps": "Menu", "altgr": "ISO_Level3_Shift",
    "volumeup": "XF86AudioRaiseVolume", "volumedown": "XF86AudioLowerVolume",
    "volumemute": "XF86AudioMute", "playpause": "XF86AudioPlay", "nexttrack": "XF86AudioNext",
    "prevtrack": "XF86AudioPrev",
}
# Keysym values of those names (from X11's keysymdef.h and XF86keysym.h).
_VALUES = {
    "Return": 0xFF0D, "Tab": 0xFF09, "space": 0x20, "BackSpace": 0xFF08, "Delete": 0xFFFF,
    "Escape": 0xFF1B, "Insert": 0xFF63, "Home": 0xFF50, "End": 0xFF57, "Prior": 0xFF55,
    "Next": 0xFF56, "Up": 0xFF52, "Down": 0xFF54, "Left": 0xFF51, "Right": 0xFF53,
    "Control_L": 0xFFE3, "Control_R": 0xFFE4, "Shift_L": 0xFFE1, "Shift_R": 0xFFE2,
    "Alt_L": 0xFFE9, "Alt_R": 0xFFEA, "Super_L": 0xFFEB, "Super_R": 0xFFEC,
    "Caps_Lock": 0xFFE5, "Num_Lock": 0xFF7F, "Scroll_Lock": 0xFF14, "Print": 0xFF61,
    "Pause": 0xFF13, "Menu": 0xFF67, "ISO_Level3_Shift": 0xFE03,
    "XF86AudioRaiseVolume": 0x1008FF13, "XF86AudioLowerVolume": 0x1008FF11,
    "XF86AudioMute": 0x1008FF12, "XF86AudioPlay": 0x1008FF14, "XF86AudioNext": 0x1008FF17,
    "XF86AudioPrev": 0x1008FF16,
}
# Function keys F1..F24: consecutive keysyms from 0xFFBE.
_FUNCTION = {f"f{n}": (f"F{n}", 0xFFBE + n - 1) for n in range(1, 25)}
# The keysyms of modifier keys, by tracer's name for the modifier.
MODIFIERS = {"shift": (0xFFE1, 0xFFE2), "ctrl": (0xFFE3, 0xFFE4), "alt": (0xFFE9, 0xFFEA, 0xFFE7, 0xFFE8),
             "win": (0xFFEB, 0xFFEC), "altgr": (0xFE03,)}


def keysym_name(key: str) -> str:
    """The X keysym name of a key name (``enter`` -> ``Return``, ``a`` -> ``a``)."""
    if key in _FUNCTION:
        return _FUNCTION[key][0]
    if key in _NAMES:
        return _NAMES[key]
    if len(key) == 1:
        return key if key.isalnum() and key.isascii() else f"U{ord(key):04X}"
    raise KeyError(key)


def key_keysym(key: str) -> int:
    """The keysym of a key name (``ctrl``, ``f5``, ``a``, ``1``, ``/``); KeyError if unknown."""
    if key in _FUNCTION:
        return _FUNCTION[key][1]
    if key in _NAMES:
        return _VALUES[_NAMES[key]]
    if len(key) == 1:
        return char_keysym(key)
    raise KeyError(key)


def char_keysym(ch: str) -> int:
    """The keysym that types ``ch``: Latin-1 characters are their own keysym, every other one is
    0x01000000 plus its code point (X11's rule for Unicode keysyms); newline and tab are the
    Return and Tab keys."""
    if ch in ("\n", "\r"):
        return _VALUES["Return"]
    if ch == "\t":
        return _VALUES["Tab"]
    code = ord(ch)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return 0x01000000 + code


def typable(ch: str) -> bool:
    """Whether a character is text a keyboard can send at all: not a control character (other
    than newline and tab), not a surrogate."""
    code = ord(ch)
    if ch in ("\n", "\r", "\t"):
        return True
    return code >= 0x20 and not 0x7F <= code < 0xA0 and not 0xD800 <= code < 0xE000
