"""How long `tracer --help` and `tracer do --help` take (a fresh process each time): the start-up
cost a user pays for every command, without a display or a model.

    python tests/benchmarks/cli_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def timed(argv: list[str], runs: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    tracer = shutil.which("tracer") or os.path.join(os.path.dirname(sys.executable), "tracer")
    print("| command | median s | p90 s |")
    print("| --- | --- | --- |")
    for argv in ([tracer, "--help"], [tracer, "do", "--help"], [sys.executable, "-c", "pass"]):
        times = sorted(timed(argv, args.runs))
        name = " ".join(os.path.basename(a) for a in argv)
        print(f"| {name} | {statistics.median(times):.3f} | {times[int(0.9 * (len(times) - 1))]:.3f} |")


if __name__ == "__main__":
    main()
