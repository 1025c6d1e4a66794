"""Benchmark: what seeing and acting cost on each Linux platform, at 1920x1080 by default.

For X11 (an Xvfb), wlroots (a headless sway) and KDE (a headless KWin) in turn, with the same GTK 3 probe
(tests/apps/gtk_probe.py: a canvas that changes colour at each click) filling the screen, and
tracer's own platform objects (the Platform's screen and input):

- capture: one screenshot of the monitor (mss on X11; wlr-screencopy on sway, which waits for the
  output's next frame; KWin's ScreenShot2 over D-Bus and a pipe on KDE);
- settle check: one fingerprint (X11 and KDE: a grab and a CRC; sway: a count of damage, no
  pixels);
- settled capture: the screenshot right after a settle (X11 and KDE: the last fingerprint's grab;
  sway: the last damage frame);
- click-to-frame: from the button's release sent to the first change seen by polling
  fingerprints (the program's redraw);
- settle after a click: wait_settled(quiet 0.1 s) right after a click, as a step does;
- own work a step: capture + settle after a click + settled capture.

    python tests/benchmarks/platform_overhead.py [--size 1920x1080] [--runs 20]
        [--platform x11|wlroots|kde|both|all]        (both: x11 and wlroots)

Starts its own Xvfb, sway (as an unprivileged uid, see tests/compositors.py) and KWin (tests/
kwin.py, with tracer authorised in its own data folder) and stops them and the probes by PID at
the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.compositors import HeadlessSway  # noqa: E402
from tests.conftest import APPS, start_xvfb  # noqa: E402

PROBE = APPS / "gtk_probe.py"


def row(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"{name:<30}{statistics.median(ms):>9.1f}{p90:>9.1f}{statistics.mean(ms):>9.1f}"


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def start_probe(env: dict[str, str], log: Path, size: tuple[int, int]) -> subprocess.Popen[bytes]:
    """The GTK probe, WIDTHxHEIGHT (KWin places it: PROBE_FULLSCREEN=1 in ``env`` fills the
    output)."""
    log.write_text("")
    proc = subprocess.Popen(["/usr/bin/python3", str(PROBE), str(log), "probe",
                             f"{size[0]}x{size[1]}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while '"ready"' not in log.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the GTK probe did not start")
        time.sleep(0.05)
    return proc


def measure(name: str, platform: Any, runs: int, size: tuple[int, int]) -> None:
    from tracer_cli.desktop.screen import wait_settled

    screen = platform.open_screen(1)
    keyboard = platform.open_input()
    try:
        x, y = size[0] // 2, size[1] // 2  # the probe's canvas
        keyboard.move(x, y)
        wait_settled(screen, 0.3, 5)
        capture = timed(screen.capture, runs)
        check = timed(screen.fingerprint, runs)
        to_frame, settle, settled = [], [], []
        for _ in range(runs):
            wait_settled(screen, 0.2, 5)
            before = screen.fingerprint()
            keyboard.button("left", True)
            keyboard.button("left", False)
            sent = time.perf_counter()
            while screen.fingerprint() == before:
                if time.perf_counter() - sent > 2:
                    raise RuntimeError("the click changed nothing on the screen")
                time.sleep(0.001)
            to_frame.append(time.perf_counter() - sent)
            wait_settled(screen, 0.2, 5)
            keyboard.button("left", True)
            keyboard.button("left", False)
            start = time.perf_counter()
            wait_settled(screen, 0.1, 2)
            settle.append(time.perf_counter() - start)
            start = time.perf_counter()
            screen.settled_capture()
            settled.append(time.perf_counter() - start)
        step = [sum(v) for v in zip(capture, settle, settled, strict=True)]
        print(f"\n{name}: {platform.describe()}, monitor {screen.geometry.monitor.width}x"
              f"{screen.geometry.monitor.height}, {runs} runs")
        print(f"{'phase':<30}{'median':>9}{'p90':>9}{'mean':>9}   (ms)")
        for label, times in [("capture", capture), ("settle check (fingerprint)", check),
                             ("click-to-frame", to_frame),
                             ("settle after a click (q 0.1)", settle),
                             ("settled capture", settled), ("own work a step", step)]:
            print(row(label, times))
    finally:
        keyboard.release([])
        keyboard.close()
        screen.close()


def on_x11(runs: int, size: tuple[int, int], folder: Path) -> None:
    from tracer_cli.desktop.platforms.x11 import X11Platform

    xvfb, display = start_xvfb(*size)
    probe = None
    try:
        probe = start_probe({**os.environ, "DISPLAY": display, "GDK_BACKEND": "x11",
                             "NO_AT_BRIDGE": "1"}, folder / "x11.jsonl", size)
        measure("X11", X11Platform(display), runs, size)
    finally:
        if probe is not None:
            probe.terminate()
            probe.wait()
        xvfb.terminate()
        xvfb.wait()


def on_sway(runs: int, size: tuple[int, int], folder: Path) -> None:
    from tracer_cli.desktop.platforms.wlr_session import close_sessions
    from tracer_cli.desktop.platforms.wlroots import WlrootsPlatform

    sway = HeadlessSway(outputs=[size]).start()
    probe = None
    try:
        platform = WlrootsPlatform(sway.env["WAYLAND_DISPLAY"], env=sway.client_env())
        seat = platform.open_input()  # the seat has a keyboard and pointer before the probe starts
        env = sway.client_env(GDK_BACKEND="wayland", NO_AT_BRIDGE="1",
                              XDG_RUNTIME_DIR=sway.runtime_dir)
        env.pop("DISPLAY", None)
        probe = start_probe(env, folder / "sway.jsonl", size)
        measure("wlroots", platform, runs, size)
        seat.close()
    finally:
        if probe is not None:
            probe.terminate()
            probe.wait()
        close_sessions()
        sway.stop()


def on_kde(runs: int, size: tuple[int, int], folder: Path) -> None:
    from tests.kwin import HeadlessKWin
    from tracer_cli.desktop.platforms import kde_setup
    from tracer_cli.desktop.platforms.kde import KdePlatform
    from tracer_cli.desktop.platforms.kde_session import close_all

    kwin = HeadlessKWin(*size).start()
    probe = None
    try:
        env = kwin.client_env()
        kde_setup.setup(env=env)  # what `tracer setup kde` writes, in the session's own folder
        if kde_setup.wait_taken(env) is None:
            raise RuntimeError("KWin did not take tracer's authorisation")
        platform = KdePlatform(kwin.env["WAYLAND_DISPLAY"], env=env)
        seat = platform.open_input()  # the seat has a keyboard and pointer before the probe starts
        probe = start_probe(kwin.client_env(GDK_BACKEND="wayland", NO_AT_BRIDGE="1",
                                            PROBE_FULLSCREEN="1"), folder / "kde.jsonl", size)
        measure("KDE", platform, runs, size)
        seat.close()
    finally:
        if probe is not None:
            probe.terminate()
            probe.wait()
        close_all()
        kwin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--platform", choices=("x11", "wlroots", "kde", "both", "all"),
                        default="both")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    os.environ["TRACER_HOME"] = tempfile.mkdtemp(prefix="tracer-bench-")
    folder = Path(tempfile.mkdtemp(prefix="tracer-bench-logs-"))
    if args.platform in ("x11", "both", "all"):
        on_x11(args.runs, size, folder)  # type: ignore[arg-type]
    if args.platform in ("wlroots", "both", "all"):
        on_sway(args.runs, size, folder)  # type: ignore[arg-type]
    if args.platform in ("kde", "all"):
        on_kde(args.runs, size, folder)  # type: ignore[arg-type]
    print(json.dumps({"load average": os.getloadavg()}))


if __name__ == "__main__":
    main()
