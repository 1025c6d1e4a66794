"""Benchmark: what reading the accessibility tree costs.

On an Xvfb with a private accessibility bus (tests/a11y.py), one program at a time (the GTK 3
calculator tests/apps/gtk_calc.py, the same calculator as a page in Chromium
tests/apps/calc.html, the Qt 5 form tests/apps/qt_probe.py), tracer's AT-SPI reader answers
``--runs`` point lookups at points spread over the program, each on a new screen (the
per-screen cache dropped first, so each lookup reads the windows again, asks the X server which
window is on top and descends by point), then searches by role and name, then (after a click
on a button) reads the element with the keyboard focus; and the cost of a lookup where no tree
is there (no session bus: no connection at all).

    python tests/benchmarks/elements.py [--runs 200]

Prints p50 and p95 in milliseconds. Starts its own Xvfb, D-Bus and program and stops them by
PID at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.a11y import start_a11y_bus, start_calc, start_chromium, start_qt  # noqa: E402
from tests.conftest import Display, start_xvfb  # noqa: E402
from tests.programs import stop_program, wait_until  # noqa: E402
from tracer_cli.desktop.platforms.atspi import AtspiElements, open_atspi  # noqa: E402
from tracer_cli.desktop.platforms.x11 import TopWindow, X11Platform  # noqa: E402


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms"


def lookups(reader: AtspiElements, label: str, area: tuple[int, int, int, int], runs: int) -> None:
    """``runs`` point lookups spread over ``area`` (left, top, width, height), each on a new
    screen."""
    left, top, width, height = area
    times, hits = [], 0
    for i in range(runs):
        x, y = left + (i * 37) % width, top + (i * 53) % height
        reader.forget()
        started = time.perf_counter()
        hits += reader.at(x, y) is not None
        times.append(time.perf_counter() - started)
    print(f"{label} point lookup, new screen each ({runs} lookups, {hits} on an element): "
          f"{percentiles(times)}")


def searches(reader: AtspiElements, label: str, window: str, runs: int) -> None:
    times = []
    for _ in range(max(1, runs // 10)):
        reader.forget()
        started = time.perf_counter()
        assert reader.find("push button", "+", window=window)
        times.append(time.perf_counter() - started)
    print(f"{label} search by role and name ({len(times)} searches): {percentiles(times)}")


def focus_lookups(reader: AtspiElements, label: str, display: Display, name: str,
                  runs: int) -> None:
    """Click the push button ``name`` (it takes the keyboard focus and its window becomes
    active), then ``runs`` reads of the focused element, each on a new screen."""
    import subprocess

    reader.forget()
    (button,) = reader.find("push button", name)
    subprocess.run(["xdotool", "mousemove", str(button.center[0]), str(button.center[1]),
                    "click", "1"], env={**os.environ, **display.env()}, check=True)
    wait_until(lambda: (reader.forget(), reader.focused())[1] is not None, 10, "the focus")
    times = []
    for _ in range(runs):
        reader.forget()
        started = time.perf_counter()
        focus = reader.focused()
        times.append(time.perf_counter() - started)
    assert focus is not None and focus.name == name, focus
    print(f"{label} focused element, new screen each ({runs} reads): {percentiles(times)}")


def desktop(runs: int) -> None:
    """One program at a time on one Xvfb with one accessibility bus: GTK 3, Chromium, Qt 5."""
    proc, name = start_xvfb(1280, 800)
    display = Display(name, 1280, 800, proc.pid)
    bus = start_a11y_bus(display)
    folder = Path(tempfile.mkdtemp(prefix="tracer-elements-"))
    reader = AtspiElements(bus.address(), TopWindow(X11Platform(name)))
    try:
        app = start_calc(bus, folder / "calc.jsonl", "bench calc", (100, 100))
        try:
            wait_until(lambda: reader.find("push button", "+"), 20, "the calculator in the tree")
            lookups(reader, "GTK 3 calculator", (100, 140, 320, 260), runs)
            searches(reader, "GTK 3 calculator", "bench calc", runs)
            focus_lookups(reader, "GTK 3 calculator", display, "7", runs)
        finally:
            app.stop()
        chromium = start_chromium(bus, Path(__file__).parents[1] / "apps" / "calc.html",
                                  folder / "profile")
        try:
            wait_until(lambda: (reader.forget(), reader.find("push button", "+"))[1], 60,
                       "the page in the tree")
            lookups(reader, "Chromium page", (10, 90, 300, 260), runs)
            searches(reader, "Chromium page", "calc []", runs)
            focus_lookups(reader, "Chromium page", display, "7", runs)
        finally:
            stop_program(chromium)
        qt = start_qt(bus, folder / "qt.jsonl")
        try:
            wait_until(lambda: (reader.forget(), reader.find("check box",
                                                             "Send me the monthly newsletter"))[1],
                       30, "the Qt form in the tree")
            lookups(reader, "Qt 5 form", (0, 0, 400, 200), runs)
        finally:
            stop_program(qt)
    finally:
        reader.close()
        bus.stop()
        stop_program(proc)


def no_tree(runs: int) -> None:
    for key in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS"):
        os.environ.pop(key, None)
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="tracer-elements-")
    times = []
    for i in range(runs):
        started = time.perf_counter()
        elements = open_atspi()
        elements.at(i, i)
        elements.close()
        times.append(time.perf_counter() - started)
    print(f"no tree (no session bus): open + lookup + close: {percentiles(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    desktop(args.runs)
    no_tree(args.runs)


if __name__ == "__main__":
    main()
