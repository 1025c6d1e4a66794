"""Benchmark: the llama path at real size, on the full-size Qwen3-VL stand-in (tests/benchmarks/
standin.py makes it on first use: same shapes and cost as the real model, random weights).

    python -m tests.benchmarks.full_size [--dir DIR] [--size 2b] [--config "threads=2
        projector=f16 fa=on budgets=256,default followups=yes"]... [--answer-tokens N] [--do]
        [--json OUT]

A configuration may name the ``profile`` whose prompt is sent (default qwen3-vl; its answer
length from the family's corpus, see answer_for) and a ``ground`` profile: after each planning
call, a dedicated grounder's cold call on the crop tracer cuts around the click (the cost a
planner + grounder pair adds to a click step; the same stand-in plays the grounder, so this
holds for grounders of the same architecture and size).

Without --config it measures the README's set (STANDARD below: tracer's defaults over image
budgets of 256, 512, 1024 and 1280 tokens and the default, then flash attention off, the Q8_0
projector and one thread, one change at a time). Each configuration runs in a subprocess of its
own, so that its load time and peak memory are its own. In it, through tracer's real path
(``Settings(backend="llama")`` -> ``LlamaBackend`` -> the ``qwen3-vl`` profile's messages):

* load: ``LlamaBackend(settings)`` wall time; RSS after the load and peak RSS at the end.
* cold call, one per image budget: KV cache and vision-encoder cache emptied first, so the call
  pays for everything, as the first step of a run does. A 1920x1080 screenshot (a dense editor
  window drawn with PIL) downscaled as the agent does (``ImageGeometry.size``, tokens =
  pixels / 32^2), the task and four earlier steps in the profile's history text, and an answer
  of ``--answer-tokens`` tokens (the length of a three-step Qwen3-VL answer in this vocabulary:
  the random weights never stop by themselves, so ``max_tokens`` ends the answer there).
  Phases are timed by llama_step.Probe: vision encoder (mtmd_encode_chunk), image prefill (the
  language model ingesting the image embeddings), text prefill, decode (tokens/s).
* next step (the default budget, with followups=yes): one more history line and a new screenshot; the prompt's
  unchanged start (system prompt, task) comes from the cache.
* re-ask (the default budget, with followups=yes): the same prompt plus the answer and the profile's
  "rejected, answer again" message, as the planner sends after a malformed answer; the
  screenshot's KV is reused, so only the new text is evaluated.

``--do`` also times one whole ``tracer do`` step (a subprocess on its own 1920x1080 Xvfb):
start, model load, capture, the planning call, reading the answer.

The stand-in's tokenizer is not Qwen's (see standin.py); token counts are printed beside the
times. Figures move with the machine's load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DIR = Path(os.environ.get("TRACER_STANDIN_DIR", Path.home() / ".cache" / "tracer-standin"))

# A three-step answer in the qwen3-vl profile's format (Action lines and tool calls).
ANSWER = (
    "Action: Open the replace dialog of the editor with its shortcut.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "h"]}}\n'
    "</tool_call>\nAction: Type the word to find into the Find field.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "colour"}}\n'
    "</tool_call>\nAction: Click the Replace All button.\n"
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
    '"coordinate": [512, 284]}}\n</tool_call>')


# The answer each profile is timed with: its length sets the decode (the stand-in's random weights
# never stop by themselves, so max_tokens ends the answer there). For the families that answer one
# action a step, a click from their corpus (tests/corpus/, each entry citing its source); for
# tracer1, a three-step forecast like ANSWER's.
TRACER1_ANSWER = json.dumps({
    "thought": "The editor is open; replace the word with the replace dialog.",
    "trajectory": [{"action": "hotkey", "keys": ["ctrl", "h"]},
                   {"action": "type", "text": "colour"},
                   {"action": "click", "x": 512, "y": 284, "target": "Replace All button"}]})
CORPUS_ANSWERS = {"gui-owl": ("gui_owl_15.yaml", "owl-click-action-line"),
                  "ui-venus": ("ui_venus_15.yaml", "venus-click")}
# A grounding answer per grounder profile (tests/corpus/grounding/), for the pairing's cost.
GROUND_ANSWERS = {"gui-owl": ("gui_owl.yaml", "owl-gd-left-click"),
                  "ui-venus": ("ui_venus.yaml", "venus-gd-point")}


def corpus_answer(path: str, entry: str) -> str:
    import yaml

    for item in yaml.safe_load((ROOT / "tests" / "corpus" / path).read_text(encoding="utf-8")):
        if item["id"] == entry:
            return str(item["answer"])
    raise SystemExit(f"no entry {entry!r} in tests/corpus/{path}")


def answer_for(profile: str) -> str:
    if profile == "tracer1":
        return TRACER1_ANSWER
    if profile in CORPUS_ANSWERS:
        return corpus_answer(*CORPUS_ANSWERS[profile])
    return ANSWER


def ground_answer_for(profile: str) -> str:
    if profile in GROUND_ANSWERS:
        return corpus_answer("grounding/" + GROUND_ANSWERS[profile][0], GROUND_ANSWERS[profile][1])
    return '{"x": 512, "y": 340}'  # the tracer1 grounding prompt's form


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def requests(budget_tokens: int, steps: int = 2) -> list[Any]:
    """The agent's requests at steps 5 and 6 of the benchmark task (PlanRequest objects)."""
    from tests.benchmarks.llama_step import SCRIPT, TASK, draw_screen, step_screen
    from tracer_cli.agent.profiles import HistoryEntry, PlanRequest
    from tracer_cli.agent.profiles.geometry import QWEN3_VL
    from tracer_cli.desktop.screen import downscale
    from tracer_cli.plan import parse_plan

    base = draw_screen(1920, 1080)
    size = QWEN3_VL.size(1920, 1080, budget_tokens * QWEN3_VL.token_pixels)
    out = []
    for k in range(steps):
        history = [HistoryEntry(i + 1, parse_plan(json.dumps({"thought": "", "trajectory": [step]}), 1)
                                .trajectory[0].describe(), outcome)
                   for i, (step, outcome) in enumerate(SCRIPT[:4 + k])]
        image = downscale(step_screen(base, 4 + k + budget_tokens), size)
        out.append(PlanRequest(task=TASK, image=image, horizon=3, history=history))
    return out


def time_images(probe: Any) -> Any:
    """Time the two halves of an image's evaluation as tracer's image cache calls them
    (backends/llama.py, _ImageCachingMtmd): the vision encoder, skipped for an image whose
    encoder output is kept, and the decode of the embeddings; returns the undo."""
    import llama_cpp.mtmd_cpp as mtmd

    encode, decode = mtmd.mtmd_encode_chunk, mtmd.mtmd_helper_decode_image_chunk

    def timed_encode(ctx: Any, chunk: Any) -> int:
        start = time.perf_counter()
        result = encode(ctx, chunk)
        if probe.current is not None:
            probe.current.image_encode += time.perf_counter() - start
        return result

    def timed_decode(ctx: Any, lctx: Any, chunk: Any, *rest: Any) -> int:
        start = time.perf_counter()
        result = decode(ctx, lctx, chunk, *rest)
        probe.sync()
        if probe.current is not None:
            probe.current.image_prefill += time.perf_counter() - start
            probe.current.image_tokens += mtmd.mtmd_input_chunk_get_n_tokens(chunk)
        return result

    mtmd.mtmd_encode_chunk, mtmd.mtmd_helper_decode_image_chunk = timed_encode, timed_decode

    def undo() -> None:
        mtmd.mtmd_encode_chunk, mtmd.mtmd_helper_decode_image_chunk = encode, decode
    return undo


def child(config: dict[str, Any]) -> dict[str, Any]:
    from tests.benchmarks.llama_step import Probe, forget
    from tracer_cli.agent.backends.llama import LlamaBackend
    from tracer_cli.agent.profiles import PROFILES
    from tracer_cli.config import Settings

    settings = Settings(backend="llama", model=config["model"], mmproj=config["mmproj"],
                        threads=config["threads"], flash_attn=config["flash_attn"],
                        max_tokens=config["answer_tokens"], context=8192, gpu_layers="0")
    start = time.perf_counter()
    backend = LlamaBackend(settings)
    result: dict[str, Any] = {"config": config, "load_s": time.perf_counter() - start,
                              "rss_after_load_mb": rss_mb(), "extra_buffers": backend.cpu.extra_buffers,
                              "calls": []}
    profile = PROFILES.get(config["profile"])()
    probe = Probe(backend, keep_logits=False)
    undo = time_images(probe)
    encoder_cache = backend.llm.chat_handler._mtmd_cpp

    def call(kind: str, budget: int, messages: list[dict[str, Any]], cold: bool) -> dict[str, Any]:
        if cold:
            forget(backend.llm)
            encoder_cache._encoded.clear()
        probe.calls.clear()
        completion = backend.complete(messages)
        c = probe.calls[-1]
        row = {"kind": kind, "budget": budget, "wall_s": c.wall, "encode_s": c.image_encode,
               "image_prefill_s": c.image_prefill, "image_tokens": c.image_tokens,
               "text_prefill_s": c.text_eval, "text_tokens": c.text_evaluated,
               "reused_tokens": c.reused, "reused_images": backend.llm.reused_images,
               "decode_s": c.decode,
               "answer_tokens": completion.completion_tokens,
               "decode_tok_s": completion.completion_tokens / c.decode if c.decode else 0.0}
        print(json.dumps(row), file=sys.stderr, flush=True)
        return row

    for budget in config["budgets"]:
        first, second = requests(budget)
        messages = profile.messages(first)
        result["calls"].append(call("cold", budget, messages, cold=True))
        if config["ground"]:
            result["calls"].append(ground_call(config, backend, budget, call))
        if config["followups"] and budget == config["default_budget"]:
            result["calls"].append(call("next step", budget, profile.messages(second), cold=False))
            again = [*profile.messages(second), {"role": "assistant", "content": "Action: click"},
                     profile.retry_message("the answer holds no tool call")]
            result["calls"].append(call("re-ask", budget, again, cold=False))
    result["peak_rss_mb"] = peak_rss_mb()
    undo()
    probe.restore()
    backend.close()
    return result


def ground_call(config: dict[str, Any], backend: Any, budget: int, call: Any) -> dict[str, Any]:
    """A dedicated grounder's turn on the planner's click (a cold call: the grounder is another
    model, whose cache holds nothing of the planner's prompt): its grounding prompt on the
    full-resolution crop the Zoomer cuts around the point, answered with ``ground_tokens``."""
    from tests.benchmarks.llama_step import draw_screen
    from tracer_cli.agent.profiles import PROFILES
    from tracer_cli.agent.zoom import crop_box

    grounder = PROFILES.get(config["ground"])()
    screen = draw_screen(1920, 1080)
    box = crop_box((512, 284), screen.size, grounder.geometry)
    crop = screen.crop((box.left, box.top, box.left + box.width, box.top + box.height))
    planning_tokens, backend.max_tokens = backend.max_tokens, config["ground_tokens"]
    try:
        row = call(f"ground ({config['ground']}, {crop.width}x{crop.height} crop)", budget,
                   grounder.ground_messages(crop, "the Replace All button"), cold=True)
    finally:
        backend.max_tokens = planning_tokens
    return row


def tracer_do_step(model: Path, mmproj: Path, answer: int, home: Path) -> dict[str, Any]:
    """One whole ``tracer do`` step on a 1920x1080 Xvfb: start, model load, capture, downscale,
    the planning call, reading the answer. The stand-in's answer is cut off at ``answer`` tokens,
    which ends the run there (with the cut-off message): the step a user waits for first."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        display = ":" + reader.readline().strip()
    try:
        env = {**os.environ, "DISPLAY": display, "TRACER_HOME": str(home)}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "tracer_cli", "do", "open the notes file",
                               "--backend", "llama", "--model", str(model), "--mmproj", str(mmproj),
                               "--max-steps", "1", "--max-tokens", str(answer), "--yes",
                               "--profile", "qwen3-vl", "--context", "8192"],
                              env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    runs = sorted((home / "runs").iterdir())
    steps = [json.loads(line) for line in (runs[-1] / "steps.jsonl").read_text().splitlines()]
    return {"wall_s": wall, "exit": done.returncode, "last_line": done.stderr.strip().splitlines()[-1],
            "timings": steps[0].get("timings", {}) if steps else {}}


def answer_tokens(model: Path, text: str = ANSWER) -> int:
    """Tokens of ``text`` in the stand-in's vocabulary (vocab-only load)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(model), vocab_only=True, verbose=False)
    return len(llm.tokenize(text.encode(), add_bos=False, special=True))


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| profile | threads | projector | flash attn | budget (image tokens) | call | "
             "vision encoder s | image prefill s | text prefill s (tokens; reused) | "
             "decode s (tok/s) | total s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["config"]
        for row in r["calls"]:
            lines.append(
                f"| {c['profile']} | {c['threads']} | {c['projector']} | "
                f"{'on' if c['flash_attn'] else 'off'} | "
                f"{row['budget']} ({row['image_tokens']}) | {row['kind']} | {row['encode_s']:.1f} | "
                f"{row['image_prefill_s']:.1f} | {row['text_prefill_s']:.1f} ({row['text_tokens']}; "
                f"{row['reused_tokens']}) | {row['decode_s']:.1f} ({row['decode_tok_s']:.1f}) | "
                f"{row['wall_s']:.1f} |")
    lines += ["", "| threads | projector | flash attn | load s | RSS after load MB | peak RSS MB | "
              "extra CPU buffers |", "|---|---|---|---|---|---|---|"]
    for r in results:
        c = r["config"]
        lines.append(f"| {c['threads']} | {c['projector']} | {'on' if c['flash_attn'] else 'off'} | "
                     f"{r['load_s']:.1f} | {r['rss_after_load_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
                     f"{'yes' if r['extra_buffers'] else 'no (probe: crash)'} |")
    return "\n".join(lines)


# The configurations of the README's table: tracer's defaults with the budget sweep (and the
# next step and the re-ask at the default budget), then one change at a time against them.
STANDARD = (
    "threads=2 projector=f16 fa=on budgets=256,512,1024,1280,default followups=yes",
    "threads=2 projector=f16 fa=off budgets=default",
    "threads=2 projector=q8_0 fa=on budgets=default",
    "threads=1 projector=f16 fa=on budgets=256,default",
)


def parse_config(text: str, default_budget: int) -> dict[str, Any]:
    """``threads=2 projector=f16 fa=on budgets=256,default followups=yes profile=qwen3-vl
    ground=ui-venus``"""
    try:
        fields = dict(part.split("=", 1) for part in text.split())
        budgets = [default_budget if b == "default" else int(b) for b in fields["budgets"].split(",")]
        return {"threads": int(fields.get("threads", "2")), "projector": fields.get("projector", "f16"),
                "flash_attn": fields.get("fa", "on") == "on", "budgets": budgets,
                "followups": fields.get("followups", "no") == "yes", "default_budget": default_budget,
                "profile": fields.get("profile", "qwen3-vl"), "ground": fields.get("ground", "")}
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"--config {text!r}: {exc} (e.g. 'threads=2 projector=f16 fa=on "
                         "budgets=256,default followups=yes')") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the stand-in lives")
    parser.add_argument("--size", default="2b", choices=("2b", "4b"))
    parser.add_argument("--config", action="append", default=[],
                        help="a configuration to measure (repeatable; default: the README's set)")
    parser.add_argument("--answer-tokens", type=int, default=0, help="0: the length of ANSWER")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--do", action="store_true", help="also time one whole `tracer do` step")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    from tests.benchmarks.standin import build
    from tracer_cli.agent.profiles.geometry import DEFAULT_TOKENS

    configs = [parse_config(text, DEFAULT_TOKENS) for text in args.config or STANDARD]
    results: list[dict[str, Any]] = []
    for config in configs:
        model, mmproj = build(args.dir, args.size, "Q4_K_M", config["projector"])
        config.update(model=str(model), mmproj=str(mmproj),
                      answer_tokens=args.answer_tokens or answer_tokens(model,
                                                                        answer_for(config["profile"])),
                      ground_tokens=answer_tokens(model, ground_answer_for(config["ground"])))
        print(f"-- {args.size} {config['profile']}, {config['threads']} thread(s), projector "
              f"{config['projector']}, flash attention {'on' if config['flash_attn'] else 'off'}"
              f"{', grounder ' + config['ground'] if config['ground'] else ''}",
              file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, "-m", "tests.benchmarks.full_size",
                               "--child", json.dumps(config)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            print(f"configuration failed (exit {done.returncode})", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(table(results))
    if args.do:
        import tempfile

        model, mmproj = build(args.dir, args.size, "Q4_K_M", "f16")
        with tempfile.TemporaryDirectory() as home:
            step = tracer_do_step(model, mmproj, args.answer_tokens or answer_tokens(model), Path(home))
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in step["timings"].items())
        print(f"\nA whole `tracer do` step (default settings, 1920x1080): {step['wall_s']:.1f} s from "
              f"start to the answer read (exit {step['exit']}); in the step: {timings}; "
              f"last line: {step['last_line']}")
        results.append({"tracer_do": step})
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
