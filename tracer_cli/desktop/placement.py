"""Where a program's windows lie on a Wayland desktop, which the program itself is never told:
its accessibility tree (AT-SPI) gives element boxes relative to its window, and the compositor
(sway's tree, KWin's scripting) says where that window is. A ``Frame`` turns a window's own
coordinates into desktop pixels and back; ``frames`` pairs the tree's top-level windows with
the compositor's.

A window of the tree is paired with a compositor window of the same process (the process id of
its accessibility-bus connection), the one with its title first, then the one nearest its size.
The tree's size of a window counts its whole surface: GTK 3 with client-side decorations adds
its shadows around the window the compositor shows, and not evenly (measured on sway: 26 units
left and right, 23 above and 29 below); there the window's children (its header bar and its
content) span exactly the window the compositor shows, and say where it lies in the surface.
Where they do not (a compositor centres a surface smaller than the space it gives it), the
surface's margin is taken as equal on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

Box = tuple[int, int, int, int]  # left, top, right, bottom in desktop pixels
MAX_MARGIN = 64  # units a surface may differ from its window on a side (shadows, centring);
# a surface further off is not the window shown (a program late to take a new size)


@dataclass(frozen=True)
class Shown:
    """A window as the compositor shows it."""

    pid: int | None
    title: str
    box: Box  # where the window's content lies, in desktop pixels
    size: tuple[float, float]  # the same in the window's own units (layout units)
    scale: float  # desktop pixels per unit of the window's
    order: int  # stacking: a higher one is drawn over a lower one
    surface: tuple[float, float] | None = None  # the desktop pixel of the surface's (0, 0),
    # where the compositor says it (else from the margins)


@dataclass(frozen=True)
class Frame:
    """A window's own coordinates on the desktop: its (0, 0) lies at desktop pixel (left,
    top), and one of its units is ``scale`` desktop pixels."""

    left: float
    top: float
    scale: float
    box: Box  # the window as the compositor shows it (desktop pixels)

    def to_desktop(self, x: int, y: int, w: int, h: int) -> Box:
        """A box of the window's (x, y, width, height) in desktop pixels."""
        s = self.scale
        return (round(self.left + x * s), round(self.top + y * s),
                round(self.left + (x + w) * s), round(self.top + (y + h) * s))

    def to_window(self, x: int, y: int) -> tuple[int, int]:
        """A desktop pixel in the window's own coordinates."""
        return int((x - self.left) // self.scale), int((y - self.top) // self.scale)


def differs(shown: Shown, width: float, height: float) -> bool:
    """Whether a surface of width x height is not just the window the compositor shows."""
    return abs(width - shown.size[0]) > 1 or abs(height - shown.size[1]) > 1


def frame_of(shown: Shown, width: int, height: int,
             inset: tuple[float, float] | None = None) -> Frame:
    """The frame of a window the tree sizes width x height (its surface); ``inset``: where the
    shown window starts in the surface (its children's span), where known."""
    if shown.surface is not None:
        left, top = shown.surface
    else:
        if inset is None:
            inset = ((width - shown.size[0]) / 2, (height - shown.size[1]) / 2)
        left = shown.box[0] - inset[0] * shown.scale
        top = shown.box[1] - inset[1] * shown.scale
    return Frame(left, top, shown.scale, shown.box)


def span(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int] | None:
    """The box (x, y, width, height) the given ones (the same) cover together."""
    boxes = [b for b in boxes if b[2] > 0 and b[3] > 0]
    if not boxes:
        return None
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    return (left, top, max(b[0] + b[2] for b in boxes) - left,
            max(b[1] + b[3] for b in boxes) - top)


def pair(tree: list[tuple[int | None, str, int, int]], shown: list[Shown]) -> list[Shown | None]:
    """The compositor's window for each of the tree's windows (pid, title, width, height), None
    for one the compositor does not show; no compositor window is paired twice."""
    taken: set[int] = set()
    out: list[Shown | None] = []
    for pid, title, width, height in tree:
        def fits(n: int, pid: int | None = pid, width: int = width, height: int = height) -> bool:
            s = shown[n]
            if n in taken or pid is None or s.pid != pid:
                return False
            if s.surface is not None:
                return True
            return abs(width - s.size[0]) <= 2 * MAX_MARGIN and abs(height - s.size[1]) <= 2 * MAX_MARGIN

        candidates = [n for n in range(len(shown)) if fits(n)]
        if not candidates:
            out.append(None)
            continue
        best = min(candidates, key=lambda n: (shown[n].title != title,
                                              abs(width - shown[n].size[0])
                                              + abs(height - shown[n].size[1])))
        taken.add(best)
        out.append(shown[best])
    return out


def topmost(shown: list[Shown], x: int, y: int) -> Box | None:
    """The box of the window drawn on top at a desktop pixel (None: no window there)."""
    under = [s for s in shown if s.box[0] <= x < s.box[2] and s.box[1] <= y < s.box[3]]
    return max(under, key=lambda s: s.order).box if under else None


class Placement(Protocol):
    """A compositor's word on where windows lie, read once per screen."""

    mapping: str  # how, for doctor: "through sway's window tree"

    def windows(self, timeout: float = 0.5) -> list[Shown]:
        """The windows shown now (on visible workspaces), read once until ``forget``; an error
        when the compositor does not answer within ``timeout`` seconds."""

    def forget(self) -> None: ...

    def close(self) -> None: ...


class PlacedTopmost:
    """The Topmost of atspi.py from a Placement: the compositor's top window at a point."""

    def __init__(self, placement: Placement) -> None:
        self.placement = placement

    def __call__(self, x: int, y: int) -> Box | None:
        try:
            return topmost(self.placement.windows(), x, y)
        except Exception:  # the compositor went away: the tree alone decides
            return None

    def close(self) -> None:
        self.placement.close()
