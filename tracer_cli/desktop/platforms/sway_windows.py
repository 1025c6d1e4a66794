"""sway's windows, from its tree (IPC get_tree): where each shown window's content lies, whose
process it is, and which is drawn over which (placement.Shown), for the accessibility tree's
boxes on sway.

Only windows sway shows count: those of a workspace on screen (``visible``), floating ones over
tiled ones, a later floating one over an earlier one, a fullscreen one over all. Xwayland
windows are left out: their programs report X screen coordinates, not window ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tracer_cli.desktop.placement import Shown
from tracer_cli.desktop.platforms.swayipc import GET_TREE, SwayIPC

ToDesktop = Callable[[float, float], "tuple[float, float, float] | None"]
IPC_TIMEOUT = 0.5  # seconds sway may take to answer


def views(node: dict[str, Any], floating: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """The windows (views) below a node, each with whether it floats, in drawing order."""
    if node.get("pid") and node.get("type") in ("con", "floating_con"):
        yield node, floating
    for child in node.get("nodes", []):
        yield from views(child, floating)
    for child in node.get("floating_nodes", []):
        yield from views(child, True)


def shown(tree: dict[str, Any], to_desktop: ToDesktop) -> list[Shown]:
    """The windows sway shows now, in desktop pixels through ``to_desktop`` (a layout point's
    desktop pixel and scale)."""
    out = []
    for order, (node, floating) in enumerate(views(tree)):
        if not node.get("visible") or node.get("shell") == "xwayland":
            continue
        rect, inner = node["rect"], node["window_rect"]
        lx, ly = rect["x"] + inner["x"], rect["y"] + inner["y"]
        width, height = inner["width"], inner["height"]
        placed = to_desktop(lx, ly)
        if placed is None or width <= 0 or height <= 0:
            continue
        x, y, scale = placed
        rank = order + (1 << 20 if node.get("fullscreen_mode") else 1 << 10 if floating else 0)
        out.append(Shown(int(node["pid"]), str(node.get("name") or ""),
                         (round(x), round(y), round(x + width * scale), round(y + height * scale)),
                         (width, height), scale, rank))
    return out


class SwayWindows:
    """A Placement (placement.py) from sway's IPC socket, its tree read once per screen."""

    mapping = "element boxes placed through sway's window tree"

    def __init__(self, swaysock: str, to_desktop: ToDesktop) -> None:
        self.swaysock = swaysock
        self.to_desktop = to_desktop
        self.ipc: SwayIPC | None = None
        self._shown: list[Shown] | None = None

    def windows(self, timeout: float = IPC_TIMEOUT) -> list[Shown]:
        if self._shown is None:
            if self.ipc is None:
                self.ipc = SwayIPC(self.swaysock, timeout=IPC_TIMEOUT)
            self.ipc.sock.settimeout(max(0.001, timeout))
            try:
                self._shown = shown(self.ipc.request(GET_TREE), self.to_desktop)
            except Exception:
                self.close()  # (a new connection next time)
                raise
        return self._shown

    def forget(self) -> None:
        self._shown = None

    def close(self) -> None:
        if self.ipc is not None:
            self.ipc.close()
            self.ipc = None
