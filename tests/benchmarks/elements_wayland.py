"""Benchmark: what reading the accessibility tree costs on Wayland, where each lookup also asks
the compositor where windows lie (sway's tree over its IPC socket; KWin's window list through a
script).

On headless sway and headless KWin (the tests' own, tests/e2e/sway.py and tests/e2e/kde.py),
with a private accessibility bus (tests/a11y.py), the GTK 3 calculator drawing its own header
bar and shadows (tests/apps/gtk_calc.py, CALC_HEADERBAR=1): ``--runs`` point lookups spread
over it, each on a new screen (the per-screen cache dropped first: the compositor is asked
again, the windows read again, the window's children read for where its shadows end, then the
descent by point), then searches by role and name.

    python tests/benchmarks/elements_wayland.py [--runs 200] [--only sway|kde]

Prints p50 and p95 in milliseconds. Starts and stops everything by PID.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.a11y import CALC, start_a11y_bus  # noqa: E402
from tests.benchmarks.elements import lookups, searches  # noqa: E402
from tests.programs import wait_until  # noqa: E402


class Screen:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.name = env.get("WAYLAND_DISPLAY", "")

    def env(self) -> dict[str, str]:
        return self._env


def measure(reader: object, box: tuple[int, int, int, int], runs: int, label: str) -> None:
    left, top, right, bottom = box
    lookups(reader, label, (left, top, right - left, bottom - top), runs)  # type: ignore[arg-type]
    searches(reader, label, "bench calc", runs)  # type: ignore[arg-type]


def sway(runs: int, folder: Path) -> None:
    from tests.e2e.sway import SYSTEM_PYTHON, SwayDesktop

    folder.mkdir(parents=True)
    desk = SwayDesktop.start(folder)
    try:
        bus = start_a11y_bus(Screen(desk.sway.client_env(XDG_RUNTIME_DIR=desk.sway.runtime_dir)))  # type: ignore[arg-type]
        try:
            log = folder / "calc.jsonl"
            app = desk.launch([SYSTEM_PYTHON, str(CALC), str(log), "bench calc"], "bench",
                              log=log, a11y=bus.session, CALC_HEADERBAR="1")
            assert desk.sway.ipc is not None
            desk.sway.ipc.command(f"[pid={app.pid}] floating enable, resize set 320 360, "
                                  "move position 300 200")
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus.session
            reader = desk.platform().elements()
            try:
                (window,) = wait_until(lambda: (reader.forget(), [
                    w for w in reader.windows() if w.name == "bench calc"
                    and w.box[0] == 300])[1], 20, "the calculator placed")
                measure(reader, window.box, runs, "sway, GTK 3 calculator (header bar)")
            finally:
                reader.close()
        finally:
            bus.stop()
    finally:
        desk.stop()


def kde(runs: int, folder: Path) -> None:
    from tests.e2e.kde import SYSTEM_PYTHON, KdeDesktop

    folder.mkdir(parents=True)
    desk = KdeDesktop.start(folder)
    try:
        bus = start_a11y_bus(Screen(desk.kwin.client_env()))  # type: ignore[arg-type]
        try:
            log = folder / "calc.jsonl"
            desk.launch([SYSTEM_PYTHON, str(CALC), str(log), "bench calc"], log,
                        a11y=bus.session, CALC_HEADERBAR="1")
            os.environ["AT_SPI_BUS_ADDRESS"] = bus.address()
            reader = desk.platform().elements()
            try:
                (window,) = wait_until(lambda: (reader.forget(), [
                    w for w in reader.windows() if w.name == "bench calc"])[1], 20,
                    "the calculator placed")
                measure(reader, window.box, runs, "KWin, GTK 3 calculator (header bar)")
            finally:
                reader.close()
        finally:
            bus.stop()
            os.environ.pop("AT_SPI_BUS_ADDRESS", None)
    finally:
        desk.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--only", choices=["sway", "kde"])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tracer-elements-wl-"))
    if args.only in (None, "sway"):
        sway(args.runs, folder / "sway")
    if args.only in (None, "kde"):
        kde(args.runs, folder / "kde")


if __name__ == "__main__":
    main()
