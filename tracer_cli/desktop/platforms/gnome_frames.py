"""The pictures of one GNOME ScreenCast stream: ``gst-launch-1.0 pipewiresrc`` as a subprocess
writing raw BGRx frames to a private pipe, and a thread keeping only the latest one.

mutter sends a frame only when the monitor's picture changed, so the time of the latest frame
says how long the screen has been still. The frame size comes from gst-launch's ``-v`` caps line
(on its stdout, which is why the frames travel on a pipe of their own, fd 3 in the child)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time

CAPS = re.compile(r"GstFdSink:fdsink\d*\.GstPad:sink: caps = video/x-raw, "
                  r"format=\(string\)BGRx, width=\(int\)(\d+), height=\(int\)(\d+)")
GST_FIX = "install GStreamer's PipeWire source: sudo apt-get install gstreamer1.0-pipewire " \
          "gstreamer1.0-tools gstreamer1.0-plugins-base"


class FrameReader:
    """The latest frame of PipeWire node ``node_id``: ``frame`` (BGRx bytes), ``seq`` (frames
    so far), ``frame_time`` (monotonic time it arrived); ``cond`` is notified on each frame and
    when the stream ends (``error`` then says why)."""

    def __init__(self, node_id: int, env: dict[str, str], name: str = "") -> None:
        self.node_id = node_id
        self.name = name
        self.width = self.height = 0
        self.seq = 0
        self.frame: bytes | None = None
        self.frame_time = 0.0
        self.cond = threading.Condition()
        self.error: str | None = None
        self._closing = False
        read_fd, write_fd = os.pipe()
        argv = ["gst-launch-1.0", "-v", "pipewiresrc", f"path={node_id}", "always-copy=true",
                "!", "videoconvert", "!", "video/x-raw,format=BGRx", "!",
                "fdsink", f"fd={write_fd}", "sync=false"]
        try:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        self._fd = read_fd
        self._log: list[str] = []
        self._caps = threading.Event()
        threading.Thread(target=self._read_log, daemon=True, name=f"gst-log-{name}").start()
        self._frames = threading.Thread(target=self._read_frames, daemon=True,
                                        name=f"gst-frames-{name}")
        self._frames.start()

    def _fail(self, why: str) -> None:
        with self.cond:
            if self.error is None and not self._closing:
                self.error = why
            self.cond.notify_all()

    def _read_log(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            found = CAPS.search(line)
            if found and not self._caps.is_set():
                self.width, self.height = int(found.group(1)), int(found.group(2))
                self._caps.set()
            elif "caps = " not in line and line.strip():
                self._log = [*self._log, line.strip()][-3:]
        self._fail("gst-launch-1.0 ended: " + " | ".join(self._log))
        self._caps.set()

    def _read_frames(self) -> None:
        if not self._caps.wait(30) or not self.width:
            return
        size = self.width * self.height * 4
        buf = bytearray(size)
        view = memoryview(buf)
        while True:
            got = 0
            while got < size:
                try:
                    n = os.readv(self._fd, [view[got:]])
                except OSError:
                    n = 0
                if n == 0:
                    self._fail("the PipeWire stream ended")
                    return
                got += n
            frame = bytes(buf)
            with self.cond:
                self.frame, self.frame_time = frame, time.monotonic()
                self.seq += 1
                self.cond.notify_all()

    def wait_caps(self, timeout: float) -> bool:
        """Wait until the stream's format is known (or it ended)."""
        return self._caps.wait(timeout)

    def wait_frame(self, after: int = 0, timeout: float = 5.0) -> bool:
        """Wait until a frame newer than number ``after`` arrived (False: none in time, or the
        stream ended)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.seq <= after and self.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return self.seq > after

    def close(self) -> None:
        """Stop gst-launch (by its PID) and close the pipe."""
        self._closing = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._caps.set()
        self._frames.join(3)  # it reads end of file now: then the descriptor can go
        with contextlib.suppress(OSError):
            os.close(self._fd)
