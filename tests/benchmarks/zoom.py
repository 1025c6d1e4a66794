"""Benchmark: zoom grounding at real size, on the full-size Qwen3-VL stand-in (standin.py).

    python -m tests.benchmarks.zoom [--dir DIR] [--threads 2] [--low 256] [--answer-tokens N]

Through tracer's real path (LlamaBackend, the qwen3-vl profile, one process, the model loaded
once), on a 1920x1080 screenshot of the benchmark's editor (llama_step.draw_screen):

1. before: a cold planning call at the default budget (1,100 image tokens, just over the
   grounding minimum);
2. after: a cold planning call at ``--low`` image tokens, then the zoom turn that places its
   click: the planning messages, the model's reply and a 448x448 full-resolution crop (196 image
   tokens) with the target, as the agent sends it; then a second zoom turn (the next click of
   the same forecast, on a new crop).

"Cold": the KV cache and the encoder cache emptied, as at the first step of a run. Each row:
wall seconds, vision encoder, image prefill, text tokens evaluated and reused. The stand-in's
random weights never stop, so answers are cut at ``--answer-tokens`` (a three-step answer in
its vocabulary) and at 24 tokens for a zoom answer (one tool call).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ZOOM_ANSWER_TOKENS = 24


def main(argv: list[str] | None = None) -> int:
    from tests.benchmarks.full_size import DEFAULT_DIR, answer_tokens, requests, time_images
    from tests.benchmarks.llama_step import Probe, draw_screen, forget
    from tracer_cli.agent.backends.llama import LlamaBackend
    from tracer_cli.agent.profiles.geometry import DEFAULT_TOKENS
    from tracer_cli.agent.profiles.qwen3_vl import Qwen3VLProfile
    from tracer_cli.agent.zoom import crop_box
    from tracer_cli.config import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the stand-in lives")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--low", type=int, default=256, help="the planner's image tokens with zoom")
    parser.add_argument("--answer-tokens", type=int, default=0, help="0: a three-step answer's")
    args = parser.parse_args(argv)
    model = args.dir / "qwen3-vl-2b-standin-Q4_K_M.gguf"
    mmproj = args.dir / "mmproj-qwen3-vl-2b-standin-f16.gguf"
    if not model.is_file() or not mmproj.is_file():
        print(f"no stand-in in {args.dir}: make it with python -m tests.benchmarks.standin {args.dir}",
              file=sys.stderr)
        return 2
    answer = args.answer_tokens or answer_tokens(model)
    settings = Settings(backend="llama", model=str(model), mmproj=str(mmproj), threads=args.threads,
                        max_tokens=answer, context=8192, gpu_layers="0")
    backend = LlamaBackend(settings)
    profile = Qwen3VLProfile()
    probe = Probe(backend, keep_logits=False)
    undo = time_images(probe)
    encoder_cache = backend.llm.chat_handler._mtmd_cpp
    screen = draw_screen(1920, 1080)
    rows: list[dict[str, Any]] = []

    def call(kind: str, messages: list[dict[str, Any]], cold: bool, tokens: int) -> str:
        if cold:
            forget(backend.llm)
            encoder_cache._encoded.clear()
        backend.max_tokens = tokens
        probe.calls.clear()
        started = time.perf_counter()
        completion = backend.complete(messages)
        c = probe.calls[-1]
        row = {"call": kind, "wall_s": round(time.perf_counter() - started, 2),
               "encode_s": round(c.image_encode, 2), "image_prefill_s": round(c.image_prefill, 2),
               "image_tokens": c.image_tokens, "text_evaluated": c.text_evaluated,
               "reused_tokens": c.reused, "decode_s": round(c.decode, 2),
               "answer_tokens": completion.completion_tokens}
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
        return completion.text

    target = "the Replace All button"
    [before] = requests(DEFAULT_TOKENS, steps=1)
    call(f"planning, {DEFAULT_TOKENS} tokens (before)", profile.messages(before), True, answer)
    [low] = requests(args.low, steps=1)
    messages = profile.messages(low)
    reply = call(f"planning, {args.low} tokens", messages, True, answer)
    conversation = [*messages, {"role": "assistant", "content": reply}]
    for number, point in enumerate([(512, 284), (700, 600)], 1):
        box = crop_box(point, screen.size, profile.geometry)
        assert box is not None
        crop = screen.crop((box.left, box.top, box.left + box.width, box.top + box.height))
        conversation = [*conversation, *profile.zoom_messages(crop, target)]
        text = call(f"zoom turn {number} (crop {box.width}x{box.height})", conversation, False,
                    ZOOM_ANSWER_TOKENS)
        conversation.append({"role": "assistant", "content": text})
    undo()
    probe.restore()
    backend.close()

    print("| call | wall s | vision encoder s | image prefill s (tokens) | text evaluated | reused "
          "tokens | decode s (answer tokens) |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['call']} | {r['wall_s']:.1f} | {r['encode_s']:.1f} | {r['image_prefill_s']:.1f} "
              f"({r['image_tokens']}) | {r['text_evaluated']} | {r['reused_tokens']} | "
              f"{r['decode_s']:.1f} ({r['answer_tokens']}) |")
    first = rows[0]["wall_s"]
    after = rows[1]["wall_s"] + rows[2]["wall_s"]
    print(f"\nplanning + first zoom: {after:.1f} s against {first:.1f} s ({after / first:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
