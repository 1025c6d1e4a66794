"""Benchmark: how long after the screenshot the first input event comes, and what a whole click
step takes, before and after each change of issue 22: the prefix cache across runs (cold,
warm), the forecast's first step run while the answer streams (``stream_first``), and a click
placed by what the screen shows instead of a zoom turn (``ground_on_screen``).

    python -m tests.benchmarks.first_event [--dir DIR] [--size 2b] [--zoom] [--dialog] [--json OUT]
    python -m tests.benchmarks.first_event --tiny      # the tests' tiny pair: checks the script

Each case is one real ``tracer do "click OK" --max-steps 1 --profile qwen3-vl`` with the llama
backend on the full-size Qwen3-VL stand-in (tests/benchmarks/standin.py: the real model's shapes
and cost, random weights) on a 1920x1080 Xvfb of its own, at tracer's CPU defaults (512 image
tokens; ``--zoom`` for its zoom turns too; ``--dialog`` shows a Tk dialog whose OK button
stands at the answer's point, so that its text can be read there). Random weights write no
valid answer, so the child process that runs tracer forces the sampler to pick the tokens of
ANSWER (a click, then two more steps, as a Qwen3-VL forecast is written), and of ZOOM_ANSWER
for a zoom turn (one call at the crop's centre): every token is still computed by the model,
only the choice among them is fixed.

Cases, in this order, each a process of its own (its model load is its own; CASES):
  cold cache, streaming off, on-screen grounding off   as before issue 22
  warm cache (the run before wrote it), then streaming on, then on-screen grounding on
  cold cache with everything on                         a run's first with these instructions
Figures, from the run record: ``first_input_ms`` (the screenshot to the first input event);
the click done (from the screenshot to the end of its settle and check: the model call goes on
meanwhile when the step started while the answer streamed); the answer's end (the screenshot to
the end of the model call: the rest of the forecast, which the next step needs); what placed
the click (the planner's point, a zoom turn, the text read there) and what that took (a zoom
turn, or the read); and the prompt tokens loaded from the cache.

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
# (prefix cache, stream_first, ground_on_screen): today's defaults before each change, then
# each change added (a cold cache is a run's first with these instructions)
ZOOM_ANSWER = ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
               '"coordinate": [500, 500]}}\n</tool_call>')
CASES = [("cold", False, False), ("warm", False, False), ("warm", True, False), ("warm", True, True),
         ("cold", True, True)]
DIALOG = """
import tkinter as tk
root = tk.Tk()
root.title("dialog")
root.geometry("420x200+750+440")  # the OK button's centre at (960, 540): the answer's point
question = tk.Label(root, text="Save the changes to notes-0.txt?", font=("DejaVu Sans", 13))
question.place(x=210, y=45, anchor="center")
clicks = [0]

def pressed():  # each run's screenshot differs from the last (a server cannot reuse its image)
    clicks[0] += 1
    question.configure(text=f"Save the changes to notes-{clicks[0]}.txt?")

tk.Button(root, text="OK", font=("DejaVu Sans", 13), width=8, command=pressed).place(
    x=210, y=100, anchor="center")
root.mainloop()
"""


def force_answer(choose: Any) -> None:
    """Make every llama.cpp answer of this process the text ``choose()`` returns when the answer
    starts: the sampler returns its tokens in order (then end-of-sequence), while the model
    still computes each of them."""
    from llama_cpp import Llama

    state: dict[str, Any] = {}
    create, sample = Llama.create_completion, Llama.sample

    def create_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        # special=False: the tags stay text, as Qwen's <tool_call> (an added token that is not a
        # control token) is written in a real model's answer; the stand-in's vocabulary marks
        # them control tokens, which the answer would not show
        state["tokens"] = self.tokenize(choose().encode(), add_bos=False, special=False)
        state["next"] = 0
        return create(self, *args, **kwargs)

    def forced(self: Any, *args: Any, **kwargs: Any) -> int:
        sample(self, *args, **kwargs)  # the sampler's own work, then the forced choice
        tokens, index = state["tokens"], state["next"]
        state["next"] = index + 1
        return tokens[index] if index < len(tokens) else self.token_eos()

    Llama.create_completion, Llama.sample = create_completion, forced


def child(argv: list[str]) -> int:
    """tracer itself, its first answer ANSWER and any later one (a zoom turn) ZOOM_ANSWER."""
    calls = iter(range(1 << 30))
    force_answer(lambda: ANSWER if next(calls) == 0 else ZOOM_ANSWER)
    from tracer_cli.cli.app import main as tracer

    sys.argv = ["tracer", *argv]
    try:
        tracer()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def server(spec: str) -> int:
    """An OpenAI-compatible server on 127.0.0.1 that streams: tracer's llama backend with the
    stand-in behind /v1/chat/completions (server-sent events when asked to stream), answering
    ANSWER to a plan and ZOOM_ANSWER to a zoom turn. Writes its port to stdout."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tracer_cli.agent.backends.llama import LlamaBackend
    from tracer_cli.config import Settings

    config = json.loads(spec)
    zoom_words = "Left-click its target on this image"
    asked = {"messages": ""}
    force_answer(lambda: ZOOM_ANSWER if zoom_words in asked["messages"] else ANSWER)
    backend = LlamaBackend(Settings(backend="llama", model=config["model"], mmproj=config["mmproj"],
                                    context=8192))
    lock = threading.Lock()  # one model: one answer at a time

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._json({"object": "list", "data": [{"id": "standin", "object": "model"}]})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            messages = body["messages"]
            with lock:
                asked["messages"] = json.dumps(messages[-1:])
                if not body.get("stream"):
                    done = backend.complete(messages)
                    self._json({"id": "x", "object": "chat.completion", "model": "standin",
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": done.text}}]})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                sent = {"n": 0}

                def event(delta: dict[str, Any], finish: str | None = None) -> None:
                    chunk = {"id": "x", "object": "chat.completion.chunk", "model": "standin",
                             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                def on_text(so_far: str) -> None:
                    if len(so_far) > sent["n"]:
                        event({"content": so_far[sent["n"]:]})
                        sent["n"] = len(so_far)

                event({"role": "assistant", "content": ""})
                done = backend.complete(messages, None, on_text)
                on_text(done.text)
                event({}, "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()
    return 0


def xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        return proc, ":" + reader.readline().strip()


def case(model_args: list[str], home: Path, display: str, stream: bool, zoom: bool,
         extra: list[str], on_screen: bool = False) -> dict[str, Any]:
    env = {**os.environ, "DISPLAY": display, "TRACER_HOME": str(home),
           "TRACER_STREAM_FIRST": "1" if stream else "0",
           "TRACER_GROUND_ON_SCREEN": "1" if on_screen else "0"}
    args = ["do", "click OK", "--yes", "--max-steps", "1", "--profile", "qwen3-vl", *model_args,
            "--zoom" if zoom else "--no-zoom", *extra]
    done = subprocess.run([sys.executable, "-m", "tests.benchmarks.first_event", "--child",
                           json.dumps(args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    runs = sorted((home / "runs").iterdir())
    lines = (runs[-1] / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[0])
    timings = step.get("timings", {})
    attempt = (step.get("attempts") or [{}])[0]
    # the click done: from the screenshot to its input, then acted, settled and checked (the
    # model call goes on meanwhile when the step started while the answer streamed); the
    # answer's end: from the screenshot to the model call's end
    first = step.get("first_input_ms", 0) / 1000
    after = sum(timings.get(k, 0) for k in ("act", "settle", "check"))
    clicked = first + after if step.get("streamed") else sum(timings.values())
    return {"exit": done.returncode, "streamed": bool(step.get("streamed")),
            "click_done_s": clicked,
            "answer_end_s": timings.get("capture", 0) + timings.get("model", 0),
            "placed_by": (step.get("grounding") or {}).get("by")
            or ("zoom" if "zoom" in (step.get("grounding") or {}) else "planner"),
            "first_input_s": first,
            "model_s": timings.get("model", 0), "ground_s": timings.get("ground", 0),
            "from_disk": attempt.get("prefix_from_disk", 0),
            "prompt_tokens": attempt.get("prompt_tokens", 0),
            "last_line": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""}


def through_server(model: Path, mmproj: Path, work: Path, display: str, zoom: bool,
                   extra: list[str]) -> list[dict[str, Any]]:
    """The cases through the stand-in served over the OpenAI API (server()), after one run
    that is not counted: a server that has answered before holds the instructions in its cache."""
    spec = json.dumps({"model": str(model), "mmproj": str(mmproj)})
    proc = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.first_event", "--serve", spec],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        if not port:
            raise SystemExit("the benchmark's server did not start")
        served = ["--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
                  "--model", "standin"]
        at = extra.index("--context")
        rest = extra[:at] + extra[at + 2:]  # the server's model has its own context
        out = []
        for number, (stream, on_screen) in enumerate([(False, False), (False, False), (True, False),
                                                      (True, True)]):
            print(f"-- server, streaming {'on' if stream else 'off'}, on-screen grounding "
                  f"{'on' if on_screen else 'off'}{' (warm-up)' if number == 0 else ''}",
                  file=sys.stderr, flush=True)
            result = case(served, work / f"home-server-{number}", display, stream, zoom, rest,
                          on_screen)
            print(f"   {result}", file=sys.stderr, flush=True)
            if number:
                out.append({"cache": "server", "stream_first": stream,
                            "ground_on_screen": on_screen, **result})
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the stand-in lives")
    parser.add_argument("--size", default="2b", choices=("2b", "4b"))
    parser.add_argument("--zoom", action="store_true", help="tracer's default: zoom turns on")
    parser.add_argument("--dialog", action="store_true", help="show a Tk dialog whose OK button "
                        "stands at the answer's point (its text can be read there)")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny model pair instead")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--cases", choices=("all", "ends"), default="all", help="ends: only the "
                        "first case (as before issue 22) and the warm one with everything on")
    parser.add_argument("--server", action="store_true", help="also the same through an "
                        "OpenAI-compatible server that streams (the stand-in behind HTTP)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if args.serve:
        return server(args.serve)

    work = Path(tempfile.mkdtemp(prefix="tracer-first-event-"))
    if args.tiny:
        from tests.tinyvlm import make_tiny_vlm

        model, mmproj = make_tiny_vlm(work / "tiny", [ANSWER], arch="qwen3vl")
        extra = ["--context", "8192", "--max-tokens", "1500",
                 *(["--max-pixels", "150000"] if args.zoom else [])]  # under its grounding minimum
    else:
        from tests.benchmarks.standin import build

        model, mmproj = build(args.dir, args.size, "Q4_K_M", "f16")
        # the catalogue's CPU budget for a Qwen3-VL (512 image tokens): a model given by path
        # would get the profile's default budget instead
        extra = ["--context", "8192", "--max-pixels", str(512 * 32 * 32)]
    proc, display = xvfb()
    dialog = subprocess.Popen([sys.executable, "-c", DIALOG], env={**os.environ, "DISPLAY": display}) \
        if args.dialog else None
    results = []
    try:
        for number, (warmth, stream, on_screen) in enumerate(CASES):
            if args.cases == "ends" and number not in (0, 3):
                continue
            # warm cases share the first case's home (its prefix cache); a cold one has its own
            home = work / ("home-0" if warmth == "warm" else f"home-{number}")
            print(f"-- {warmth}, streaming {'on' if stream else 'off'}, on-screen grounding "
                  f"{'on' if on_screen else 'off'}", file=sys.stderr, flush=True)
            result = case(["--backend", "llama", "--model", str(model), "--mmproj", str(mmproj)],
                          home, display, stream, args.zoom, extra, on_screen)
            results.append({"cache": warmth, "stream_first": stream, "ground_on_screen": on_screen,
                            **result})
            print(f"   {result}", file=sys.stderr, flush=True)
        if args.server:
            results += through_server(model, mmproj, work, display, args.zoom, extra)
    finally:
        if dialog is not None:
            dialog.terminate()
            dialog.wait(timeout=10)
        proc.terminate()
        proc.wait(timeout=10)
    print("| prefix cache | streaming first step | on-screen grounding | click placed by | "
          "first input event s | click done s | answer ended s | zoom turn s | tokens from disk / "
          "prompt | started while streaming |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['cache']} | {'on' if r['stream_first'] else 'off'} | "
              f"{'on' if r['ground_on_screen'] else 'off'} | {r['placed_by']} | "
              f"{r['first_input_s']:.1f} | {r['click_done_s']:.1f} | {r['answer_end_s']:.1f} | "
              f"{r['ground_s']:.1f} | {r['from_disk']} / {r['prompt_tokens']} | "
              f"{'yes' if r['streamed'] else 'no'} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
