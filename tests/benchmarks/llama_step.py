"""Benchmark: one agent step through tracer's own llama backend, for a given GGUF model pair.

    python tests/benchmarks/llama_step.py --model M.gguf --mmproj MMPROJ.gguf [--runs 5]
        [--size 1920x1080] [--max-pixels 0] [--threads N] [--context 8192]
        [--gpu-layers auto] [--display :N]
    python tests/benchmarks/llama_step.py --tiny [--tiny-arch qwen3vl]   # tests/tinyvlm.py pair

Everything goes through tracer's real path: ``Settings(backend="llama", ...)`` ->
``LlamaBackend`` (with its PrefixCachingLlama) -> ``Planner.forecast`` with the ``tracer1``
profile, on a synthetic 1920x1080 screenshot (a text-filled editor window drawn with PIL, a little
different at each step) downscaled as the agent does, or on captures of ``--display``. Each step
sends the history an agent would (HistoryEntry lines of earlier steps, at most
``Settings.history``), so the prompt's start is unchanged from one step to the next. The history is
scripted, not taken from the model's answers, so every run sends the same prompts.

Runs, one model load:
  first call  the first forecast after the load (step 1, grammar off): what the user waits for.
  A           steps 1..N, prefix cache on, grammar off.
  B           steps 1..N, prefix cache on, grammar on (``backend.grammar``, the attribute that
              ``Settings.grammar`` sets, flipped on the same backend so the model is loaded once).
  C           steps 1..N, prefix cache off: before every call the KV cache is cleared and the
              model's token count set to 0, which is what stock llama-cpp-python does
              (``llama.reset(); kv_cache_clear()``); the prefix subclass then finds nothing to reuse.
Each run starts with the cache cleared, so its step 1 is cold like an agent's first step.

How each figure is measured (time.perf_counter; medians where a row summarises several calls):
* load: ``LlamaBackend(settings)`` wall time, ``import llama_cpp`` excluded (shown apart). The
  projector share is the time in ``MTMDChatHandler._init_mtmd_context`` (mtmd_init_from_file,
  which loads the mmproj and runs mtmd's warm-up encode, ``warmup`` on by default); the model
  share is the rest (llama.cpp model load and context creation).
* Phases of a call: the benchmark wraps, on this backend only, the functions llama-cpp-python's
  ``MTMDChatHandler`` calls in order, and restores them at the end:
  - image prep: ``_create_bitmap_from_bytes`` (PNG decode) + ``mtmd_tokenize`` (prompt
    tokenisation and the image's resize/normalise into patches);
  - text eval: time in ``Llama.eval`` before generation (the prefix subclass's eval: skipped
    tokens are counted as reused, the rest are decoded);
  - image encode and image prefill: llama.cpp's ``mtmd_helper_eval_chunk_single`` is, for an image
    chunk, exactly ``mtmd_encode_chunk`` (vision tower + projector) followed by
    ``mtmd_get_output_embd`` and ``mtmd_helper_decode_image_chunk`` (the language model
    ingesting the image embeddings). The wrapper makes those same three calls itself and times
    the two halves apart; text chunks go to the original. Image tokens are
    ``mtmd_input_chunk_get_n_tokens`` of that chunk (grid ``nx x ny``), its M-RoPE positions
    ``mtmd_input_chunk_get_n_pos`` (``usage.prompt_tokens`` counts positions, not image tokens);
  - prompt: from ``backend.complete`` entry to the end of the last prompt chunk (all of the above
    plus template rendering);
  - grammar: ``_grammar_for_response_format`` (the JSON-schema grammar is built at every call);
  - decode: ``Llama.create_completion`` (sampling, grammar checks, one decode per token);
    decode tok/s = completion tokens / decode time; the grammar ratio compares decode time per
    completion token, grammar on / off, medians over all steps of runs B and A.
  - plan: ``Planner.forecast`` wall time, i.e. time to a validated plan, including the PNG data
    URL the profile encodes, re-asks after a malformed answer (column "att") and validation.
  After every timed decode the probe calls ``llama_synchronize``, so that on a GPU, where
  llama_decode may return before the work is done, time is charged to the phase that caused it.
  Cross-check of the image figures by difference: cold calls with a tiny text prompt, with and
  without the screenshot (max_tokens 1), on the same Llama; the difference of their wall times
  is the whole cost of the image (prep + encode + prefill), to compare with the instrumented sum
  (the difference alone cannot tell the vision tower from the LLM prefill; the wrappers can).
* Prefix cache: "reused" is the number of prompt tokens the prefix subclass skipped, "eval'd" the
  prompt text tokens decoded (from the wrapped eval calls; compared at the end with what
  Completion.reused_tokens / evaluated_tokens report). The saving is measured, run A against
  run C, step by step on identical prompts: "saved" is C minus A, medians of steps 2..N, and the
  total is the sum over steps 2..N of the per-step difference in Planner.forecast wall time. The
  next-token logits after each prompt are compared between the runs (max |difference|): the
  cached KV must give the same logits as a fresh one; for scale, the difference between two
  consecutive fresh steps (different prompts) is shown too.

The tiny pair's absolute times say nothing about a real model (its layers are a few hundred
numbers wide and its answer is scripted; it sees the same image-token counts as a real Qwen VL,
so its image figures are dominated by llama.cpp's per-token overhead). With --tiny it writes a
scripted Qwen3-VL-shaped pair to a temp dir that always answers with a valid plan.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TASK = ("In the text editor, replace every 'colour' with 'color' in notes.txt, then save the "
        "file as report-final.txt in the Documents folder")

# The answer of the tiny scripted model: a valid plan, written in the order the tracer1 prompt
# teaches (the grammar the llama backend builds accepts exactly that order).
TINY_PLAN = json.dumps({"thought": "The editor is open; open the replace dialog first.",
                        "trajectory": [
                            {"action": "hotkey", "keys": ["ctrl", "h"]},
                            {"action": "type", "text": "colour"},
                            {"action": "click", "x": 512, "y": 284, "target": "Replace All"}]})

# The steps an agent would have executed, in its history format (HistoryEntry via describe()).
SCRIPT = [
    ({"action": "click", "x": 98, "y": 61, "target": "notes.txt in the file list"}, "ok"),
    ({"action": "hotkey", "keys": ["ctrl", "h"]}, "ok"),
    ({"action": "click", "x": 455, "y": 212, "target": "Find field"}, "ok"),
    ({"action": "type", "text": "colour"}, "ok"),
    ({"action": "click", "x": 455, "y": 248, "target": "Replace field"}, "ok"),
    ({"action": "type", "text": "color"}, "ok"),
    ({"action": "click", "x": 512, "y": 284, "target": "Replace All button"},
     "ok (screen still changing)"),
    ({"action": "wait", "seconds": 1.0}, "ok"),
    ({"action": "hotkey", "keys": ["ctrl", "shift", "s"]}, "ok"),
    ({"action": "type", "text": "report-final.txt"}, "ok"),
    ({"action": "click", "x": 30, "y": 410, "target": "Documents in the sidebar"}, "ok"),
    ({"action": "click", "x": 880, "y": 930, "target": "Save button"}, "ok"),
]

TEXT = ("The colour of the interface follows the system theme. Each panel keeps its own colour "
        "settings, and the status bar shows the line, the column and the encoding. Reports are "
        "saved in the Documents folder; older versions stay in the history for thirty days. ")


# ----------------------------------------------------------------------------- screenshots


def draw_screen(width: int, height: int) -> Any:
    """A dense desktop: panel, an editor window with menu, toolbar, file list, text and status bar."""
    from PIL import Image, ImageDraw, ImageFont

    def font(size: int) -> Any:
        try:
            return ImageFont.load_default(size=size)
        except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
            return ImageFont.load_default()

    small, body, title = font(max(9, height // 80)), font(max(10, height // 72)), font(max(11, height // 60))
    img = Image.new("RGB", (width, height), (58, 82, 110))
    d = ImageDraw.Draw(img)
    bar = height // 36
    d.rectangle((0, 0, width, bar), fill=(32, 32, 36))
    for i, name in enumerate(["Activities", "Files", "Editor", "Terminal", "Browser"]):
        d.text((12 + i * width // 16, bar // 5), name, fill=(230, 230, 230), font=small)
    d.text((width - width // 9, bar // 5), "Tue 14:32   EN   100%", fill=(230, 230, 230), font=small)
    left, top, right, bottom = width // 24, bar + height // 30, width - width // 24, height - height // 20
    d.rectangle((left + 6, top + 6, right + 6, bottom + 6), fill=(30, 40, 55))  # shadow
    d.rectangle((left, top, right, bottom), fill=(250, 250, 248), outline=(120, 120, 120))
    d.rectangle((left, top, right, top + bar), fill=(225, 225, 228))
    d.text((left + 12, top + bar // 5), "notes.txt - ~/Documents - Text Editor", fill=(20, 20, 20),
           font=title)
    for i, color in enumerate([(237, 106, 94), (245, 191, 79), (98, 197, 84)]):
        cx = right - 20 - i * 24
        d.ellipse((cx - 7, top + bar // 2 - 7, cx + 7, top + bar // 2 + 7), fill=color)
    y = top + bar + 4
    for i, name in enumerate(["File", "Edit", "View", "Search", "Tools", "Documents", "Help"]):
        d.text((left + 12 + i * width // 22, y), name, fill=(30, 30, 30), font=body)
    y += bar
    for i in range(14):  # toolbar buttons with labels
        x = left + 10 + i * width // 15
        d.rounded_rectangle((x, y, x + width // 17, y + bar), 4, fill=(236, 236, 240),
                            outline=(170, 170, 175))
        d.text((x + 8, y + bar // 5), ["New", "Open", "Save", "Print", "Undo", "Redo", "Cut",
                                       "Copy", "Paste", "Find", "Replace", "Bold", "Italic",
                                       "Spell"][i], fill=(40, 40, 40), font=small)
    y += bar + 8
    side = left + width // 7
    d.rectangle((left, y, side, bottom - bar), fill=(242, 243, 246))
    line = max(12, height // 62)
    files = ["notes", "report", "draft", "todo", "budget", "minutes"]
    for i in range((bottom - bar - y) // line - 1):
        name = f"{'  ' * (i % 3)}{files[i % 6]}-{2020 + i % 7}.txt"
        d.text((left + 14, y + 4 + i * line), name, fill=(50, 50, 60), font=small)
    words = (TEXT * 40).split()
    chars = max(40, (right - side - 80) // max(6, line // 2))
    pos = 0
    for i in range((bottom - bar - y) // line - 1):
        yy = y + 4 + i * line
        d.text((side + 8, yy), f"{i + 1:>4}", fill=(150, 150, 150), font=body)
        text, n = "", 0
        while pos + n < len(words) and len(text) + len(words[pos + n]) + 1 < chars - (i % 5) * 7:
            text += words[pos + n] + " "
            n += 1
        pos = (pos + n) % (len(words) - 50)
        d.text((side + 60, yy), text, fill=(25, 25, 25), font=body)
    d.rectangle((left, bottom - bar, right, bottom), fill=(228, 228, 232))
    d.text((left + 12, bottom - bar + bar // 5), "Plain Text   Tab Width: 4   UTF-8   INS",
           fill=(40, 40, 40), font=small)
    return img


def step_screen(base: Any, step: int) -> Any:
    """The screen at a step: the base with the caret line and the status bar moved on."""
    from PIL import ImageDraw

    img = base.copy()
    d = ImageDraw.Draw(img)
    w, h = img.size
    y = h // 5 + step * (h // 40)
    d.rectangle((w // 5, y, w - w // 20, y + h // 62), outline=(60, 120, 220), width=2)
    d.rectangle((w - w // 4, h - h // 20 - h // 36 + 2, w - w // 20, h - h // 20 - 2), fill=(228, 228, 232))
    d.text((w - w // 4 + 8, h - h // 20 - h // 36 + 6), f"Ln {12 + step * 7}, Col {3 + step}",
           fill=(40, 40, 40))
    return img


# ----------------------------------------------------------------------------- instrumentation


@dataclass
class Call:
    """One backend.complete call, split into the phases the handler goes through."""

    started: float = 0.0
    wall: float = 0.0
    prep: float = 0.0  # PNG decode + mtmd_tokenize
    text_eval: float = 0.0
    text_evaluated: int = 0
    reused: int = 0
    image_encode: float = 0.0
    image_prefill: float = 0.0
    image_tokens: int = 0
    image_pos: int = 0
    image_grid: tuple[int, int] = (0, 0)
    prompt_end: float = 0.0
    grammar: float = 0.0
    decode: float = 0.0
    gen_evaluated: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported_reused: int = 0
    reported_evaluated: int = 0
    text: str = ""
    logits: Any = None

    @property
    def prompt(self) -> float:
        return self.prompt_end - self.started if self.prompt_end else 0.0


class Probe:
    """Times the phases of LlamaBackend.complete by wrapping what llama-cpp-python's MTMD handler
    calls (see the module docstring). Patches are undone by ``restore``."""

    def __init__(self, backend: Any, keep_logits: bool = True) -> None:
        import llama_cpp.llama_chat_format as chat_format
        import llama_cpp.mtmd_cpp as mtmd

        self.backend, self.llm, self.mtmd = backend, backend.llm, mtmd
        self.calls: list[Call] = []
        self.current: Call | None = None
        self.generating = False
        self.keep_logits = keep_logits
        self._undo: list[Callable[[], None]] = []
        handler = self.llm.chat_handler
        import llama_cpp

        ctx = self.llm._ctx.ctx
        self.sync = lambda: llama_cpp.llama_synchronize(ctx)  # GPU decodes may return early
        self._split_image = all(hasattr(mtmd, n) for n in (
            "mtmd_encode_chunk", "mtmd_get_output_embd", "mtmd_helper_decode_image_chunk"))

        self._patch(backend, "complete", self._complete)
        self._patch(handler, "_create_bitmap_from_bytes", self._timed_prep)
        self._patch(mtmd, "mtmd_tokenize", self._timed_prep)
        self._patch(mtmd, "mtmd_helper_eval_chunk_single", self._eval_chunk)
        self._patch(self.llm, "eval", self._eval)
        self._patch(self.llm, "create_completion", self._create_completion)
        self._patch(chat_format, "_grammar_for_response_format", self._grammar)

    def _patch(self, owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
        original = getattr(owner, name)
        had_own = name in vars(owner)
        setattr(owner, name, make(original))

        def undo() -> None:
            if had_own:  # a module function or an attribute of the object itself
                setattr(owner, name, original)
            else:  # an instance attribute shadowing the class's method
                delattr(owner, name)

        self._undo.append(undo)

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- wrappers (each takes the original and returns the replacement)

    def _complete(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def complete(messages: Any, schema: Any = None) -> Any:
            call = self.current = Call(started=time.perf_counter())
            self.generating = False
            try:
                completion = original(messages, schema)
            finally:
                call.wall = time.perf_counter() - call.started
                self.current = None
                self.calls.append(call)
            call.prompt_tokens, call.completion_tokens = (completion.prompt_tokens,
                                                          completion.completion_tokens)
            call.reported_reused = completion.reused_tokens
            call.reported_evaluated = completion.evaluated_tokens
            call.text = completion.text
            return completion
        return complete

    def _timed_prep(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args)
            finally:
                if self.current:
                    self.current.prep += time.perf_counter() - start
        return timed

    def _eval(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def evaluate(tokens: Any) -> Any:
            call, llm = self.current, self.llm
            before_eval, before_reused = llm.evaluated_tokens, llm.reused_tokens
            start = time.perf_counter()
            result = original(tokens)
            self.sync()
            end = time.perf_counter()
            if call is not None:
                done = llm.evaluated_tokens - before_eval
                if self.generating:
                    call.gen_evaluated += done
                else:
                    call.text_eval += end - start
                    call.text_evaluated += done
                    call.reused += llm.reused_tokens - before_reused
                    call.prompt_end = end
            return result
        return evaluate

    def _eval_chunk(self, original: Callable[..., Any]) -> Callable[..., Any]:
        mtmd = self.mtmd
        no_callback = (ctypes.cast(None, mtmd.mtmd_helper_post_decode_callback)
                       if self._split_image else None)

        def eval_chunk(ctx: Any, lctx: Any, chunk: Any, n_past: Any, seq_id: Any, n_batch: Any,
                       logits_last: Any, new_n_past: Any) -> int:
            call = self.current
            kind = mtmd.mtmd_input_chunk_get_type(chunk)
            if call is None or kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                return original(ctx, lctx, chunk, n_past, seq_id, n_batch, logits_last, new_n_past)
            call.image_tokens += mtmd.mtmd_input_chunk_get_n_tokens(chunk)
            call.image_pos += mtmd.mtmd_input_chunk_get_n_pos(chunk)
            image = mtmd.mtmd_input_chunk_get_tokens_image(chunk)
            if image:
                call.image_grid = (mtmd.mtmd_image_tokens_get_nx(image),
                                   mtmd.mtmd_image_tokens_get_ny(image))
            start = time.perf_counter()
            if not self._split_image:  # older bindings: time the whole chunk as "encode"
                result = original(ctx, lctx, chunk, n_past, seq_id, n_batch, logits_last, new_n_past)
                self.sync()
                call.image_encode += time.perf_counter() - start
                call.prompt_end = time.perf_counter()
                return result
            # What mtmd_helper_eval_chunk_single does for an image chunk, in two timed halves.
            result = mtmd.mtmd_encode_chunk(ctx, chunk)
            encoded = time.perf_counter()
            call.image_encode += encoded - start
            if result != 0:
                return result
            embd = mtmd.mtmd_get_output_embd(ctx)
            result = mtmd.mtmd_helper_decode_image_chunk(ctx, lctx, chunk, embd, n_past, seq_id,
                                                         n_batch, new_n_past, no_callback, None)
            self.sync()
            call.prompt_end = time.perf_counter()
            call.image_prefill += call.prompt_end - encoded
            return result
        return eval_chunk

    def _grammar(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def grammar(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.current:
                    self.current.grammar += time.perf_counter() - start
        return grammar

    def _create_completion(self, original: Callable[..., Any]) -> Callable[..., Any]:
        import numpy as np

        def create_completion(*args: Any, **kwargs: Any) -> Any:
            call = self.current
            if call is not None and self.keep_logits and call.logits is None:
                n_vocab = self.llm.n_vocab()
                call.logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(),
                                                    shape=(n_vocab,)).copy()
            self.generating = True
            start = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                if call is not None:
                    call.decode += time.perf_counter() - start
                self.generating = False
            if kwargs.get("stream"):  # the tokens come as the caller reads them: time that
                return self._timed_stream(call, result)
            return result
        return create_completion

    def _timed_stream(self, call: Call | None, chunks: Any) -> Any:
        """A streamed completion's chunks, the time spent producing them counted as decode."""
        while True:
            self.generating = True
            start = time.perf_counter()
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                if call is not None:
                    call.decode += time.perf_counter() - start
                self.generating = False
            yield chunk


def forget(llm: Any) -> None:
    """Empty the KV cache as stock llama-cpp-python does before every prompt (the prefix
    subclass replaced the context's kv_cache_clear with a no-op; call the real one)."""
    llm.n_tokens = 0
    type(llm._ctx).kv_cache_clear(llm._ctx)


# ----------------------------------------------------------------------------- runs


@dataclass
class Step:
    number: int
    history: int
    calls: list[Call]
    wall: float
    ok: bool
    error: str = ""

    def total(self, name: str) -> float:
        return sum(getattr(c, name) for c in self.calls)

    @property
    def first(self) -> Call:
        return self.calls[0]


@dataclass
class Run:
    label: str
    grammar: bool
    cache: bool
    steps: list[Step] = field(default_factory=list)


def forecast_step(planner: Any, probe: Probe, request: Any, number: int) -> Step:
    from tracer_cli.agent.planner import ForecastFailed

    probe.calls.clear()
    start = time.perf_counter()
    ok, error = True, ""
    try:
        planner.forecast(request)
    except ForecastFailed as exc:
        ok, error = False, exc.message
    wall = time.perf_counter() - start
    return Step(number, len(request.history), list(probe.calls), wall, ok, error)


def run_steps(run: Run, planner: Any, probe: Probe, requests: list[Any]) -> Run:
    backend = planner.backend
    backend.grammar = run.grammar
    forget(backend.llm)
    for number, request in enumerate(requests, 1):
        if not run.cache:
            forget(backend.llm)
        run.steps.append(forecast_step(planner, probe, request, number))
    return run


def image_by_difference(llm: Any, url: str, repeats: int = 2) -> float:
    """Wall time of a cold tiny-text call with the screenshot minus one without (min of repeats)."""
    text = {"type": "text", "text": "Reply with OK."}
    with_image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, text]}]
    without = [{"role": "user", "content": [text]}]
    best = {0: float("inf"), 1: float("inf")}
    for _ in range(repeats):
        for key, messages in ((0, without), (1, with_image)):
            forget(llm)
            start = time.perf_counter()
            llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)
            best[key] = min(best[key], time.perf_counter() - start)
    return best[1] - best[0]


# ----------------------------------------------------------------------------- output


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


COLUMNS = [("step", 4), ("hist", 5), ("text", 6), ("reused", 7), ("eval'd", 7), ("text ms", 9),
           ("img enc", 9), ("img fill", 9), ("prompt", 9), ("gram", 7), ("out", 5),
           ("decode", 9), ("tok/s", 8), ("plan ms", 9), ("att", 4), ("ok", 4)]


def print_run(run: Run) -> None:
    print(f"\n{run.label}")
    print("".join(f"{name:>{width}}" for name, width in COLUMNS))
    for s in run.steps:
        out = s.total("completion_tokens")
        decode = s.total("decode")
        values = [s.number, s.history, s.total("reused") + s.total("text_evaluated"), s.total("reused"),
                  s.total("text_evaluated"), ms(s.total("text_eval")), ms(s.total("image_encode")),
                  ms(s.total("image_prefill")), ms(s.total("prompt")), ms(s.total("grammar")), out,
                  ms(decode), f"{out / decode:.1f}" if decode else "-", ms(s.wall), len(s.calls),
                  "yes" if s.ok else "NO"]
        print("".join(f"{v!s:>{w}}" for v, (_, w) in zip(values, COLUMNS, strict=True)))
    for s in run.steps:
        if not s.ok:
            print(f"  step {s.number}: no valid plan: {s.error}")


def per_token(run: Run) -> list[float]:
    return [c.decode / c.completion_tokens for s in run.steps for c in s.calls if c.completion_tokens]


def print_summary(a: Run, b: Run, c: Run) -> None:
    later = slice(1, None)
    print("\ngrammar (runs A and B, all steps)       off          on       on/off")
    rows = [
        ("decode ms per completion token", [1000 * v for v in per_token(a)],
         [1000 * v for v in per_token(b)]),
        ("decode tokens/s", [1 / v for v in per_token(a)], [1 / v for v in per_token(b)]),
        ("completion tokens per forecast", [s.total("completion_tokens") for s in a.steps],
         [s.total("completion_tokens") for s in b.steps]),
        ("grammar build ms per call", [1000 * cl.grammar for s in a.steps for cl in s.calls],
         [1000 * cl.grammar for s in b.steps for cl in s.calls]),
        ("decode ms per forecast", [1000 * s.total("decode") for s in a.steps],
         [1000 * s.total("decode") for s in b.steps]),
        ("time to validated plan, ms", [1000 * s.wall for s in a.steps if s.ok],
         [1000 * s.wall for s in b.steps if s.ok]),
    ]
    for name, off, on in rows:
        x, y = med(off), med(on)
        ratio = f"{y / x:.2f}x" if x and x == x and y == y else "-"
        print(f"  {name:<36}{x:>9.1f}{y:>12.1f}{ratio:>11}")
    print(f"  valid plans: grammar off {sum(s.ok for s in a.steps)}/{len(a.steps)}, "
          f"on {sum(s.ok for s in b.steps)}/{len(b.steps)}; attempts: off "
          f"{sum(len(s.calls) for s in a.steps)}, on {sum(len(s.calls) for s in b.steps)}")

    if len(a.steps) < 2:
        print("\nprefix cache: needs --runs 2 or more (step 1 has nothing cached)")
        return
    print("\nprefix cache (run A cache on vs run C cache off, grammar off)")
    print(f"  {'':<36}{'step 1 on':>10}{'step 1 off':>11}{'2..N on':>10}{'2..N off':>10}"
          f"{'saved':>9}")

    def line(name: str, get: Callable[[Step], float], scale: float = 1000.0, fmt: str = ".1f",
             saved: bool = True) -> None:
        a1, c1 = get(a.steps[0]) * scale, get(c.steps[0]) * scale
        an = med([get(s) * scale for s in a.steps[later]])
        cn = med([get(s) * scale for s in c.steps[later]])
        gain = f"{cn - an:>9{fmt}}" if saved else ""
        print(f"  {name:<36}{a1:>10{fmt}}{c1:>11{fmt}}{an:>10{fmt}}{cn:>10{fmt}}{gain}")

    line("reused prompt tokens", lambda s: s.total("reused"), 1, ".0f", saved=False)
    line("prompt text tokens evaluated", lambda s: s.total("text_evaluated"), 1, ".0f")
    line("text eval ms", lambda s: s.total("text_eval"))
    line("prompt ms (prep+text+image)", lambda s: s.total("prompt"))
    line("time to validated plan, ms", lambda s: s.wall)
    saved = sum(cs.wall - as_.wall for as_, cs in zip(a.steps[later], c.steps[later], strict=True))
    base = sum(cs.wall for cs in c.steps[later])
    text_saved = sum(cs.total("text_eval") - as_.total("text_eval")
                     for as_, cs in zip(a.steps[later], c.steps[later], strict=True))
    print(f"  steps 2..{len(a.steps)}: {saved:.3f} s saved of {base:.3f} s "
          f"({100 * saved / base:.1f}% of planning time); text eval alone {text_saved:.3f} s")
    diffs = []
    for run in (a, b):
        for s, cs in zip(run.steps, c.steps, strict=True):
            if s.first.logits is not None and cs.first.logits is not None:
                diffs.append((float(abs(s.first.logits - cs.first.logits).max()),
                              int(s.first.logits.argmax()) == int(cs.first.logits.argmax())))
    if diffs:
        scale = [float(abs(x.first.logits - y.first.logits).max())
                 for x, y in zip(c.steps, c.steps[1:], strict=False)
                 if x.first.logits is not None and y.first.logits is not None]
        print(f"  next-token logits after the prompt, cached (A, B) vs fresh (C), same step: "
              f"max |diff| {max(d for d, _ in diffs):.3g}, same argmax {sum(x for _, x in diffs)}"
              f"/{len(diffs)}")
        if scale:
            print(f"    for scale, fresh logits of consecutive steps (different prompts) differ by up "
                  f"to {max(scale):.3g}" + (" (0: this model's logits ignore the context, so the "
                                             "check proves little here)" if max(scale) == 0 else ""))
    same = sum(s.first.text == cs.first.text for s, cs in zip(a.steps, c.steps, strict=True))
    print(f"  answers of A equal to C's: {same}/{len(a.steps)}")


def check_counts(runs: list[Run]) -> None:
    """Compare what the backend reports (Completion) with what the probe saw."""
    calls = [c for run in runs for s in run.steps for c in s.calls]
    reused = sum(c.reported_reused != c.reused for c in calls)
    evaluated = sum(c.reported_evaluated != c.text_evaluated for c in calls)
    generated = sum(c.reported_evaluated == c.text_evaluated + c.gen_evaluated != c.text_evaluated
                    for c in calls)
    print(f"\nbackend counts vs probe ({len(calls)} calls): Completion.reused_tokens differs from the "
          f"tokens skipped in {reused};")
    print(f"  Completion.evaluated_tokens differs from the prompt text tokens decoded in {evaluated}"
          + (f" ({generated} of them by exactly the generated tokens fed back while decoding)"
             if evaluated else ""))


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="the language model .gguf")
    which.add_argument("--tiny", action="store_true", help="make and use the tiny test pair")
    parser.add_argument("--mmproj", help="its vision projector .gguf (with --model)")
    parser.add_argument("--tiny-arch", default="qwen3vl", choices=("qwen2vl", "qwen3vl"))
    parser.add_argument("--runs", type=int, default=5, help="agent steps per run (step 1 + N-1)")
    parser.add_argument("--size", default="1920x1080", help="screenshot size before downscaling")
    parser.add_argument("--max-pixels", type=int, default=0,
                        help="image budget (default 0: the profile's, just over 1024 tokens)")
    parser.add_argument("--threads", type=int, default=0, help="0: tracer's default")
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--gpu-layers", default="auto")
    parser.add_argument("--display", help="capture this X display instead of drawing a screen")
    args = parser.parse_args()
    if args.model and not args.mmproj:
        parser.error("--model needs --mmproj")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="tracer-bench-") as tmp:
        os.environ["TRACER_HOME"] = str(Path(tmp) / "home")  # no user config can leak in
        if args.tiny:
            from tests.tinyvlm import make_tiny_vlm

            model, mmproj = make_tiny_vlm(Path(tmp), answers=[TINY_PLAN], arch=args.tiny_arch)
        else:
            model, mmproj = Path(args.model), Path(args.mmproj)
        run(args, model, mmproj)


@contextmanager
def timer() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    yield box
    box.append(time.perf_counter() - start)


def screenshots(args: argparse.Namespace, settings: Any) -> tuple[list[Any], str]:
    from tracer_cli.desktop.screen import downscale

    width, height = (int(v) for v in args.size.split("x"))
    if args.display:
        from tracer_cli.desktop.platform import choose

        screen = choose("auto", args.display).open_screen(settings.monitor)
        raw = [screen.capture().image for _ in range(args.runs)]  # captured once, reused by all runs
        screen.close()
        source = f"display {args.display} ({raw[0].width}x{raw[0].height})"
    else:
        base = draw_screen(width, height)
        raw = [step_screen(base, i) for i in range(args.runs)]
        source = f"synthetic {width}x{height} editor screen"
    from tracer_cli.agent.profiles.geometry import QWEN3_VL  # the tracer1 profile's geometry

    return [downscale(im, QWEN3_VL.size(*im.size, settings.max_pixels)) for im in raw], source


def run(args: argparse.Namespace, model: Path, mmproj: Path) -> None:
    from tracer_cli.agent.planner import Planner
    from tracer_cli.agent.profiles import HistoryEntry, PlanRequest
    from tracer_cli.agent.profiles.tracer1 import Tracer1Profile
    from tracer_cli.config import Settings
    from tracer_cli.desktop.screen import data_url
    from tracer_cli.plan import parse_plan

    settings = Settings(backend="llama", model=str(model), mmproj=str(mmproj), context=args.context,
                        threads=args.threads, max_pixels=args.max_pixels, gpu_layers=args.gpu_layers,
                        grammar=False)
    profile = Tracer1Profile()
    images, source = screenshots(args, settings)
    url_times = []
    for im in images:
        with timer() as t:
            data_url(im, settings.image_format)
        url_times.append(t[0])
    history = [HistoryEntry(i + 1, parse_plan(json.dumps({"thought": "", "trajectory": [step]}), 1)
                            .trajectory[0].describe(), outcome)
               for i, (step, outcome) in enumerate(SCRIPT * (1 + args.runs // len(SCRIPT)))]
    requests = [PlanRequest(TASK, images[i], settings.horizon,
                            history[:i][-settings.history:] if settings.history else [],
                            settings.image_format)
                for i in range(args.runs)]

    with timer() as t_import:
        import llama_cpp  # noqa: F401
        import llama_cpp.llama_chat_format as chat_format

        from tracer_cli.agent.backends.llama import LlamaBackend
    projector: list[float] = []
    original_init = chat_format.MTMDChatHandler._init_mtmd_context

    def timed_init(self: Any, llama_model: Any) -> None:
        start = time.perf_counter()
        try:
            original_init(self, llama_model)
        finally:
            projector.append(time.perf_counter() - start)

    chat_format.MTMDChatHandler._init_mtmd_context = timed_init  # type: ignore[method-assign]
    try:
        with timer() as t_load:
            backend = LlamaBackend(settings)
    finally:
        chat_format.MTMDChatHandler._init_mtmd_context = original_init  # type: ignore[method-assign]
    llm = backend.llm
    planner = Planner(backend, profile, retries=settings.answer_retries)
    probe = Probe(backend)
    try:
        first = forecast_step(planner, probe, requests[0], 1)
        by_difference = image_by_difference(llm, data_url(images[0], settings.image_format))
        runs = [
            run_steps(Run("A: prefix cache on, grammar off", False, True), planner, probe, requests),
            run_steps(Run("B: prefix cache on, grammar on", True, True), planner, probe, requests),
            run_steps(Run("C: prefix cache off (KV cleared before each call), grammar off", False,
                          False), planner, probe, requests),
        ]
        threads, n_ctx = llm.n_threads, llm.n_ctx()
    finally:
        probe.restore()
        backend.close()

    runs.insert(0, Run("first forecast after load (step 1, prefix cache on, grammar off)", False, True,
                       [first]))
    image = images[0]
    print(f"llama step benchmark: {model.name} + {mmproj.name}" + ("  (tiny test pair: absolute times "
          "mean nothing for a real model)" if args.tiny else ""))
    print(f"{source} -> model image {image.width}x{image.height} (max pixels "
          f"{settings.max_pixels or 'default'}, factor 32); threads {threads}, context {n_ctx}, "
          f"gpu layers {settings.gpu_layers}; {args.runs} steps per run; llama-cpp-python "
          f"{sys.modules['llama_cpp'].__version__}")
    print("\nload                                          ms")
    print(f"  import llama_cpp (not in load)      {ms(t_import[0]):>12}")
    print(f"  model (llama.cpp load + context)    {ms(t_load[0] - sum(projector)):>12}")
    print(f"  projector (mtmd init + warm-up)     {ms(sum(projector)):>12}")
    print(f"  load total, until a call can start  {ms(t_load[0]):>12}")
    print(f"  first forecast after load (step 1)  {ms(first.wall):>12}   (a later cold step 1: "
          f"{ms(runs[1].steps[0].wall)}; phases below)")

    calls = [c for r in runs for s in r.steps for c in s.calls]
    c0 = calls[0]
    enc = [c.image_encode for c in calls]
    fill = [c.image_prefill for c in calls]
    prep = [c.prep for c in calls]
    print(f"\nimage (median of {len(calls)} calls)                ms")
    print(f"  image tokens                        {c0.image_tokens:>12}   (grid {c0.image_grid[0]}x"
          f"{c0.image_grid[1]}, {c0.image_pos} M-RoPE positions in usage.prompt_tokens)")
    print(f"  PNG data URL encode (profile)       {ms(med(url_times)):>12}")
    print(f"  prep: PNG decode + mtmd_tokenize    {ms(med(prep)):>12}")
    print(f"  encode: vision tower + projector    {ms(med(enc)):>12}   "
          f"({med(enc) * 1000 / max(1, c0.image_tokens):.3f} ms per image token)")
    print(f"  prefill of image embeddings in LLM  {ms(med(fill)):>12}")
    print(f"  sum                                 {ms(med(prep) + med(enc) + med(fill)):>12}   "
          f"(by difference, image call - text call: {ms(by_difference)})")

    for r in runs:
        print_run(r)
    print("  columns: hist = history entries sent; text = prompt text tokens (reused + eval'd); "
          "ms columns: text eval,\n  image encode, image prefill, whole prompt, grammar build, "
          "decode; out = completion tokens; plan ms = Planner.forecast wall\n  (time to a validated "
          "plan); att = model calls (re-asks after malformed answers).")
    print_summary(*runs[1:])
    check_counts(runs)


if __name__ == "__main__":
    main()
