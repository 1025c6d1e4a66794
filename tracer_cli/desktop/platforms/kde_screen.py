"""One output of KWin, captured through org.kde.KWin.ScreenShot2 (D-Bus): KWin writes the
output's raw pixels into a pipe tracer hands it (~40-70 ms at 1920x1080 on 2 cores, software GL).

KWin tells a client nothing about damage (its screencast gave no frames on a headless KWin), so
change detection compares captures: ``fingerprint`` is a CRC of a fresh capture, and the
capture behind the last fingerprint is reused as the settled screenshot when it is recent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.screen import Geometry, Screenshot
from tracer_cli.errors import DisplayError, DisplayLost

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.desktop.platforms.dbus_client import Bus
    from tracer_cli.desktop.platforms.wlr_session import Output

DEST, PATH, IFACE = "org.kde.KWin", "/org/kde/KWin/ScreenShot2", "org.kde.KWin.ScreenShot2"
F_SETPIPE_SZ = 1031
# QImage formats KWin sends (little-endian memory order) -> PIL's raw mode for RGB
RAW_MODES = {4: "BGRX", 5: "BGRX", 6: "BGRX", 17: "RGBX", 18: "RGBX", 19: "RGBX", 13: "RGB"}
NOT_AUTHORISED = "NoAuthorized"  # KWin's error name: org.kde.KWin.ScreenShot2.Error.NoAuthorized


def grab(bus: Bus, method: str, sig: str, args: tuple[Any, ...],
         timeout: float = 5.0) -> tuple[dict[str, Any], bytes]:
    """Call a ScreenShot2 capture method with a pipe; returns (its results, the raw pixels)."""
    from tracer_cli.desktop.platforms.dbus_client import BusError

    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(read_end, F_SETPIPE_SZ, 1 << 20)
    chunks: list[bytes] = []

    def drain() -> None:  # KWin writes after it answers: read as it writes
        while chunk := os.read(read_end, 1 << 20):
            chunks.append(chunk)

    reader = threading.Thread(target=drain, name="screenshot-pipe", daemon=True)
    reader.start()
    try:
        try:
            (results,) = bus.call(DEST, PATH, IFACE, method, sig, (*args, write_end),
                                  timeout=timeout)
        finally:
            os.close(write_end)
        reader.join(timeout)
    except BusError as exc:
        if NOT_AUTHORISED in exc.name:
            raise DisplayError("KWin does not let this program take screenshots",
                               "run `tracer setup kde` (it authorises this Python with KWin), "
                               "then rerun") from None
        raise DisplayLost(f"KWin refused the screenshot: {exc.text or exc.name}",
                          "check that KWin still runs, and rerun") from None
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise DisplayLost(f"KWin sent no screenshot: {exc or type(exc).__name__}",
                          "check that KWin still runs, and rerun") from None
    finally:
        if reader.is_alive():
            reader.join(1.0)
        os.close(read_end)
    return {k: v[1] for k, v in results.items()}, b"".join(chunks)


def to_image(info: dict[str, Any], raw: bytes) -> Image.Image:
    from PIL import Image

    width, height, stride = int(info["width"]), int(info["height"]), int(info["stride"])
    mode = RAW_MODES.get(int(info.get("format", 5)))
    if mode is None or info.get("type", "raw") != "raw":
        raise DisplayError(f"KWin sent a screenshot in a form tracer does not read "
                           f"(type {info.get('type')}, QImage format {info.get('format')})",
                           "report it with `tracer doctor`'s output")
    if len(raw) < stride * height:
        raise DisplayLost(f"KWin sent {len(raw)} bytes of a {width}x{height} screenshot",
                          "check that KWin still runs, and rerun")
    return Image.frombuffer("RGB", (width, height), raw, "raw", mode, stride, 1)


class KdeScreen:
    """Monitor ``geometry.index``: ``output`` (its name is what ScreenShot2 captures)."""

    def __init__(self, bus: Bus, output: Output, geometry: Geometry) -> None:
        self.bus = bus
        self.output = output
        self.geometry = geometry
        self._last: tuple[Screenshot, float] | None = None

    @property
    def where(self) -> str:
        return f"monitor {self.geometry.index} ({self.output.name or 'unnamed'})"

    def capture(self) -> Screenshot:
        info, raw = grab(self.bus, "CaptureScreen", "sa{sv}h",
                         (self.output.name, {"native-resolution": ("b", True),
                                             "include-cursor": ("b", False)}))
        image = to_image(info, raw)
        if image.size != (self.geometry.monitor.width, self.geometry.monitor.height):
            image = image.resize((self.geometry.monitor.width, self.geometry.monitor.height))
        return Screenshot(image, self.geometry, time.time())

    def fingerprint(self) -> bytes:
        """A CRC of a fresh capture (kept for ``settled_capture``)."""
        shot = self.capture()
        self._last = (shot, time.monotonic())
        return zlib.crc32(shot.image.tobytes()).to_bytes(4, "big")

    def settled_capture(self, max_age: float = 0.2) -> Screenshot:
        """The capture of the last fingerprint when recent (what ``wait_settled`` saw settle:
        no second capture of the same picture), else a new one."""
        last = self._last
        if last is not None and time.monotonic() - last[1] <= max_age:
            self._last = None
            return last[0]
        return self.capture()

    def close(self) -> None:
        self._last = None
