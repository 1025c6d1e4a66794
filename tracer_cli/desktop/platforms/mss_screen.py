"""Capture through mss: X11 (on the display the platform names) and the generic platform."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from tracer_cli.desktop.screen import Geometry, Rect, Screenshot, input_scale
from tracer_cli.errors import DisplayError, DisplayLost


def listing(monitors: list[dict[str, int]]) -> str:
    """The monitors as a choice for --monitor: ``1: 1920x1080+0+0, 2: ...``."""
    return ", ".join(f"{i}: {m['width']}x{m['height']}+{m['left']}+{m['top']}"
                     for i, m in enumerate(monitors) if i)


def open_mss(display: str | None, connecting: Callable[[], AbstractContextManager[Any]] | None = None,
             where: str = "") -> Any:
    """An mss instance on ``display`` (None: the platform's own screen); ``connecting`` holds
    what connecting needs (the X authority of that display)."""
    import mss

    try:
        with (connecting or nullcontext)():
            return mss.MSS(display=display) if display else mss.MSS()
    except Exception as exc:  # mss raises its own error types per platform
        raise DisplayError(f"cannot open {where or 'the display'} for capture: {exc}",
                           "check that the display runs and accepts this user") from None


class MssScreen:
    """One monitor, through mss. ``monitor`` uses mss numbering: 1 is the primary."""

    def __init__(self, monitor: int = 1, input_size: tuple[int, int] | None = None,
                 display: str | None = None,
                 connecting: Callable[[], AbstractContextManager[Any]] | None = None,
                 where: str = "", desktop: str = "") -> None:
        self.where = where or (f"the display {display}" if display else "the screen")
        self._mss = open_mss(display, connecting, self.where)
        monitors = self._mss.monitors
        if monitor < 1 or monitor >= len(monitors):
            self._mss.close()
            raise DisplayError(f"monitor {monitor} does not exist",
                               f"choose --monitor from {listing(monitors)}")
        self._raw = monitors[monitor]
        whole = Rect(monitors[0]["left"], monitors[0]["top"], monitors[0]["width"],
                     monitors[0]["height"])
        scale = input_scale(whole, input_size) if input_size else (1.0, 1.0)
        rect = Rect(self._raw["left"], self._raw["top"], self._raw["width"], self._raw["height"])
        self.geometry = Geometry(rect, monitor, scale, desktop)
        self._last: tuple[Any, float] | None = None

    def _grab(self) -> Any:
        try:
            return self._mss.grab(self._raw)
        except Exception as exc:  # the display went away under it
            raise DisplayLost(f"cannot capture {self.where} any more: {exc}",
                              "start the desktop again and rerun") from None

    def capture(self) -> Screenshot:
        return self._screenshot(self._grab())

    def _screenshot(self, shot: Any) -> Screenshot:
        from PIL import Image

        image = Image.frombytes("RGB", shot.size, shot.raw, "raw", "BGRX")
        return Screenshot(image, self.geometry, time.time())

    def fingerprint(self) -> bytes:
        """A cheap summary of the whole monitor that changes when any pixel does (CRC-32)."""
        shot = self._grab()
        self._last = (shot, time.monotonic())
        return zlib.crc32(shot.raw).to_bytes(4, "big")

    def settled_capture(self, max_age: float = 0.2) -> Screenshot:
        """The grab of the last fingerprint when it is recent (the screen ``wait_settled`` saw
        settle: no second grab of the same picture), else a new capture."""
        last = self._last
        if last is not None and time.monotonic() - last[1] <= max_age:
            self._last = None
            return self._screenshot(last[0])
        return self.capture()

    def close(self) -> None:
        """Let go of the display; one that died under the run has nothing left to let go of."""
        from mss.exception import ScreenShotError

        try:
            self._mss.close()
        except ScreenShotError:
            pass  # mss reports the lost connection again while freeing it
