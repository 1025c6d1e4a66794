"""Benchmark: `tracer bench` (calls, success) with --elements off and on, on the test-only expert
planner (tests/expert.py) served over the OpenAI API on 127.0.0.1.

    python tests/benchmarks/bench_elements.py [--elements off,on] [--parallel 3] [--tasks a,b]

The expert reads each bench program's state and answers the right step whatever the request
says, so element hints cannot change its calls: what this measures is that the flag costs
nothing and breaks nothing there, and whether any element reached a request at all (each run's
steps.jsonl: ``elements_sent``, and ``elements_note`` saying why none). A model that reads the
prompt is needed to measure whether hints help.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.chat_server import ChatServer  # noqa: E402
from tests.expert import Expert  # noqa: E402
from tracer_cli.bench import suite  # noqa: E402


def once(elements: str, args: argparse.Namespace, work: Path) -> dict[str, object]:
    out, home = work / f"out-{elements}", work / f"home-{elements}"
    server = ChatServer().start()
    server.responder = Expert(out, {t.task: t.id for t in suite.tasks()})
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(TRACER_HOME=str(home), TRACER_SETTLE_QUIET="0.1", TRACER_SETTLE_TIMEOUT="2")
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "tracer_cli", "bench", "--parallel", str(args.parallel),
             "--out", str(out), "--backend", "openai", "--base-url", server.base_url, "--model",
             "test-vlm", "--replan", "always", *(["--elements"] if elements == "on" else []),
             *(["--tasks", args.tasks] if args.tasks else [])],
            env=env, capture_output=True, text=True, timeout=3600, cwd=ROOT)
    finally:
        server.stop()
    if ran.returncode != 0:
        sys.exit(f"tracer bench failed ({ran.returncode}):\n{ran.stdout}\n{ran.stderr}")
    bench = json.loads((out / "summary.json").read_text())["bench"]
    sent, notes = 0, Counter()
    for steps in home.glob("**/steps.jsonl"):
        for line in steps.read_text().splitlines():
            step = json.loads(line)
            sent += step.get("elements_sent", 0)
            if step.get("elements_note"):  # (each sandbox's display by its own number)
                notes[re.sub(r"display :\d+", "display :N", step["elements_note"])] += 1
    return {"elements": elements, "success": bench["success_rate"], "tasks": bench["tasks_run"],
            "calls_task": bench["model_calls_per_task"], "calls_step": bench["model_calls_per_step"],
            "seconds_task": bench["seconds_per_task"], "sent": sent, "notes": dict(notes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", default="off,on")
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--tasks", default="")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tracer-bench-elements-"))
    rows = [once(e.strip(), args, work) for e in args.elements.split(",") if e.strip()]
    print(f"{'--elements':<11}{'tasks':>6}{'success':>9}{'calls/task':>12}{'calls/step':>12}"
          f"{'s/task':>8}{'elements sent':>15}")
    for r in rows:
        print(f"{r['elements']:<11}{r['tasks']:>6}{r['success']:>9.0%}{r['calls_task']:>12}"
              f"{r['calls_step']:>12}{r['seconds_task']:>8}{r['sent']:>15}")
    for r in rows:
        for note, count in r["notes"].items():  # type: ignore[union-attr]
            print(f"--elements {r['elements']}: {count} runs said: {note}")
    print(f"(run records under {work})")


if __name__ == "__main__":
    main()
