"""macOS and Windows, UNTESTED: mss captures, pyautogui sends input and pynput hears the hotkeys
and records, as those libraries do there. Nothing here has run on either system in tracer's
tests (they run on Linux); `tracer doctor` says so. No X-only check is in this path."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.platform import PLATFORMS, Check
from tracer_cli.errors import ActionError, DisplayError, Interrupted, TracerError

if TYPE_CHECKING:
    from tracer_cli.desktop.killswitch import KillSwitch, PauseRequest, PauseSwitch
    from tracer_cli.desktop.platforms.mss_screen import MssScreen

UNTESTED = "untested: tracer's tests run on Linux only"


class PyAutoGUIInput:
    """Mouse and keyboard through pyautogui (its corner fail-safe on)."""

    def __init__(self) -> None:
        try:
            import pyautogui
        except Exception as exc:
            raise DisplayError(f"pyautogui cannot start: {type(exc).__name__}: {exc}",
                               "check the input permissions (macOS: Accessibility)") from None
        pyautogui.FAILSAFE = True
        pyautogui.PAUSE = 0.02
        self._gui = pyautogui

    def _do(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._gui.FailSafeException:
            raise Interrupted("stopped by the fail-safe: the mouse is in a corner of the screen") from None

    def size(self) -> tuple[int, int]:
        w, h = self._gui.size()
        return int(w), int(h)

    def position(self) -> tuple[int, int]:
        x, y = self._gui.position()
        return int(x), int(y)

    def move(self, x: int, y: int) -> None:
        self._do(self._gui.moveTo, x, y)

    def click(self, x: int, y: int, button: str = "left", clicks: int = 1) -> None:
        self._do(self._gui.click, x, y, clicks=clicks, interval=0.05 if clicks > 1 else 0.0,
                 button=button)

    def button(self, name: str, down: bool) -> None:
        self._do(self._gui.mouseDown if down else self._gui.mouseUp, button=name)

    def scroll(self, x: int, y: int, clicks: int) -> None:
        self._do(self._gui.scroll, clicks, x=x, y=y)

    def missing_keys(self, keys: list[str]) -> list[str]:
        return [k for k in keys if k not in self._gui.KEYBOARD_KEYS]

    def key(self, name: str, down: bool) -> None:
        if down and self.missing_keys([name]):
            raise ActionError(f"cannot press {name!r}: pyautogui does not know it here")
        self._do(self._gui.keyDown if down else self._gui.keyUp, name)

    def untypable(self, text: str) -> list[str]:
        return sorted({ch for ch in text if ch not in ("\n", "\t") and
                       ch not in self._gui.KEYBOARD_KEYS})

    def prepare_text(self, text: str) -> None:
        """Nothing to get ready: each character is typed as it comes."""

    def type_char(self, ch: str) -> None:
        if ch == "\n":
            self._do(self._gui.press, "enter")
        elif ch == "\t":
            self._do(self._gui.press, "tab")
        else:
            self._do(self._gui.write, ch)

    def user_modifiers(self) -> None:
        return None  # not known through pyautogui

    def release(self, keys: list[str]) -> None:
        failsafe, self._gui.FAILSAFE = self._gui.FAILSAFE, False
        try:
            for key in keys:
                self._gui.keyUp(key, _pause=False)
        finally:
            self._gui.FAILSAFE = failsafe

    def close(self) -> None:
        """Nothing to close: pyautogui keeps its connection for the process."""


@PLATFORMS.register("generic")
class GenericPlatform:
    name = "generic"

    def __init__(self, display: str = "") -> None:
        self.display = "native"

    def describe(self) -> str:
        return f"{sys.platform} (the generic platform, {UNTESTED})"

    def target(self) -> str:
        return f"{sys.platform} native"

    def open_screen(self, monitor: int = 1, input_size: tuple[int, int] | None = None) -> MssScreen:
        from tracer_cli.desktop.platforms.mss_screen import MssScreen

        return MssScreen(monitor, input_size, desktop=self.describe())

    def open_input(self) -> PyAutoGUIInput:
        return PyAutoGUIInput()

    def kill_switch(self, hotkey: str, stop: threading.Event,
                    wake: Callable[[], None] | None = None) -> KillSwitch:
        from tracer_cli.desktop.killswitch import KillSwitch

        return KillSwitch(hotkey, stop, wake)

    def pause_switch(self, hotkey: str, pause: PauseRequest,
                     on_toggle: Callable[[bool], None] | None = None) -> PauseSwitch:
        from tracer_cli.desktop.killswitch import PauseSwitch

        return PauseSwitch(hotkey, pause, on_toggle)

    def listen(self, on_button: Callable[..., None], on_scroll: Callable[..., None],
               on_key: Callable[[str, bool], None]) -> Any:
        from tracer_cli.desktop.platforms.pynput_listen import PynputListening

        return PynputListening(on_button, on_scroll, on_key)

    def watch(self, lost: Callable[[str], None]) -> Callable[[], None]:
        return lambda: None  # the native desktop does not go away under a run

    def checks(self, monitor: int) -> list[Check]:
        rows = [Check("display", True, f"{sys.platform}: the native screen ({UNTESTED})")]
        try:
            screen = self.open_screen(monitor)
        except TracerError as exc:
            return [*rows, Check("screen capture", False, exc.message, exc.hint),
                    Check("input control", None, "needs capture")]
        m = screen.geometry.monitor
        screen.close()
        rows.append(Check("screen capture", True, f"monitor {monitor}: {m.width}x{m.height}"))
        try:
            keyboard = self.open_input()
        except TracerError as exc:
            return [*rows, Check("input control", False, exc.message, exc.hint)]
        width, height = keyboard.size()
        rows.append(Check("input control", True, f"pyautogui sees {width}x{height}"))
        return rows
