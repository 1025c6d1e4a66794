"""KWin's windows, through its scripting: where each window lies (a Wayland program does not know
its own position), and bringing one to the front.

A script is a file KWin loads (org.kde.kwin.Scripting.loadScript), runs (start) and is then
unloaded; it hands its answer back with callDBus to this process's own bus name, as JSON. A round
trip takes ~3-10 ms.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.placement import Shown
from tracer_cli.errors import DisplayError

if TYPE_CHECKING:
    from tracer_cli.desktop.platforms.dbus_client import Bus

SCRIPTING = ("org.kde.KWin", "/Scripting", "org.kde.kwin.Scripting")
ANSWER_IFACE = "org.tracer.KWinScript"
SCRIPT_TIMEOUT = 0.5  # seconds KWin may take to answer while elements are read

LIST = """
var found = [];
var clients = workspace.clientList();
for (var i = 0; i < clients.length; i++) {
    var c = clients[i];
    var f = c.frameGeometry, b = c.bufferGeometry;
    found.push({pid: c.pid, caption: c.caption, active: c.active, normal: c.normalWindow,
                frame: [f.x, f.y, f.width, f.height], buffer: [b.x, b.y, b.width, b.height],
                stacking: c.stackingOrder,
                shown: !c.minimized && (c.onAllDesktops || c.desktop == workspace.currentDesktop)});
}
answer(found);
"""
ACTIVATE = """
var clients = workspace.clientList(), done = false;
for (var i = 0; i < clients.length; i++) {
    if (clients[i].pid == %d) { workspace.activeClient = clients[i]; done = true; }
}
answer(done);
"""


@dataclass(frozen=True)
class Window:
    pid: int
    caption: str
    active: bool
    frame: tuple[int, int, int, int]  # with KWin's decoration, in logical units
    buffer: tuple[int, int, int, int]  # the program's own surface: its window coordinates
    stacking: int = 0  # a higher one is drawn over a lower one
    shown: bool = True  # not minimised, on the current virtual desktop


def run(bus: Bus, body: str, timeout: float = 5.0) -> Any:
    """Run ``body`` (JavaScript calling ``answer(value)`` once) as a KWin script; its value."""
    token = secrets.token_hex(6)
    answers: queue.Queue[Any] = queue.Queue()
    stop = bus.serve(ANSWER_IFACE, lambda msg: answers.put(msg.body))
    source = (f"function answer(value) {{ callDBus({json.dumps(bus.unique_name)}, \"/\", "
              f"\"{ANSWER_IFACE}\", \"answer\", \"{token}\", JSON.stringify(value)); }}\n{body}")
    handle, path = tempfile.mkstemp(prefix="tracer-kwin-", suffix=".js")
    plugin = f"tracer-{token}"
    try:
        with os.fdopen(handle, "w") as fh:
            fh.write(source)
        (number,) = bus.call(*SCRIPTING, "loadScript", "ss", (path, plugin))
        if number < 0:
            raise DisplayError("KWin did not load tracer's script", "check that KWin runs")
        bus.call(*SCRIPTING, "start")
        while True:
            try:
                got = answers.get(timeout=timeout)
            except queue.Empty:
                raise DisplayError("KWin's script gave no answer", "check that KWin runs") from None
            if got and got[0] == token:
                return json.loads(got[1])
    finally:
        stop()
        bus.call(*SCRIPTING, "unloadScript", "s", (plugin,))
        os.unlink(path)


def windows(bus: Bus, timeout: float = 5.0) -> list[Window]:
    return [Window(w["pid"], w["caption"], w["active"], tuple(w["frame"]), tuple(w["buffer"]),
                   int(w.get("stacking") or 0), bool(w.get("shown", True)))
            for w in run(bus, LIST, timeout) if w.get("normal", True)]


def activate(bus: Bus, pid: int) -> bool:
    """Bring the window of process ``pid`` to the front, with the keyboard focus."""
    return bool(run(bus, ACTIVATE % int(pid)))


class KWinWindows:
    """A Placement (placement.py) from KWin's scripting, read once per screen: each shown
    window's frame (with KWin's decoration: what covers the desktop) and its surface, whose
    corner is the program's (0, 0), exactly."""

    mapping = "element boxes placed through KWin's window list (scripting)"

    def __init__(self, bus: Callable[[], Bus],
                 to_desktop: Callable[[float, float], tuple[float, float, float] | None]) -> None:
        self.bus = bus
        self.to_desktop = to_desktop
        self._shown: list[Shown] | None = None

    def windows(self, timeout: float = SCRIPT_TIMEOUT) -> list[Shown]:
        if self._shown is None:
            self._shown = [s for w in windows(self.bus(), timeout=max(0.001, timeout)) if w.shown
                           and (s := self._place(w)) is not None]
        return self._shown

    def _place(self, window: Window) -> Shown | None:
        fx, fy, fw, fh = window.frame
        bx, by, bw, bh = window.buffer
        corner, surface = self.to_desktop(fx, fy), self.to_desktop(bx, by)
        if corner is None or surface is None:
            return None
        scale = surface[2]
        return Shown(window.pid, window.caption,
                     (round(corner[0]), round(corner[1]), round(corner[0] + fw * scale),
                      round(corner[1] + fh * scale)),
                     (bw, bh), scale, window.stacking, (surface[0], surface[1]))

    def forget(self) -> None:
        self._shown = None

    def close(self) -> None:
        self._shown = None
