"""Cost per step of sending earlier screenshots (UI-TARS's trained history), with and without
the llama backend reusing them from the KV cache.

A tiny UI-TARS-shaped pair (tests/tinyvlm.py, qwen2vl projector, patch 14) answers the ui-tars
profile's real prompts over several steps, each with a new 1232x700 screenshot (the size tracer
sends a 1920x1080 screen): the image tokens encoded and the prompt tokens evaluated per step are
what a real model of the family would have to do too (they do not depend on the weights); the
seconds are the tiny model's and say nothing about a real one.

    python -m tests.benchmarks.history_cache [--steps 7] [--history-images 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from tests.tinyvlm import make_tiny_vlm
from tracer_cli.agent.backends.llama import load
from tracer_cli.agent.profiles import PROFILES, HistoryEntry, PlanRequest

SIZE = (1232, 700)


def screenshot(n: int) -> Image.Image:
    image = Image.new("RGB", SIZE, (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.rectangle((40 + 90 * i, 60 + 30 * n, 110 + 90 * i, 90 + 30 * n), fill=(20 * i, 90, 160))
    draw.text((50, 20), f"step {n}", fill="black")
    return image


def run(llm: Any, steps: int, keep: int) -> list[tuple[int, int, int, float]]:
    """(images sent, images decoded into the KV cache, vision-encoder passes, seconds) per
    step."""
    profile = PROFILES.get("ui-tars")()
    history: list[HistoryEntry] = []
    rows = []
    for n in range(steps):
        request = PlanRequest("Fill in the form", screenshot(n), 1, list(history), history_images=keep)
        messages = profile.messages(request)
        encoder = llm.chat_handler._mtmd_cpp
        before = encoder.encoded_images
        started = time.perf_counter()
        llm.create_chat_completion(messages=messages, temperature=0, max_tokens=64)
        seconds = time.perf_counter() - started
        sent = sum(1 for m in messages if isinstance(m["content"], list)
                   for p in m["content"] if p["type"] == "image_url")
        rows.append((sent, sent - llm.reused_images, encoder.encoded_images - before, seconds))
        reply = f"Thought: step {n}.\nAction: click(point='<point>{100 + n} {200 + n}</point>')"
        history.append(HistoryEntry(n + 1, f"click {n}", "ok", answer=reply, image=request.image))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--history-images", type=int, default=4)
    args = parser.parse_args()
    geometry = PROFILES.get("ui-tars").geometry
    tokens = geometry.tokens(*SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        model, mmproj = make_tiny_vlm(Path(tmp), ["Thought: ok.\nAction: wait()"])
        results = {}
        for reuse in (False, True):
            llm = load(model, mmproj, use_gpu=False, verbose=False, n_ctx=16384, n_batch=512,
                       n_ubatch=512)
            llm.reuse_images = reuse
            if not reuse:
                llm.chat_handler._mtmd_cpp.KEEP = 0  # nor the encoder outputs
            results[reuse] = run(llm, args.steps, args.history_images)
            llm.close()
    print(f"{SIZE[0]}x{SIZE[1]} screenshots, {tokens} image tokens each; "
          f"history_images={args.history_images}")
    print("| step | images in the prompt | without reuse: encoded / decoded (image tokens) | "
          "with reuse: encoded / decoded (image tokens) | s, tiny model: without / with |")
    print("| --- | --- | --- | --- | --- |")
    total = [0, 0, 0, 0]
    for n, (off, on) in enumerate(zip(results[False], results[True], strict=True), 1):
        print(f"| {n} | {off[0]} | {off[2]} / {off[1]} ({off[1] * tokens}) | "
              f"{on[2]} / {on[1]} ({on[1] * tokens}) | {off[3]:.2f} / {on[3]:.2f} |")
        total = [total[0] + off[2], total[1] + off[1], total[2] + on[2], total[3] + on[1]]
    print(f"| all | | {total[0]} / {total[1]} | {total[2]} / {total[3]} | |")


if __name__ == "__main__":
    main()
