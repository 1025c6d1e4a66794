"""Benchmark: how fast the kill switch stops `tracer do` in the middle of typing a long text.

Each run starts the real `tracer do` (openai backend against the test chat server) typing 400
characters into clicklog on Xvfb, waits until a random number of characters is typed, sends the
chord with `xdotool key ctrl+alt+shift+k` and waits for tracer to exit. Measured per run, on the
one system-wide monotonic clock:

    after chord  the last key tracer typed, after the chord's k reached the app (0: none came)
    gap          the chord's k to the next key tracer would have typed, had it gone on: the last
                 key before the chord plus one typing period (shows the margin)
    exit         the chord's k to the tracer process gone (run record written, all closed)

It also checks every time that tracer stopped with the kill switch's reason and that no key or
mouse button is left down.

    python tests/benchmarks/kill_switch.py [--runs 10] [--display :N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.chat_server import ChatServer  # noqa: E402
from tests.e2e.test_kill_switch import CHORD, MODIFIER_KEYSYMS, REASON, TEXT, typing_plan  # noqa: E402

CLICKLOG = ROOT / "tests" / "apps" / "clicklog.py"


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        return proc, ":" + reader.readline().strip()


def events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def typed(log: Path) -> list[dict[str, Any]]:
    return [e for e in events(log) if e["event"] == "key"
            and e["keysym"] not in MODIFIER_KEYSYMS | {"k", "K"}]


def held(display: str) -> tuple[int, int]:
    from Xlib.display import Display

    conn = Display(display)
    try:
        keys = sum(bin(b).count("1") for b in conn.query_keymap())
        return keys, conn.screen().root.query_pointer().mask & 0x1F00
    finally:
        conn.close()


def one_run(display: str, env: dict[str, str], server: ChatServer, log: Path,
            wait_chars: int) -> dict[str, float]:
    log.write_text("")
    server.queue(typing_plan())
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "do", "type", "--yes", "-b",
                             "openai", "--base-url", server.base_url], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(typed(log)) < wait_chars:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tracer did not type: {proc.communicate()}")
            time.sleep(0.01)
        subprocess.run(["xdotool", "key", CHORD], env=env, check=True, timeout=10)
        _, stderr = proc.communicate(timeout=15)
        ended = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if proc.returncode != 130 or REASON not in stderr:
        raise RuntimeError(f"tracer ended with {proc.returncode}: {stderr}")
    if held(display) != (0, 0):
        raise RuntimeError(f"input left held down: {held(display)}")
    time.sleep(0.1)  # the app logs what it got
    keys = [e for e in events(log) if e["event"] == "key"]
    chord = next(e["t"] for e in keys if e["keysym"] in ("k", "K"))
    text = typed(log)
    after = [e["t"] for e in text if e["t"] > chord]
    before = [e["t"] for e in text if e["t"] <= chord]
    period = statistics.median(b - a for a, b in zip(before, before[1:], strict=False))
    return {"after": (max(after) - chord) if after else 0.0, "keys_after": len(after),
            "gap": before[-1] + period - chord, "exit": ended - chord, "typed": len(text),
            "period": period}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--display", help="use this X display instead of starting an Xvfb")
    args = parser.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    if args.display:
        display = args.display
    else:
        xvfb, display = start_xvfb()
        procs.append(xvfb)
    home = tempfile.mkdtemp(prefix="tracer-bench-")
    env = {**os.environ, "DISPLAY": display, "TRACER_HOME": home, "TRACER_SETTLE_QUIET": "0.1",
           "TRACER_SETTLE_TIMEOUT": "2"}
    log = Path(home) / "clicklog.jsonl"
    procs.append(subprocess.Popen([sys.executable, str(CLICKLOG), str(log)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    server = ChatServer().start()
    try:
        deadline = time.monotonic() + 15
        while not any(e["event"] == "ready" for e in events(log)):
            if time.monotonic() > deadline:
                raise RuntimeError("clicklog did not start")
            time.sleep(0.05)
        time.sleep(0.3)
        rng = random.Random(1)
        runs = []
        for n in range(args.runs):
            result = one_run(display, env, server, log, rng.randint(5, 40))
            runs.append(result)
            print(f"run {n + 1:>2}: typed {result['typed']:>3} of {len(TEXT)}, "
                  f"{result['keys_after']} keys after the chord "
                  f"(last {result['after'] * 1000:5.1f} ms after), next key was due in "
                  f"{result['gap'] * 1000:5.1f} ms, exit {result['exit'] * 1000:5.0f} ms")
        print(f"\nkill switch, {args.runs} runs, typing period "
              f"{statistics.median(r['period'] for r in runs) * 1000:.1f} ms per character")
        print(f"{'':<36}{'min':>8}{'median':>8}{'max':>8}   (ms)")
        for name, key in (("last key typed after the chord", "after"),
                          ("tracer process gone after the chord", "exit")):
            values = [r[key] * 1000 for r in runs]
            print(f"{name:<36}{min(values):>8.1f}{statistics.median(values):>8.1f}"
                  f"{max(values):>8.1f}")
        print(f"keys typed after the chord: {sum(r['keys_after'] for r in runs)} in all; "
              "no key or button left down in any run")
    finally:
        server.stop()
        for proc in reversed(procs):
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
