"""Placing a window's own coordinates on a Wayland desktop (placement.py) and reading sway's
tree (sway_windows.py), on recorded shapes of sway's answers: no compositor needed."""

from __future__ import annotations

from typing import Any

from tracer_cli.desktop.placement import Shown, frame_of, pair, span, topmost
from tracer_cli.desktop.platforms.sway_windows import shown


def view(pid: int, name: str, x: int, y: int, w: int, h: int, **more: Any) -> dict[str, Any]:
    return {"type": "con", "pid": pid, "name": name, "visible": True, "shell": "xdg_shell",
            "rect": {"x": x, "y": y, "width": w, "height": h},
            "window_rect": {"x": 0, "y": 0, "width": w, "height": h}, **more}


def tree(tiled: list[dict[str, Any]], floating: list[dict[str, Any]]) -> dict[str, Any]:
    workspace = {"type": "workspace", "nodes": tiled, "floating_nodes": floating}
    return {"type": "root", "nodes": [{"type": "output", "nodes": [workspace]}]}


def doubled(lx: float, ly: float) -> tuple[float, float, float]:
    """An output at layout (0, 0) with scale 2."""
    return lx * 2, ly * 2, 2.0


def test_sway_shows_visible_native_windows_floating_ones_on_top() -> None:
    windows = shown(tree([view(10, "tiled", 0, 0, 640, 400),
                          view(11, "elsewhere", 0, 0, 640, 400, visible=False),
                          view(12, "x11", 0, 0, 100, 100, shell="xwayland")],
                         [view(13, "float", 100, 50, 200, 100)]), doubled)
    assert [(s.title, s.box, s.scale) for s in windows] == [
        ("tiled", (0, 0, 1280, 800), 2.0), ("float", (200, 100, 600, 300), 2.0)]
    assert topmost(windows, 300, 150) == (200, 100, 600, 300)  # the floating one
    assert topmost(windows, 10, 10) == (0, 0, 1280, 800)
    assert topmost(windows, 1300, 10) is None


def test_a_window_is_paired_by_process_then_title_then_size() -> None:
    a = Shown(5, "Main", (0, 0, 400, 300), (400, 300), 1.0, 0)
    b = Shown(5, "Dialog", (500, 0, 700, 100), (200, 100), 1.0, 1)
    other = Shown(6, "Main", (0, 400, 400, 700), (400, 300), 1.0, 2)
    assert pair([(5, "Dialog", 200, 100), (5, "Main", 400, 300), (7, "Main", 400, 300)],
                [a, b, other]) == [b, a, None]
    assert pair([(5, "renamed", 200, 100)], [a, b]) == [b]  # nearest in size
    assert pair([(5, "Main", 900, 300)], [a]) == [None]  # far too big: not that window
    assert pair([(None, "Main", 400, 300)], [a]) == [None]  # no process known


def test_a_frame_maps_window_units_to_desktop_pixels_both_ways() -> None:
    where = Shown(1, "w", (200, 100, 840, 700), (320, 300), 2.0, 0)
    plain = frame_of(where, 320, 300)
    assert plain.to_desktop(10, 20, 30, 40) == (220, 140, 280, 220)
    assert plain.to_window(221, 141) == (10, 20)
    # Shadows drawn around it: where its children say the window starts (uneven), else even.
    shadowed = frame_of(where, 372, 352, inset=(26, 23))
    assert shadowed.to_desktop(26, 23, 10, 10) == (200, 100, 220, 120)
    even = frame_of(where, 372, 352)
    assert even.to_desktop(26, 26, 10, 10) == (200, 100, 220, 120)


def test_span_of_children() -> None:
    assert span([(26, 23, 320, 47), (26, 70, 320, 253), (0, 0, 0, 0)]) == (26, 23, 320, 300)
    assert span([]) is None
