"""tracer for scripts, end to end on Xvfb: `--events jsonl` streams one JSON object per event on
stdout while the run goes on (read line by line by a consumer as it arrives), for `do`, `plan`
and `run`; `tracer do -` reads the task from stdin; exit code 3 says a step needed a human."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    ClickLog,
    click,
    done,
    last_run,
    plan,
    request_text,
    run_dir,
    tracer_env,
)

pytestmark = pytest.mark.display


class Lines:
    """Reads a process's stdout line by line on a thread, each line with when it arrived."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line))
        self.lines.put((time.monotonic(), None))

    def until(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        """Parse lines as they come until one satisfies ``predicate``; every line must be JSON."""
        deadline = time.monotonic() + timeout
        while True:
            _, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, f"stdout ended before the event came: {self.events}"
            event = json.loads(line)  # every line is one JSON object
            assert isinstance(event, dict) and line.endswith("\n")
            self.events.append(event)
            if predicate(event):
                return event

    def rest(self, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            _, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                return self.events
            self.events.append(json.loads(line))


def test_events_arrive_while_the_run_goes_on(display: Display, clicklog: ClickLog,
                                             chat_server: Any, background_tracer: Any) -> None:
    long_wait = {"action": "wait", "seconds": 30}
    chat_server.queue(plan(click(400, 300, "the canvas"), long_wait, done()),
                      plan(long_wait, done()))
    env = tracer_env(display)
    proc = background_tracer("do", "click the canvas, then wait", "--yes", "--events", "jsonl",
                             "-b", "openai", "--base-url", chat_server.base_url, env=env)
    lines = Lines(proc)

    start = lines.until(lambda e: True)
    assert start["event"] == "start" and start["kind"] == "do"
    assert start["task"] == "click the canvas, then wait"
    assert start["monitor"]["width"] == 1280 and start["settings"]["confirm"] == "never"
    assert Path(start["run"]) == run_dir(env)
    first = lines.until(lambda e: e["event"] == "plan")
    assert first["step"] == 1 and first["plan"]["trajectory"][0]["action"] == "click"
    action = lines.until(lambda e: e["event"] == "action")
    assert action["action"] == {"action": "click", "x": 400, "y": 300, "target": "the canvas"}
    assert len(action["points"]) == 1
    step = lines.until(lambda e: e["event"] == "step")
    assert step["step"] == 1 and step["status"] == "ok"
    assert Path(step["screenshot"]).is_file()
    lines.until(lambda e: e["event"] == "action" and e["action"]["action"] == "wait")
    assert proc.poll() is None  # streamed while the run goes on: tracer is in its 30 s wait
    assert clicklog.wait_presses(1)

    proc.send_signal(signal.SIGINT)
    events = lines.rest()
    proc.wait(timeout=15)
    assert proc.returncode == 130
    end = events[-1]
    assert end["event"] == "end" and end["status"] == "interrupted" and end["exit_code"] == 130
    assert end["steps"] == 2
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds.count("end") == 1
    assert kinds.count("step") == 2 and set(kinds) <= {"start", "plan", "speculate", "action",
                                                        "step", "end"}
    # the step events carry the run record's fields
    record = last_run(env)
    steps = [e for e in events if e["event"] == "step"]
    for event, line in zip(steps, record["steps"], strict=True):
        assert {k: v for k, v in event.items() if k not in ("event", "time", "screenshot")} == \
            {k: v for k, v in line.items() if k not in ("time", "screenshot")}


def test_do_reads_the_task_from_stdin(display: Display, clicklog: ClickLog,
                                      chat_server: Any) -> None:
    chat_server.queue(plan(click(400, 300, "the canvas"), done("clicked")), plan(done("clicked")))
    env = tracer_env(display)
    result = run_tracer("do", "-", "--yes", "--events", "jsonl", "-b", "openai", "--base-url",
                        chat_server.base_url, env=env, input="click the white canvas\n", timeout=60)

    assert result.returncode == 0, result.stderr
    assert "Task: click the white canvas" in request_text(chat_server.requests[0])
    events = [json.loads(line) for line in result.stdout.splitlines()]  # nothing but events
    assert events[0]["event"] == "start" and events[0]["task"] == "click the white canvas"
    assert events[-1] == {**events[-1], "event": "end", "status": "done", "exit_code": 0,
                          "answer": "clicked"}
    assert "run record:" in result.stderr  # the rest stays on stderr
    assert len(clicklog.wait_presses(1)) == 1


def test_stdout_holds_only_events_whatever_a_library_prints(display: Display, clicklog: ClickLog,
                                                            chat_server: Any, tmp_path: Path) -> None:
    """An empty Xauthority file (common) makes python-xlib print a warning with print() at each
    connection: it goes to stderr, never among the events."""
    chat_server.queue(plan(click(400, 300, "the canvas"), done("clicked")), plan(done("clicked")))
    empty = tmp_path / "Xauthority"
    empty.write_bytes(b"")
    env = tracer_env(display, XAUTHORITY=str(empty))
    result = run_tracer("do", "click the canvas", "--yes", "--events", "jsonl", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "Xlib.xauth: warning" in result.stderr  # the library did print
    events = [json.loads(line) for line in result.stdout.splitlines()]  # nothing but events
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "end"


@pytest.mark.parametrize(("stdin", "args", "message"), [
    ("", ["do", "-"], "TASK is - but standard input was empty"),
    ("  \n", ["plan", "-"], "TASK is - but standard input was empty"),
    ("x", ["do", "x", "--events", "json"], "--events 'json' is not a format tracer writes"),
    ("x", ["plan", "x", "--events", "jsonl", "--json"], "--json and --events both write"),
])
def test_stdin_and_events_errors_are_one_line(display: Display, chat_server: Any, stdin: str,
                                              args: list[str], message: str) -> None:
    result = run_tracer(*args, "-b", "openai", "--base-url", chat_server.base_url,
                        env=tracer_env(display), input=stdin, timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == "" and chat_server.requests == []


def test_a_risky_step_without_a_terminal_exits_3(display: Display, clicklog: ClickLog,
                                                 chat_server: Any) -> None:
    """No terminal to confirm a risky step: it is skipped, the model is told, and when the run
    does not get done the exit code says a human was needed."""
    chat_server.queue(plan(click(400, 300, "Delete everything"), done()),
                      plan({"action": "fail", "reason": "deleting needs the user's confirmation"}))
    env = tracer_env(display)
    result = run_tracer("do", "delete everything", "--events", "jsonl", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, input="", timeout=60)

    assert result.returncode == 3, result.stderr
    assert "tracer: a step needed a human: step 1 (click (400,300) 'Delete everything')" in result.stderr
    assert clicklog.presses() == []
    end = json.loads(result.stdout.splitlines()[-1])
    assert end["event"] == "end" and end["status"] == "failed" and end["exit_code"] == 3
    assert "no terminal to ask" in end["needed_human"]
    assert last_run(env)["run"]["needed_human"] == end["needed_human"]


def test_a_risky_macro_step_without_a_terminal_exits_3(display: Display, clicklog: ClickLog,
                                                       tmp_path: Path) -> None:
    macro = tmp_path / "wipe.yaml"
    macro.write_text('name: wipe\nsteps:\n  - type: "rm -rf ~/"\n', encoding="utf-8")
    env = tracer_env(display)
    result = run_tracer("run", str(macro), "--events", "jsonl", env=env, input="", timeout=60)

    assert result.returncode == 3, result.stderr
    assert "needs confirmation" in result.stderr
    assert clicklog.keys() == []
    end = json.loads(result.stdout.splitlines()[-1])
    assert end["exit_code"] == 3 and "wipe.yaml:3" in end["needed_human"]


def test_plan_and_run_stream_events(display: Display, clicklog: ClickLog, chat_server: Any,
                                    tmp_path: Path) -> None:
    chat_server.queue(plan(click(400, 300, "the canvas"), done()))
    env = tracer_env(display)
    result = run_tracer("plan", "click the canvas", "--events", "jsonl", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "plan", "step", "end"]
    assert events[0]["kind"] == "plan" and events[-1]["status"] == "planned"
    assert clicklog.presses() == []

    macro = tmp_path / "hello.yaml"
    macro.write_text('name: hello\nsteps:\n  - type: "hi"\n  - wait: 0.1\n', encoding="utf-8")
    result = run_tracer("run", str(macro), "--yes", "--events", "jsonl", env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "action", "step", "step", "end"]
    assert events[1]["action"]["describe"] == "type 'hi'"
    assert events[2]["where"].endswith("hello.yaml:3") and events[2]["status"] == "ok"
    assert events[-1]["status"] == "done" and events[-1]["exit_code"] == 0


def test_a_checklist_of_sub_goals_is_shown_given_back_and_recorded(
        display: Display, clicklog: ClickLog, chat_server: Any, tmp_path: Path) -> None:
    """`--subgoals` (hierarchical plans): the model is asked for a checklist beside its
    forecast, gets the last one back with the next request, and the events, the plain log, the
    run record and the report say which sub-goal each forecast worked on."""
    first = {**plan(click(400, 300, "the canvas"), thought="the canvas is in the middle"),
             "subgoals": [{"goal": "click the canvas", "done": False},
                          {"goal": "report the click", "done": False}]}
    second = {**plan(done("clicked")), "subgoals": [{"goal": "click the canvas", "done": True},
                                                     {"goal": "report the click", "done": False}]}
    chat_server.queue(first, second)
    env = tracer_env(display)
    result = run_tracer("do", "click the canvas", "--subgoals", "--yes", "--events", "jsonl",
                        "-b", "openai", "--base-url", chat_server.base_url, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(clicklog.wait_presses(1)) == 1

    asked, followed = (request_text(r) for r in chat_server.requests)
    assert '"subgoals"' in asked and "sub-goals so far" not in asked
    assert "sub-goals so far ([x]: done):\n[ ] click the canvas\n[ ] report the click" in followed
    plans = [json.loads(line) for line in result.stdout.splitlines()]
    plans = [e for e in plans if e["event"] == "plan"]
    assert [p["subgoal"] for p in plans] == [{"number": 1, "goal": "click the canvas"},
                                             {"number": 2, "goal": "report the click"}]
    assert "[sub-goal 2/2: report the click]" in result.stderr
    record = last_run(env)
    assert record["steps"][0]["plan"]["subgoals"] == first["subgoals"]

    out = tmp_path / "report.html"
    made = run_tracer("logs", "report", "last", "--out", str(out), env=env, timeout=60)
    assert made.returncode == 0, made.stderr
    page = out.read_text(encoding="utf-8")
    assert "<dt>sub-goal</dt><dd>1/2: click the canvas</dd>" in page
    assert "<dt>sub-goal</dt><dd>2/2: report the click</dd>" in page
