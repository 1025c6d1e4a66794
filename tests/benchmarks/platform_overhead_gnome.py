"""Benchmark: what the GNOME platform costs per step, on a headless GNOME at 1920x1080 (mutter
alone by default, gnome-shell with IBus with --shell), measured with tracer's own GnomePlatform
in this process against the GTK probe (tests/apps/gtk_position_probe.py) full screen:

- session: RemoteDesktop + ScreenCast session, the stream, gst-launch's first frame;
- capture: the latest frame as a PIL image; fingerprint: CRC-32 of a new frame;
- click -> frame: from the click sent to the frame that shows it (the probe flashes a square);
- key -> frame: from a character typed to the frame that shows it in the entry;
- settle after a click: wait_settled(quiet=0.25) as the agent calls it, quiet time included;
- a step: click, settle, capture, as one agent step spends them (without the model).

    python -m tests.benchmarks.platform_overhead_gnome [--size 1920x1080] [--runs 20] [--shell]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.gnome_session import running  # noqa: E402


def ms(values: list[float]) -> str:
    values = [v * 1000 for v in values]
    return (f"median {statistics.median(values):6.1f} ms  min {min(values):6.1f}  "
            f"max {max(values):6.1f}  (n={len(values)})")


def frame_after(reader, seq: int, timeout: float = 2.0) -> float | None:  # noqa: ANN001
    """When the first frame after number ``seq`` arrived (None: none in time)."""
    return reader.frame_time if reader.wait_frame(seq, timeout) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--shell", action="store_true", help="gnome-shell (IBus) instead of mutter")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    sessions = running(shell=args.shell, x11=False, monitors=[(width, height)])
    gnome = next(sessions)
    try:
        run(gnome, args, width, height)
    finally:
        sessions.close()


def run(gnome, args: argparse.Namespace, width: int, height: int) -> None:  # noqa: ANN001
    from tracer_cli.desktop.platforms.gnome import GnomePlatform

    app = gnome.probe(0)
    os.environ.update(gnome.session.full_env)
    platform = GnomePlatform()
    started = time.perf_counter()
    screen = platform.open_screen(1)
    opened = time.perf_counter() - started
    session = platform._session
    started = time.perf_counter()
    keyboard = platform.open_input()
    warm = time.perf_counter() - started
    reader = screen.reader
    print(f"{'gnome-shell' if args.shell else 'mutter'} {width}x{height}, "
          f"{os.cpu_count()} cores; frames {reader.width}x{reader.height}")
    print(f"session + first frame: {opened * 1000:.0f} ms (session {session.timings['session'] * 1000:.0f} "
          f"ms); input warm-up {warm * 1000:.0f} ms")
    screen.wait_settled(0.3, 5)

    captures, prints = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        screen.capture()
        captures.append(time.perf_counter() - started)
    clicks, settles, steps, prints = [], [], [], []
    for n in range(args.runs):
        x, y = 200 + (n * 37) % (width - 400), 300 + (n * 53) % (height - 500)
        screen.wait_settled(0.1, 2)
        seq = reader.seq
        sent = time.monotonic()
        keyboard.click(x, y)
        arrived = frame_after(reader, seq)
        if arrived is not None:
            clicks.append(arrived - sent)
        waited, _ = screen.wait_settled(0.25, 2)
        settles.append(waited)
        started = time.perf_counter()
        screen.fingerprint()
        prints.append(time.perf_counter() - started)
        screen.capture()
        steps.append(time.monotonic() - sent)
    app.wait("press", 5)
    keys = []
    for ch in ("abcdefghijklmnopqrstuvwxyz" * 2)[:args.runs]:
        screen.wait_settled(0.1, 2)
        seq = reader.seq
        sent = time.monotonic()
        keyboard.type_char(ch)
        arrived = frame_after(reader, seq)
        if arrived is not None:
            keys.append(arrived - sent)
    print(f"capture (latest frame -> PIL):     {ms(captures)}")
    print(f"fingerprint (CRC-32 of a frame):    {ms(prints)}")
    print(f"click -> frame:                     {ms(clicks)}")
    print(f"key -> frame:                       {ms(keys)}")
    print(f"settle after a click (quiet 0.25):  {ms(settles)}")
    print(f"a step (click, settle, capture):    {ms(steps)}")
    keyboard.close()
    screen.close()


if __name__ == "__main__":
    main()
