"""The platform: the kind of desktop tracer sees and acts on, behind one interface.

Each platform (X11, GNOME on Wayland, wlroots compositors, KDE Plasma on Wayland, and an
untested generic one for macOS and Windows) is a module of ``desktop/platforms`` that registers itself with
``@PLATFORMS.register("name")``, or a plug-in in the ``tracer.platforms`` entry-point group. It
is chosen once per command, from the session (``detect``) or ``--platform``, and gives the rest of
tracer what a run needs: screens to capture, input to send, the kill and pause switches, input
listening for ``tracer record``, a watch on the desktop going away, and doctor's checks. Nothing
outside ``desktop/`` knows which platform it talks to.

Coordinates: a screen's ``Geometry`` says where its monitor lies in desktop pixels (the pixels
of the screenshots) and how desktop pixels relate to the input's units (``input_scale``); an
``Input`` takes input units, as it always did on X11.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tracer_cli.errors import DisplayError
from tracer_cli.registry import Registry

if TYPE_CHECKING:
    import threading

    from tracer_cli.desktop.killswitch import PauseRequest
    from tracer_cli.desktop.screen import Screen


class ModifiersHeld(Exception):  # noqa: N818 - not an error: the user is pressing keys
    """Raised by ``Input.type_char`` instead of typing when it finds, at the moment it would
    send the key, that the user holds a modifier: the character would be a shortcut."""

    def __init__(self, held: frozenset[str]) -> None:
        super().__init__("+".join(sorted(held)))
        self.held = held


@dataclass(frozen=True)
class Check:
    """One row of `tracer doctor` that a platform adds: ``ok`` None means skipped."""

    name: str
    ok: bool | None
    detail: str = ""
    fix: str = ""


# The keys doctor's input row asks each platform's keyboard for.
ESSENTIAL_KEYS = ("a", "z", "0", "9", "space", "enter", "tab", "backspace", "escape", "shift",
                  "ctrl", "alt")


class Input(Protocol):
    """The mouse and keyboard of one desktop, in input units. Each call returns with nothing
    held, except ``button``/``key`` with ``down=True``. Raises ``Interrupted`` when the user's
    fail-safe gesture (the pointer in a corner, where the platform knows the pointer) asks to
    stop, ``ActionError`` for what cannot be done, ``DisplayLost`` when the desktop went away."""

    def size(self) -> tuple[int, int]:
        """The whole desktop, in input units."""

    def position(self) -> tuple[int, int] | None:
        """Where the pointer is (None where the platform cannot know)."""

    def move(self, x: int, y: int) -> None: ...

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None: ...

    def button(self, name: str, down: bool) -> None: ...

    def scroll(self, x: int, y: int, clicks: int) -> None:
        """Turn the wheel at (x, y): positive up, negative down."""

    def missing_keys(self, keys: list[str]) -> list[str]:
        """The keys of a chord this keyboard cannot press."""

    def key(self, name: str, down: bool) -> None:
        """Press or release a key by its name (plan.KNOWN_KEYS)."""

    def untypable(self, text: str) -> list[str]:
        """The characters of ``text`` this desktop cannot type exactly (ideally none)."""

    def prepare_text(self, text: str) -> None:
        """Get ready to type ``text``, before its first character (X11: key codes mapped at
        once for the characters the layout lacks)."""

    def type_char(self, ch: str) -> None:
        """Type one character exactly (pressing and releasing whatever it needs); where the
        platform can tell, ``ModifiersHeld`` instead when the user holds a modifier."""

    def user_modifiers(self) -> frozenset[str] | None:
        """The modifiers the user holds now (ctrl, alt, shift, win); None where unknown."""

    def release(self, keys: list[str]) -> None:
        """Let go of these keys and any mouse button this input holds."""

    def close(self) -> None: ...


class Switch(Protocol):
    """A kill or pause switch armed on the desktop (a global hotkey, a compositor binding)."""

    label: str  # how the user is told to press it: ctrl+alt+shift+k
    chord: frozenset[str]  # its keys in the actuator's names: tracer never presses them
    warning: str  # set by start() where the switch may miss presses

    def start(self) -> None:
        """Arm it; a DisplayError (one line, with the fix) where it cannot be."""

    def close(self) -> None:
        """Disarm it and remove every trace of it from the desktop."""


class Platform(Protocol):
    name: str

    def describe(self) -> str:
        """The desktop in a few words: ``X11 display :0``, ``GNOME (Wayland) wayland-0``."""

    def target(self) -> str:
        """What is acted on, as a key: two runs with the same target would fight."""

    def open_screen(self, monitor: int, input_size: tuple[int, int] | None = None) -> Screen:
        """Capture of monitor ``monitor`` (1 = primary); a DisplayError listing the monitors
        there are when it does not exist. Used from the thread that opened it."""

    def open_input(self) -> Input: ...

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None) -> Switch: ...

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> Switch: ...

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        """Global input listening for `tracer record`: an object with start() and close();
        a DisplayError with the alternatives where the platform cannot listen."""

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        """Call ``lost(reason)`` once, on another thread, if the desktop goes away; returns
        what stops watching."""

    def checks(self, monitor: int) -> list[Check]:
        """The doctor's rows for this platform: the display, capture, input."""


PLATFORMS: Registry[Callable[[str], Platform]] = Registry(
    "platform", "tracer_cli.desktop.platforms", "tracer.platforms")

# What each session type is, for `detect` and the messages.
WLROOTS_DESKTOPS = ("sway", "hyprland", "river", "wayfire", "labwc", "niri", "wlroots")


def detect(env: dict[str, str] | None = None) -> tuple[str, str]:
    """The platform of the session tracer runs in, and the display it names: (``x11``, ``:0``),
    (``gnome``, ``wayland-0``), (``wlroots``, ``wayland-1``), (``kde``, ``wayland-0``),
    (``generic``, ``native``); a
    DisplayError with the fix where there is none or it is not supported."""
    if sys.platform in ("darwin", "win32"):
        return "generic", "native"
    if env is None:
        if "DISPLAY" not in os.environ and "WAYLAND_DISPLAY" not in os.environ:
            from tracer_cli.desktop.session import fill

            # A stripped environment (an MCP client's): the user's session by its sockets. A
            # variable set empty (DISPLAY=) says "none" and is respected.
            fill()
        env = dict(os.environ)
    wayland = env.get("WAYLAND_DISPLAY", "")
    desktop = env.get("XDG_CURRENT_DESKTOP", "").lower()
    session = env.get("XDG_SESSION_TYPE", "").lower()
    if wayland or session == "wayland":
        if env.get("SWAYSOCK") or env.get("HYPRLAND_INSTANCE_SIGNATURE") or \
                any(name in desktop for name in WLROOTS_DESKTOPS):
            return "wlroots", wayland or "wayland-0"
        if "gnome" in desktop:
            return "gnome", wayland or "wayland-0"
        if "kde" in desktop:
            return "kde", wayland or "wayland-0"
        if not env.get("DISPLAY"):
            raise DisplayError(f"this Wayland desktop ({desktop or 'unknown'}) is not one tracer "
                               "knows (GNOME, KDE Plasma, sway, Hyprland and other wlroots "
                               "compositors)",
                               "choose one with --platform gnome|kde|wlroots, or use a sandbox: "
                               "tracer do --sandbox ...")
    display = env.get("DISPLAY", "")
    if display:
        return "x11", display
    raise DisplayError("no display: neither DISPLAY nor WAYLAND_DISPLAY is set",
                       "run tracer inside your desktop session, or choose one with --display :N "
                       "(e.g. an Xvfb)")


def choose(name: str = "auto", display: str = "") -> Platform:
    """The platform to use: ``name`` from --platform (``auto``: detected from the session) on
    ``display`` (--display; empty: the session's)."""
    if display.startswith(":") and name == "auto":
        name = "x11"  # an X display named explicitly
    if name == "auto":
        found, where = detect()
        return PLATFORMS.get(found)(display or where)
    if not display:
        try:
            found, where = detect()
        except DisplayError:
            found, where = name, ""
        display = where if found == name else ""
    return PLATFORMS.get(name)(display)
