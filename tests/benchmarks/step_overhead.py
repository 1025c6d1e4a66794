"""Benchmark: the cost of one agent step without the model, at 1920x1080 by default.

Phases measured with tracer's own components on a real X display: capture (the platform's:
mss on X11), downscale to the image budget, encode (PNG data URL as sent to a server), parse
(validate a 5-step plan), act (a real click through the platform's input), one settle check (a
screen fingerprint), the effect check
(comparing the screenshots before and after) and the checks of adaptive re-planning that let a
forecast step run without a model call (tracer_cli/agent/speculate.py). Then whole loop steps
(Agent.run with the script backend, settle quiet time 0) to show the end-to-end overhead.

    python tests/benchmarks/step_overhead.py [--size 1920x1080] [--runs 30] [--display :N]

Without --display it starts its own Xvfb with a text-filled xterm on it (a dense screen is the
worst case for PNG encoding) and stops both at the end.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.conftest import start_xvfb  # noqa: E402

PLAN = json.dumps({"thought": "Open the File menu, then Save As.", "trajectory": [
    {"action": "click", "x": 23, "y": 15, "target": "File menu"},
    {"action": "click", "x": 40, "y": 120, "target": "Save As..."},
    {"action": "type", "text": "report-2026.txt"},
    {"action": "hotkey", "keys": ["enter"]},
    {"action": "done", "answer": ""}]})


def timed(fn, runs: int) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return times, value


def row(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"{name:<28}{statistics.median(ms):>9.1f}{p90:>9.1f}{statistics.mean(ms):>9.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--display", help="use this X display instead of starting an Xvfb")
    parser.add_argument("--max-pixels", type=int, default=0,
                        help="image budget (default 0: the profile's, just over 1024 tokens)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    procs = []
    if args.display:
        os.environ["DISPLAY"] = args.display
    else:
        xvfb, os.environ["DISPLAY"] = start_xvfb(width, height)
        procs.append(xvfb)
        procs.append(subprocess.Popen(
            ["xterm", "-geometry", f"{width // 6}x{height // 13}+0+0", "-e",
             "ls -laR /usr/share/doc | head -2000; sleep 3600"], stderr=subprocess.DEVNULL))
        time.sleep(1.5)
    os.environ["TRACER_HOME"] = tempfile.mkdtemp(prefix="tracer-bench-")
    try:
        run(args, width, height)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait()


def run(args: argparse.Namespace, width: int, height: int) -> None:
    from tracer_cli.agent.backends.script import ScriptBackend
    from tracer_cli.agent.loop import Agent
    from tracer_cli.agent.planner import Planner
    from tracer_cli.agent.profiles.geometry import QWEN3_VL
    from tracer_cli.agent.profiles.tracer1 import Tracer1Profile
    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import LiveActuator, execute
    from tracer_cli.desktop.platform import choose
    from tracer_cli.desktop.screen import data_url, downscale
    from tracer_cli.plan import Click, parse_plan

    platform = choose("auto")
    actuator = LiveActuator(platform.open_input())
    screen = platform.open_screen(1, input_size=actuator.size())
    n = args.runs
    capture, shot = timed(screen.capture, n)
    size = QWEN3_VL.size(*shot.image.size, args.max_pixels)  # type: ignore[attr-defined]
    small_img = downscale(shot.image, size)  # type: ignore[attr-defined]
    resize, _ = timed(lambda: downscale(shot.image, size), n)  # type: ignore[attr-defined]
    # data_url encodes an image once (a history screenshot is sent again unencoded): time new ones
    fresh = iter([small_img.copy() for _ in range(2 * n)])
    encode, url = timed(lambda: data_url(next(fresh), "png"), n)
    encode_jpeg, _ = timed(lambda: data_url(next(fresh), "jpeg"), n)
    parse, _ = timed(lambda: parse_plan(PLAN, 5), n)
    click = Click(action="click", x=500, y=980, target="empty desktop")
    act, _ = timed(lambda: execute(click, screen.geometry, actuator), n)
    settle, _ = timed(screen.fingerprint, n)
    from tracer_cli.agent.effects import compare

    effect, _ = timed(lambda: compare(small_img, small_img, (500, 980)), n)
    from PIL import ImageDraw

    from tracer_cli.agent.outcome import Outcome
    from tracer_cli.agent.speculate import Previous, check
    from tracer_cli.plan import Type

    # The screen after a click into a field and some typing: changed only there.
    after_img = small_img.copy()
    ImageDraw.Draw(after_img).text((small_img.width // 3, small_img.height // 2), "Ada Lovelace",
                                   fill="black")
    acted = [(333, 500), (500, 980), (23, 15)]
    previous = Previous(Click(action="click", x=333, y=500, target="a field"), Outcome("ok"), None)
    next_click = Click(action="click", x=40, y=120, target="Save As...")
    verify_click, verdict = timed(lambda: check(next_click, small_img, after_img, previous, acted,
                                                0, 4), n)
    verify_keys, _ = timed(lambda: check(Type(action="type", text="report.txt"), small_img,
                                         after_img, previous, acted, 0, 4), n)
    from tracer_cli.agent.labels import OcrReader

    reader = OcrReader()  # the label read of a forecast click whose target appeared late
    reader(shot.image, (500, 500), "Save As...")  # type: ignore[attr-defined]  # loads the engine
    read_label, _ = timed(lambda: reader(shot.image, (500, 500), "Save As..."), n)  # type: ignore[attr-defined]
    print(f"step overhead without the model, {width}x{height} screen, "
          f"model image {small_img.width}x{small_img.height} "
          f"({len(url) // 1024} KiB as PNG data URL), {n} runs")  # type: ignore[arg-type]
    print(f"{'phase':<28}{'median':>9}{'p90':>9}{'mean':>9}   (ms)")
    phases = [("capture", capture), ("downscale", resize), ("encode PNG data URL", encode),
              ("  (JPEG instead)", encode_jpeg), ("parse + validate plan", parse),
              ("act (a click)", act), ("settle check (1 grab)", settle),
              ("effect check (compare)", effect),
              ("verify forecast click", verify_click), ("verify forecast keys", verify_keys),
              ("read a label at the point", read_label)]
    for name, times in phases:
        print(row(name, times))
    # tracer's own work on a step the model planned (the input events themselves wait out
    # pyautogui's pause after each event, which lets the target program see them)
    own = [sum(v) for v in zip(capture, resize, encode, parse, settle, effect, strict=True)]
    print(row("own work, model step (PNG)", own))
    # ... and on a step run from the forecast: no encode or parse, the forecast checks instead
    ahead = [sum(v) for v in zip(capture, resize, settle, effect, verify_click, strict=True)]
    print(row("own work, forecast step", ahead))
    total = [sum(v) for v in zip(capture, resize, encode, parse, act, settle, effect, strict=True)]
    print(row("sum with act (PNG)", total))
    print(f"(verify forecast click: {verdict.status}, {verdict.reason})")  # type: ignore[attr-defined]

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for _ in range(n):
            fh.write(json.dumps({"thought": "", "trajectory": [
                {"action": "click", "x": 500, "y": 980, "target": "empty desktop"}]}) + "\n")
        fh.write(json.dumps({"thought": "", "trajectory": [{"action": "done"}]}) + "\n")
    settings = Settings(max_steps=n + 1, settle_quiet=0.0, max_pixels=args.max_pixels,
                        confirm="never")
    planner = Planner(ScriptBackend(Path(fh.name)), Tracer1Profile())
    agent = Agent(screen, planner, actuator, settings)
    start = time.perf_counter()
    result = agent.run("benchmark")
    seconds = time.perf_counter() - start
    print(f"whole loop (Agent.run, script backend, settle quiet 0): {result.steps} steps in "
          f"{seconds:.2f} s = {seconds / result.steps * 1000:.1f} ms per step")
    os.unlink(fh.name)
    screen.close()


if __name__ == "__main__":
    main()
