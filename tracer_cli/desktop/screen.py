"""Seeing the screen: which display and monitor, capturing it, and mapping model points to it.

Coordinates travel: model point (0..1000 of the screenshot it saw) -> fraction of the monitor
-> desktop coordinates (the monitor rectangle plus its offset) -> input coordinates (the platform's input,
which on some HiDPI set-ups counts logical pixels where capture counts physical ones).
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tracer_cli.errors import ActionError
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
    desktop: str = ""  # which desktop the monitor belongs to: "X11 display :0", ...

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
    """One monitor's capture. ``settled_capture`` and ``wait_settled`` are optional: a screen
    that knows better than comparing fingerprints (frames that stop arriving) has them."""

    geometry: Geometry

    def capture(self) -> Screenshot: ...

    def fingerprint(self) -> bytes:
        """A cheap value that changes when any pixel of the monitor does."""

    def close(self) -> None: ...


def wait_settled(screen: Screen, quiet: float = 0.25, timeout: float = 2.0,
                 interval: float = 0.05) -> tuple[float, bool]:
    """Wait until the screen has not changed for ``quiet`` seconds, at most ``timeout`` (the
    screen's own way where it has one).

    Returns (seconds waited, whether it settled)."""
    own = getattr(screen, "wait_settled", None)
    if own is not None:
        return own(quiet, timeout)
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
    """One screen per monitor (what a macro looks at), opened when first needed (``open``: the
    platform's ``open_screen``) and closed together; ``main``, the caller's own screen for its
    monitor, is served but not closed."""

    def __init__(self, open: Callable[[int, tuple[int, int] | None], Screen],
                 input_size: tuple[int, int] | None, main: Screen | None = None) -> None:
        self.open = open
        self.input_size = input_size
        self.main = main
        self._open: dict[int, Screen] = {}

    def __call__(self, monitor: int) -> Screen:
        if self.main is not None and monitor == self.main.geometry.index:
            return self.main
        if monitor not in self._open:
            self._open[monitor] = self.open(monitor, self.input_size)
        return self._open[monitor]

    def close(self) -> None:
        for screen in self._open.values():
            screen.close()
        self._open.clear()
