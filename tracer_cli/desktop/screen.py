"""Seeing the screen: which display and monitor, capturing it, and mapping model points to it.

Coordinates travel: model point (0..1000 of the screenshot it saw) -> fraction of the monitor
-> desktop coordinates (mss's monitor rectangle plus its offset) -> input coordinates (pyautogui,
which on some HiDPI set-ups counts logical pixels where mss counts physical ones).
"""

from __future__ import annotations

import base64
import io
import os
import sys
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tracer_cli.errors import ActionError, DisplayError
from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class Rect:
    left: int
    top: int
    width: int
    height: int

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height


@dataclass(frozen=True)
class Geometry:
    """Where the chosen monitor lies and how desktop units relate to input units."""

    monitor: Rect
    index: int = 1
    input_scale: tuple[float, float] = (1.0, 1.0)  # desktop units per input unit, per axis

    def to_desktop(self, x: int, y: int) -> tuple[int, int]:
        """A model point (0..1000 on each axis) to a desktop pixel on this monitor."""
        m = self.monitor
        px = min(round(x * m.width / COORD_MAX), m.width - 1)
        py = min(round(y * m.height / COORD_MAX), m.height - 1)
        return m.left + px, m.top + py

    def to_input(self, x: int, y: int) -> tuple[int, int]:
        """A model point to the coordinates the actuator moves to."""
        dx, dy = self.to_desktop(x, y)
        sx, sy = self.input_scale
        return round(dx / sx), round(dy / sy)

    def pixel_to_input(self, px: int, py: int) -> tuple[int, int]:
        """A pixel of this monitor's screenshot to the coordinates the actuator moves to."""
        m = self.monitor
        if not (0 <= px < m.width and 0 <= py < m.height):
            raise ActionError(f"point ({px},{py}) falls outside monitor {self.index} "
                              f"({m.width}x{m.height})")
        sx, sy = self.input_scale
        return round((m.left + px) / sx), round((m.top + py) / sy)

    def from_desktop(self, dx: int, dy: int) -> tuple[int, int]:
        """A desktop pixel to the model point that names it (inverse of to_desktop, rounded)."""
        m = self.monitor
        return (round((dx - m.left) * COORD_MAX / m.width),
                round((dy - m.top) * COORD_MAX / m.height))


def input_scale(desktop: Rect, input_size: tuple[int, int]) -> tuple[float, float]:
    """Desktop units per input unit, from the whole desktop's size as mss and pyautogui see it."""
    iw, ih = input_size
    if iw <= 0 or ih <= 0:
        return (1.0, 1.0)
    sx, sy = desktop.width / iw, desktop.height / ih
    # Equal within a pixel means one coordinate system (the usual case on X11).
    return (1.0 if abs(sx - 1) * iw < 1.5 else sx, 1.0 if abs(sy - 1) * ih < 1.5 else sy)


def check_display() -> str:
    """Return the X display to use, or raise a DisplayError that says how to get one."""
    if sys.platform in ("darwin", "win32"):
        return "native"
    display = os.environ.get("DISPLAY", "")
    if display:
        return display
    if os.environ.get("WAYLAND_DISPLAY"):
        raise DisplayError(
            "this is a Wayland session without X access",
            "log in to an X11 session, or run tracer under XWayland with DISPLAY set (e.g. DISPLAY=:0)",
        )
    raise DisplayError(
        "no display: DISPLAY is not set",
        "run tracer inside your desktop session, or choose one with --display :N (e.g. an Xvfb)",
    )


def downscale(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to ``size`` (the one the model family's processors keep, from the profile's
    geometry: a model answering in absolute pixels then answers in this image's).

    Shrinking averages each output pixel over the source pixels it covers (OpenCV's area
    resampling): thin text strokes stay as grey strokes, without the ringing of sharper
    kernels, and it is about three times as fast as PIL's bicubic filter at 1920x1080, whose
    result it matches to within 35 dB PSNR against a Lanczos reference (bicubic: 42 dB,
    bilinear: 35 dB). Enlarging (rare: a screen under the model's minimum) stays bicubic."""
    from PIL import Image

    if size == image.size:
        return image
    if size[0] <= image.width and size[1] <= image.height and image.mode in ("RGB", "L"):
        import cv2
        import numpy as np

        return Image.fromarray(cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_AREA))
    return image.resize(size, Image.Resampling.BICUBIC)


def encode_image(image: Image.Image, fmt: str = "png") -> tuple[str, bytes]:
    """Encode for a model: returns (mime type, bytes). PNG is lossless, JPEG is faster."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(buf, format="JPEG", quality=90)
        return "image/jpeg", buf.getvalue()
    if image.mode == "RGB":
        # libpng through OpenCV, fastest zlib level and no row filter: screens are flat areas
        # and text, which filters do not help (the file is smaller without them) and which
        # costs half the time of PIL's adaptive filtering (11 ms against 22-28 at 1408x800).
        import cv2
        import numpy as np

        ok, png = cv2.imencode(".png", cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_PNG_COMPRESSION, 1,
                                cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE])
        if ok:
            return "image/png", png.tobytes()
    image.save(buf, format="PNG", compress_level=1)
    return "image/png", buf.getvalue()


def data_url(image: Image.Image, fmt: str = "png") -> str:
    """The image as a data URL, encoded once per image and format: a screenshot in the history
    is sent again with every model call, and is not encoded again."""
    from tracer_cli.desktop.pixels import memo

    def compute(img: Image.Image) -> str:
        mime, raw = encode_image(img, fmt)
        return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"

    return memo(image, f"url:{fmt}", compute)


@dataclass
class Screenshot:
    """One capture of the chosen monitor, full resolution, and when it was taken."""

    image: Image.Image
    geometry: Geometry
    taken_at: float


class Screen(Protocol):
    geometry: Geometry

    def capture(self) -> Screenshot: ...

    def fingerprint(self) -> bytes: ...


class MssScreen:
    """The real screen, through mss. ``monitor`` uses mss numbering: 1 is the primary."""

    def __init__(self, monitor: int = 1, input_size: tuple[int, int] | None = None) -> None:
        check_display()
        import mss

        try:
            self._mss = mss.MSS()
        except Exception as exc:  # mss raises its own error types per platform
            raise DisplayError(f"cannot open the display for capture: {exc}",
                               "check DISPLAY and that the X server accepts this user") from None
        monitors = self._mss.monitors
        if monitor < 1 or monitor >= len(monitors):
            listing = ", ".join(
                f"{i}: {m['width']}x{m['height']}+{m['left']}+{m['top']}"
                for i, m in enumerate(monitors) if i
            )
            self._mss.close()
            raise DisplayError(f"monitor {monitor} does not exist",
                               f"choose --monitor from {listing}")
        self._raw = monitors[monitor]
        desktop = Rect(monitors[0]["left"], monitors[0]["top"], monitors[0]["width"],
                       monitors[0]["height"])
        scale = input_scale(desktop, input_size) if input_size else (1.0, 1.0)
        rect = Rect(self._raw["left"], self._raw["top"], self._raw["width"], self._raw["height"])
        self.geometry = Geometry(rect, monitor, scale)

    def capture(self) -> Screenshot:
        return self._screenshot(self._mss.grab(self._raw))

    def _screenshot(self, shot: object) -> Screenshot:
        from PIL import Image

        image = Image.frombytes("RGB", shot.size, shot.raw, "raw", "BGRX")  # type: ignore[attr-defined]
        return Screenshot(image, self.geometry, time.time())

    def fingerprint(self) -> bytes:
        """A cheap summary of the whole monitor that changes when any pixel does (CRC-32)."""
        shot = self._mss.grab(self._raw)
        self._last = (shot, time.monotonic())
        return zlib.crc32(shot.raw).to_bytes(4, "big")

    def settled_capture(self, max_age: float = 0.2) -> Screenshot:
        """The grab of the last fingerprint when it is recent (the screen ``wait_settled`` saw
        settle: no second grab of the same picture), else a new capture."""
        last = getattr(self, "_last", None)
        if last is not None and time.monotonic() - last[1] <= max_age:
            self._last = None
            return self._screenshot(last[0])
        return self.capture()

    def close(self) -> None:
        self._mss.close()


def wait_settled(screen: Screen, quiet: float = 0.25, timeout: float = 2.0,
                 interval: float = 0.05) -> tuple[float, bool]:
    """Wait until the screen has not changed for ``quiet`` seconds, at most ``timeout``.

    Returns (seconds waited, whether it settled)."""
    start = time.monotonic()
    last = screen.fingerprint()
    stable_since = start
    while True:
        now = time.monotonic()
        if now - stable_since >= quiet:
            return now - start, True
        if now - start >= timeout:
            return now - start, False
        time.sleep(interval)
        current = screen.fingerprint()
        if current != last:
            last, stable_since = current, time.monotonic()


class Screens:
    """One screen per monitor (what a macro looks at), opened when first needed and closed
    together; ``main``, the caller's own screen for its monitor, is served but not closed."""

    def __init__(self, input_size: tuple[int, int] | None, main: Screen | None = None) -> None:
        self.input_size = input_size
        self.main = main
        self._open: dict[int, MssScreen] = {}

    def __call__(self, monitor: int) -> Screen:
        if self.main is not None and monitor == self.main.geometry.index:
            return self.main
        if monitor not in self._open:
            self._open[monitor] = MssScreen(monitor, input_size=self.input_size)
        return self._open[monitor]

    def close(self) -> None:
        for screen in self._open.values():
            screen.close()
        self._open.clear()
