"""Benchmark: how long after the screenshot the first input event comes, and what a whole click
step takes, with the forecast's first step run while the answer streams (``stream_first``) on
and off, and the prefix cache across runs cold and warm.

    python -m tests.benchmarks.first_event [--dir DIR] [--size 2b] [--zoom] [--json OUT]
    python -m tests.benchmarks.first_event --tiny      # the tests' tiny pair: checks the script

Each case is one real ``tracer do "click OK" --max-steps 1 --profile qwen3-vl`` with the llama
backend on the full-size Qwen3-VL stand-in (tests/benchmarks/standin.py: the real model's shapes
and cost, random weights) on a 1920x1080 Xvfb of its own, at tracer's CPU defaults (512 image
tokens; ``--zoom`` for its zoom turns too). Random
weights write no valid answer, so the child process that runs tracer forces the sampler to pick
the tokens of ANSWER (a click, then two more steps, as a Qwen3-VL forecast is written): every
token is still computed by the model, only the choice among them is fixed.

Cases, in this order, each a process of its own (its model load is its own):
  cold, streaming off   an empty prefix cache (the first run with these instructions)
  warm, streaming off   the cache the run before wrote
  cold, streaming on
  warm, streaming on
Figures, from the run record: ``first_input_ms`` (the screenshot to the first input event),
and the step: from the screenshot to the end of the step's settle and check (its timings,
``model`` overlapping ``act`` when the step started while the answer streamed), and the prompt
tokens loaded from the cache. At the CPU defaults a click on a 1920x1080 screen is placed by a
zoom turn, which needs the whole answer: ``--no-zoom`` (the default here) measures a click the
planner's point places; ``--zoom`` measures tracer's defaults as they are.

Figures move with the machine's load: run it on a quiet machine (and say when it was not).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DIR = Path(os.environ.get("TRACER_STANDIN_DIR", Path.home() / ".cache" / "tracer-standin"))

ANSWER = (
    "Action: Click the OK button of the dialog.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
    '"coordinate": [500, 500]}}\n</tool_call>\n'
    "Action: Type the file name into the Name field.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "notes"}}\n'
    "</tool_call>\nAction: Press enter to save.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["enter"]}}\n'
    "</tool_call>")
CASES = [("cold", False), ("warm", False), ("cold", True), ("warm", True)]


def force_answer(text: str) -> None:
    """Make every llama.cpp answer of this process ``text``: the sampler returns its tokens in
    order (then end-of-sequence), while the model still computes each of them."""
    from llama_cpp import Llama

    state: dict[str, Any] = {}
    create, sample = Llama.create_completion, Llama.sample

    def create_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        # special=False: the tags stay text, as Qwen's <tool_call> (an added token that is not a
        # control token) is written in a real model's answer; the stand-in's vocabulary marks
        # them control tokens, which the answer would not show
        state["tokens"] = self.tokenize(text.encode(), add_bos=False, special=False)
        state["next"] = 0
        return create(self, *args, **kwargs)

    def forced(self: Any, *args: Any, **kwargs: Any) -> int:
        sample(self, *args, **kwargs)  # the sampler's own work, then the forced choice
        tokens, index = state["tokens"], state["next"]
        state["next"] = index + 1
        return tokens[index] if index < len(tokens) else self.token_eos()

    Llama.create_completion, Llama.sample = create_completion, forced


def child(argv: list[str]) -> int:
    force_answer(ANSWER)
    from tracer_cli.cli.app import main as tracer

    sys.argv = ["tracer", *argv]
    try:
        tracer()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        return proc, ":" + reader.readline().strip()


def case(model: Path, mmproj: Path, home: Path, display: str, stream: bool, zoom: bool,
         extra: list[str]) -> dict[str, Any]:
    env = {**os.environ, "DISPLAY": display, "TRACER_HOME": str(home),
           "TRACER_STREAM_FIRST": "1" if stream else "0"}
    args = ["do", "click OK", "--yes", "--max-steps", "1", "--profile", "qwen3-vl",
            "--backend", "llama", "--model", str(model), "--mmproj", str(mmproj),
            "--zoom" if zoom else "--no-zoom", *extra]
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks.first_event", "--child",
                           json.dumps(args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    runs = sorted((home / "runs").iterdir())
    lines = (runs[-1] / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[0])
    timings = step.get("timings", {})
    attempt = (step.get("attempts") or [{}])[0]
    # model and act overlap when the step started early: the step ends with its last phase
    serial = sum(v for k, v in timings.items() if k != "model")
    whole = timings.get("capture", 0) + max(timings.get("model", 0), serial - timings.get("capture", 0)) \
        if step.get("streamed") else sum(timings.values())
    return {"exit": done.returncode, "streamed": bool(step.get("streamed")),
            "first_input_s": step.get("first_input_ms", 0) / 1000, "step_s": whole,
            "model_s": timings.get("model", 0), "ground_s": timings.get("ground", 0),
            "from_disk": attempt.get("prefix_from_disk", 0),
            "prompt_tokens": attempt.get("prompt_tokens", 0),
            "last_line": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the stand-in lives")
    parser.add_argument("--size", default="2b", choices=("2b", "4b"))
    parser.add_argument("--zoom", action="store_true", help="tracer's default: zoom turns on")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny model pair instead")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))

    work = Path(tempfile.mkdtemp(prefix="tracer-first-event-"))
    if args.tiny:
        from tests.tinyvlm import make_tiny_vlm

        model, mmproj = make_tiny_vlm(work / "tiny", [ANSWER], arch="qwen3vl")
        extra = ["--context", "8192", "--max-tokens", "1500"]
    else:
        from tests.benchmarks.standin import build

        model, mmproj = build(args.dir, args.size, "Q4_K_M", "f16")
        # the catalogue's CPU budget for a Qwen3-VL (512 image tokens): a model given by path
        # would get the profile's default budget instead
        extra = ["--context", "8192", "--max-pixels", str(512 * 32 * 32)]
    proc, display = xvfb()
    results = []
    try:
        for stream in (False, True):
            home = work / f"home-{'on' if stream else 'off'}"  # its own, empty, prefix cache
            for warmth, on in CASES:
                if on != stream:
                    continue
                print(f"-- {warmth}, streaming {'on' if stream else 'off'}", file=sys.stderr, flush=True)
                result = case(model, mmproj, home, display, stream, args.zoom, extra)
                results.append({"cache": warmth, "stream_first": stream, **result})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print("| prefix cache | streaming first step | first input event s | whole click step s | "
          "model call s | tokens from disk / prompt | started while streaming |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['cache']} | {'on' if r['stream_first'] else 'off'} | {r['first_input_s']:.1f} | "
              f"{r['step_s']:.1f} | {r['model_s']:.1f} | {r['from_disk']} / {r['prompt_tokens']} | "
              f"{'yes' if r['streamed'] else 'no'} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
