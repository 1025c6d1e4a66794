"""How long `tracer doctor` takes (a fresh process each time) on an Xvfb it starts, with the
script backend: the fast default, and `--full`, which loads the OCR engine as well.

    python tests/benchmarks/doctor.py [--runs 5] [--full]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.conftest import start_xvfb  # noqa: E402


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):  # 1: a check failed, which is a result, not a crash
            sys.exit(f"{' '.join(argv)} ended with {done.returncode}: {done.stderr.strip()}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="time `tracer doctor --full` too")
    args = parser.parse_args()
    tracer = shutil.which("tracer") or os.path.join(os.path.dirname(sys.executable), "tracer")
    xvfb, display = start_xvfb(1280, 800)
    try:
        with tempfile.TemporaryDirectory() as folder:
            plans = Path(folder) / "plans.jsonl"
            plans.write_text(json.dumps({"thought": "", "trajectory": [{"action": "done"}]}) + "\n")
            env = {**os.environ, "DISPLAY": display, "TRACER_HOME": str(Path(folder) / "home")}
            base = [tracer, "doctor", "-b", "script", "--script", str(plans)]
            print("| command | median s | max s |")
            print("| --- | --- | --- |")
            for argv in ([base] + ([[*base, "--full"]] if args.full else [])):
                times = timed(argv, env, args.runs)
                name = "tracer doctor" + (" --full" if "--full" in argv else "")
                print(f"| {name} | {statistics.median(times):.2f} | {max(times):.2f} |")
    finally:
        xvfb.terminate()
        xvfb.wait()


if __name__ == "__main__":
    main()
