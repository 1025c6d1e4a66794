"""Global input listening through pynput (the X RECORD extension on X11; the system's hooks on
macOS and Windows), for `tracer record`: every button, wheel turn and key of the user, with the
key named as tracer names keys (pyautogui's names, or the character typed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracer_cli.errors import DisplayError

# X keysyms pynput reports without a name: Tab with shift held, the keypad's Enter.
_X_KEYSYMS = {0xFE20: "tab", 0xFF8D: "enter"}


def key_name(key: Any, keyboard: Any) -> str | None:
    """pynput's key as the recorder names it: pyautogui's name, or the character typed."""
    from tracer_cli.desktop.killswitch import PYNPUT_NAMES, X_META

    if key is None:
        return None
    if isinstance(key, keyboard.Key):
        name = key.name
        for side in ("_l", "_r"):
            if name.endswith(side) and name[:-2] in ("ctrl", "alt", "shift", "cmd"):
                name = name[:-2]
        return PYNPUT_NAMES.get(name, name.replace("_", ""))
    char = getattr(key, "char", None)
    if char:
        if len(char) == 1 and ord(char) < 32:  # ctrl+letter as a control character
            return chr(ord(char) + 96) if 1 <= ord(char) <= 26 else None
        return char if len(char) == 1 else None
    vk = getattr(key, "vk", None)
    if vk in X_META:
        return "alt"
    return _X_KEYSYMS.get(vk)  # type: ignore[arg-type]


class PynputListening:
    """The user's mouse and keyboard, heard from anywhere: ``on_button(x, y, name, pressed)``,
    ``on_scroll(x, y, dy)`` and ``on_key(name, down)`` in input units, called on the
    listeners' threads."""

    def __init__(self, on_button: Callable[[float, float, str, bool], None],
                 on_scroll: Callable[[float, float, int], None],
                 on_key: Callable[[str, bool], None],
                 fix: str = "check the input permissions (macOS: Accessibility)") -> None:
        self.fix = fix
        try:
            from pynput import keyboard, mouse
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DisplayError(f"cannot record: pynput cannot use this display ({first})",
                               fix) from None

        def click(x: float, y: float, button: Any, pressed: bool, injected: bool = False) -> None:
            on_button(x, y, getattr(button, "name", str(button)), pressed)

        def scroll(x: float, y: float, dx: float, dy: float, injected: bool = False) -> None:
            if dy:
                on_scroll(x, y, int(dy))

        def key(down: bool) -> Callable[..., None]:
            def handle(pressed: Any, injected: bool = False) -> None:
                name = key_name(pressed, keyboard)
                if name is not None:
                    on_key(name, down)
            return handle

        self._mouse = mouse.Listener(on_click=click, on_scroll=scroll)
        self._keys = keyboard.Listener(on_press=key(True), on_release=key(False))

    def start(self) -> None:
        from tracer_cli.desktop.killswitch import start_listener, stop_listener

        start_listener(self._mouse, self._failed("mouse"))
        try:
            start_listener(self._keys, self._failed("keyboard"))
        except BaseException:
            stop_listener(self._mouse)
            raise

    def _failed(self, what: str) -> DisplayError:
        return DisplayError(f"cannot record: the global {what} listener did not start", self.fix)

    def close(self) -> None:
        from tracer_cli.desktop.killswitch import stop_listener

        for listener in (self._keys, self._mouse):
            if listener.is_alive():
                stop_listener(listener)
