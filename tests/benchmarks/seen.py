"""Benchmark: how often a click is placed by what the screen shows (the accessibility tree's
element, or the target's text read at the point) instead of a zoom turn, and the pixel error of
the clicks, on `tracer bench` (24 small Tk programs, each in its own sandbox).

    python -m tests.benchmarks.seen [--jitter 10] [--tasks button,menu] [--parallel 2]

The planner is the test-only expert (tests/expert.py: it reads each program's state and answers
the right step) with each click moved off the widget's centre by up to --jitter pixels per axis
(never more than a third of the widget's half-size: the point stays on the widget), as a planner
that sees the screen at a low resolution points. The runs are at a planner budget under the
grounding minimum (``--max-pixels 150000 --zoom``), so every click would get a zoom turn; the
expert answers a zoom turn with no point (the planner's point stays): the zoomed clicks' error
here is the planner's, not a real model's zoom (a real zoom needs real weights).

Two runs of the whole bench: ``ground_on_screen`` on and off. Per run: success, model calls,
zoom calls, clicks placed by element / text / zoom, and the bench's own grounding error (pixels
from each press to the centre of the widget the task needed pressed, measured by the program).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def jittering_expert(out: Path, jitter: int, seed: int) -> Any:
    """The bench's expert, each click moved within its widget (the same moves in every run)."""
    from tests.expert import Expert
    from tracer_cli.bench import suite

    class Jittering(Expert):
        def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
            if '{\\"x\\": X, \\"y\\": Y}' in json.dumps(body.get("messages", [])[-1:]):
                return {"thought": "", "trajectory": [{"action": "wait", "seconds": 0.1}]}  # a zoom turn
            return super().__call__(body)

        def aim(self, ident: str, step: dict[str, Any]) -> dict[str, Any]:
            size = step.get("size")
            if step.get("action") in ("drag", "scroll") or not size or "x" not in step:
                return step
            rng = random.Random(f"{seed}-{ident}-{self.calls.get(ident, 0)}")  # the same in each run
            reach_x, reach_y = (min(jitter, int(side / 6)) for side in size)
            return {**step, "x": step["x"] + rng.randint(-reach_x, reach_x),
                    "y": step["y"] + rng.randint(-reach_y, reach_y)}

    return Jittering(out, {t.task: t.id for t in suite.tasks()})


def run(out: Path, home: Path, jitter: int, seed: int, on: bool, tasks: str,
        parallel: int) -> dict[str, Any]:
    from tests.chat_server import ChatServer

    server = ChatServer().start()
    server.responder = jittering_expert(out, jitter, seed)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(TRACER_HOME=str(home), TRACER_SETTLE_QUIET="0.1", TRACER_SETTLE_TIMEOUT="2",
               TRACER_GROUND_ON_SCREEN="1" if on else "0")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tracer_cli", "bench", "--parallel", str(parallel), "--out",
             str(out), "--json", "--backend", "openai", "--base-url", server.base_url, "--model",
             "test-vlm", "--replan", "always", "--max-pixels", "150000", "--zoom",
             *(["--tasks", tasks] if tasks else [])],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    finally:
        server.stop()
    if done.returncode not in (0, 1):
        raise SystemExit(f"tracer bench failed ({done.returncode}): {done.stderr[-2000:]}")
    bench = json.loads((out / "summary.json").read_text())["bench"]
    by: dict[str, int] = {"element": 0, "text": 0, "zoom": 0}
    zoom_calls = 0
    for record in (home / "runs").iterdir():
        if not (record / "steps.jsonl").is_file():
            continue
        meta = json.loads((record / "run.json").read_text())
        zoom_calls += meta.get("zoom_calls", 0)
        for line in (record / "steps.jsonl").read_text().splitlines():
            grounding = json.loads(line).get("grounding") or {}
            if "by" in grounding:
                by[grounding["by"]] += 1
            elif "zoom" in grounding:
                by["zoom"] += 1
    return {"ground_on_screen": on, "success_rate": bench["success_rate"],
            "tasks": bench["tasks_run"], "model_calls": bench["model_calls_per_task"],
            "zoom_calls": zoom_calls, "by": by, "grounding_error": bench["grounding_error"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jitter", type=int, default=10, help="pixels per axis, at most")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tasks", default="", help="comma-separated bench tasks (default: all)")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tracer-seen-"))
    results = [run(work / f"out-{on}", work / f"home-{on}", args.jitter, args.seed, on, args.tasks,
                   args.parallel) for on in (True, False)]
    print(f"tracer bench, clicks moved up to {args.jitter} px off centre, --max-pixels 150000 --zoom")
    print("| ground_on_screen | success | model calls per task | zoom calls | clicks by element "
          "/ text / zoom | grounding error mean / p90 / max px | within 5 px |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        e, b = r["grounding_error"], r["by"]
        print(f"| {'on' if r['ground_on_screen'] else 'off'} | {r['success_rate']:.0%} of {r['tasks']} "
              f"| {r['model_calls']} | {r['zoom_calls']} | {b['element']} / {b['text']} / {b['zoom']} "
              f"| {e.get('mean')} / {e.get('p90')} / {e.get('max')} | {e.get('within_5px')} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
