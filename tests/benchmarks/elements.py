"""Benchmark: what reading the accessibility tree costs.

On an Xvfb with a private accessibility bus (tests/a11y.py) and the GTK 3 calculator
(tests/apps/gtk_calc.py), tracer's AT-SPI reader answers ``--runs`` point lookups at points
spread over the calculator, each on a new screen (the per-screen cache dropped first, so each
lookup reads the windows again and descends by point), then a search by role and name; and
the cost of the same lookups where no tree is there (no session bus: no connection at all).

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

from tests.a11y import start_a11y_bus, start_calc  # noqa: E402
from tests.conftest import Display, start_xvfb  # noqa: E402
from tests.programs import stop_program, wait_until  # noqa: E402
from tracer_cli.desktop.platforms.atspi import AtspiElements, open_atspi  # noqa: E402


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms"


def gtk(runs: int) -> None:
    proc, name = start_xvfb(1280, 800)
    display = Display(name, 1280, 800, proc.pid)
    bus = start_a11y_bus(display)
    folder = Path(tempfile.mkdtemp(prefix="tracer-elements-"))
    app = start_calc(bus, folder / "calc.jsonl", "bench calc", (100, 100))
    try:
        reader = AtspiElements(bus.address())
        wait_until(lambda: reader.find("push button", "+"), 20, "the calculator in the tree")
        times, hits = [], 0
        for i in range(runs):
            x, y = 100 + (i * 37) % 320, 140 + (i * 53) % 260
            reader.forget()
            started = time.perf_counter()
            hits += reader.at(x, y) is not None
            times.append(time.perf_counter() - started)
        print(f"GTK 3 point lookup, new screen each ({runs} lookups, {hits} on an element): "
              f"{percentiles(times)}")
        times = []
        for _ in range(max(1, runs // 10)):
            reader.forget()
            started = time.perf_counter()
            reader.find("push button", "+")
            times.append(time.perf_counter() - started)
        print(f"GTK 3 search by role and name ({len(times)} searches, 27 nodes): "
              f"{percentiles(times)}")
        reader.close()
    finally:
        app.stop()
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
    gtk(args.runs)
    no_tree(args.runs)


if __name__ == "__main__":
    main()
