"""One output of a wlroots compositor, captured with wlr-screencopy into shared memory.

Change detection comes from the compositor's damage, not from comparing pixels: one
``copy_with_damage`` frame stays pending and completes only when the output changed, so
``fingerprint`` is a counter of damage (no pixel read: ~0.005 ms against ~17 ms for a CRC of a
fresh capture), ``wait_settled`` is "no damage for ``quiet`` seconds", and the last damage frame,
a full copy of the output, is the settled screenshot (``settled_capture``: no second grab).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.screen import Geometry, Screenshot
from tracer_cli.errors import DisplayError, DisplayLost

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.desktop.platforms.wlr_session import Output, WlrSession

# wl_shm formats (DRM fourcc codes, little-endian in memory) -> PIL's raw mode for RGB
RAW_MODES = {
    0: "BGRX", 1: "BGRX",  # wl_shm's own ARGB8888 and XRGB8888
    0x34325241: "BGRX", 0x34325258: "BGRX",  # AR24, XR24
    0x34324241: "RGBX", 0x34324258: "RGBX",  # AB24, XB24
    0x34324742: "RGB", 0x34324752: "BGR",  # BG24 (bytes R, G, B), RG24 (bytes B, G, R)
}
Y_INVERT = 1
FRAME_TIMEOUT = 2.0  # seconds for the compositor to hand over a frame


@dataclass
class _Frame:
    """The state of one screencopy frame, filled by its events."""

    proxy: Any = None
    buffer: tuple[int, int, int, int] | None = None  # format, width, height, stride
    flags: int = 0
    ready: bool = False
    failed: bool = False
    buffer_done: bool = False
    slot: str = ""
    damage: list[tuple[int, int, int, int]] = field(default_factory=list)


class _ShmBuffer:
    """A wl_buffer over a memfd, reused frame after frame."""

    def __init__(self, session: WlrSession, fmt: int, width: int, height: int, stride: int) -> None:
        self.key = (fmt, width, height, stride)
        size = stride * height
        fd = os.memfd_create("tracer-screencopy", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            self.memory = mmap.mmap(fd, size)
            pool = session.shm.create_pool(fd, size)
            self.buffer = pool.create_buffer(0, width, height, stride, fmt)
            pool.destroy()
        finally:
            os.close(fd)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.buffer.destroy()
        self.memory.close()


class WlrScreen:
    """Monitor ``index`` (1, 2, ... left to right): ``output`` at ``rect`` on the desktop."""

    def __init__(self, session: WlrSession, output: Output, geometry: Geometry) -> None:
        self.session = session
        self.output = output
        self.geometry = geometry
        self._buffers: dict[str, _ShmBuffer] = {}
        self._watch: _Frame | None = None  # the pending copy_with_damage frame
        self._generation = 0  # damage events seen
        self._latest: _Frame | None = None  # the last damage frame that completed
        self._latest_generation = -1
        self._flip = 0  # damage frames alternate between two buffers: the latest stays whole

    @property
    def where(self) -> str:
        return f"monitor {self.geometry.index} ({self.output.name or 'unnamed'})"

    # -- one frame ------------------------------------------------------------------------------

    def _request(self, slot: str, with_damage: bool) -> _Frame:
        """Ask for a frame of the output, wait for its buffer's description, and send the copy
        request into the buffer of ``slot``. The caller waits for ``ready``."""
        session = self.session
        state = _Frame(slot=slot)
        proxy = session.screencopy.capture_output(0, self.output.proxy)  # 0: without the cursor
        state.proxy = proxy

        def on_buffer(_p: Any, fmt: int, width: int, height: int, stride: int) -> None:
            state.buffer = state.buffer or (fmt, width, height, stride)

        proxy.dispatcher["buffer"] = on_buffer
        proxy.dispatcher["flags"] = lambda _p, flags: setattr(state, "flags", flags)
        proxy.dispatcher["ready"] = lambda *_: setattr(state, "ready", True)
        proxy.dispatcher["failed"] = lambda *_: setattr(state, "failed", True)
        proxy.dispatcher["buffer_done"] = lambda *_: setattr(state, "buffer_done", True)
        proxy.dispatcher["damage"] = lambda _p, *box: state.damage.append(box)
        proxy.dispatcher["linux_dmabuf"] = lambda *_: None
        described = session.wait_for(lambda: state.failed or state.buffer_done, FRAME_TIMEOUT)
        if state.failed or state.buffer is None:
            proxy.destroy()
            raise DisplayLost(f"{self.where} can no longer be captured (turned off or unplugged)",
                              "choose a monitor that is on with --monitor, and rerun")
        if not described:
            proxy.destroy()
            raise self._silent()
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.key != state.buffer:
            if buffer is not None:
                buffer.destroy()
            buffer = self._buffers[slot] = _ShmBuffer(session, *state.buffer)
        (proxy.copy_with_damage if with_damage else proxy.copy)(buffer.buffer)
        session.flush()
        return state

    def _silent(self) -> DisplayLost:
        return DisplayLost(f"the compositor sent no frame of {self.where} in "
                           f"{FRAME_TIMEOUT:g} s", "check that the compositor still runs, and rerun")

    def _image(self, state: _Frame) -> Image.Image:
        from PIL import Image

        fmt, width, height, stride = state.buffer  # type: ignore[misc]
        raw = RAW_MODES.get(fmt)
        if raw is None:
            raise DisplayError(f"the compositor offers screenshots in a pixel format tracer does "
                               f"not read (0x{fmt:08x})", "report it with `tracer doctor`'s output")
        orientation = -1 if state.flags & Y_INVERT else 1
        memory = self._buffers[state.slot].memory
        return Image.frombuffer("RGB", (width, height), memory, "raw", raw, stride, orientation)

    def capture(self) -> Screenshot:
        """The output's next frame (at most one refresh away: 0-17 ms at 60 Hz)."""
        with self.session.lock:
            state = self._request("capture", with_damage=False)
            try:
                if not self.session.wait_for(lambda: state.ready or state.failed, FRAME_TIMEOUT):
                    raise self._silent()
            finally:
                state.proxy.destroy()
            if not state.ready:
                raise DisplayLost(f"{self.where} can no longer be captured", "rerun")
            return Screenshot(self._image(state), self.geometry, time.time())

    # -- damage ---------------------------------------------------------------------------------

    def _arm(self) -> None:
        self._flip ^= 1
        self._watch = self._request(f"damage{self._flip}", with_damage=True)

    def _damaged(self, timeout: float = 0.0) -> bool:
        """Whether the output changed (the pending damage frame completed) within ``timeout``;
        watches again at once."""
        if self._watch is None:
            self._arm()
        state = self._watch
        assert state is not None
        if timeout:
            self.session.wait_for(lambda: state.ready or state.failed, timeout)
        else:
            self.session.pump(0)
        if not (state.ready or state.failed):
            return False
        state.proxy.destroy()
        self._watch = None
        self._generation += 1
        if state.ready:
            self._latest, self._latest_generation = state, self._generation
        self._arm()
        return True

    def _drain(self) -> None:
        while self._damaged(0):
            pass

    def fingerprint(self) -> bytes:
        """A count of the output's damage (not a hash of pixels): it changes whenever the
        compositor redrew any part of the output since the previous call."""
        with self.session.lock:
            self._drain()
            return self._generation.to_bytes(8, "big")

    def wait_settled(self, quiet: float = 0.25, timeout: float = 2.0) -> tuple[float, bool]:
        """Wait until the output has had no damage for ``quiet`` seconds, at most ``timeout``.
        Returns (seconds waited, whether it settled)."""
        with self.session.lock:
            start = time.monotonic()
            self._drain()
            calm_since = time.monotonic()
            while True:
                now = time.monotonic()
                if now - calm_since >= quiet:
                    return now - start, True
                if now - start >= timeout:
                    return now - start, False
                wait = min(quiet - (now - calm_since), timeout - (now - start))
                if self._damaged(max(wait, 0.001)):
                    calm_since = time.monotonic()

    def settled_capture(self, max_age: float = 0.2) -> Screenshot:
        """The last damage frame when nothing changed after it (it is what the output shows),
        else a capture. ``max_age`` does not matter here: the damage says whether it is current."""
        with self.session.lock:
            if self._watch is not None:
                self._drain()
                latest = self._latest
                if latest is not None and self._latest_generation == self._generation:
                    return Screenshot(self._image(latest), self.geometry, time.time())
        return self.capture()

    def close(self) -> None:
        with self.session.lock:
            if self.session.closed:
                return
            with contextlib.suppress(Exception):
                if self._watch is not None:
                    self._watch.proxy.destroy()
                    self._watch = None
                for buffer in self._buffers.values():
                    buffer.destroy()
                self._buffers.clear()
                self.session.flush()
