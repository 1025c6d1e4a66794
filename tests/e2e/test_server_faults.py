"""A model server that fails: answers that are not chat completions, a connection cut mid-answer,
a server that hangs or stalls. The real `tracer do` against the real HTTP server of
tests/chat_server.py ends each with one line that says what came back and what to do, exit 1,
and the run record saying why; a hang is bounded by --timeout, a stall by stall_timeout, and a
slow answer that keeps coming is never cut off."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest

from tests.chat_server import Hang, Raw, Reply
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import done, last_run, plan, run_dir, tracer_env, wait_until
from tests.e2e.test_errors import closed_port_url, lines

pytestmark = pytest.mark.display

DONE = plan(done("all done"))
HTML = (b"<!doctype html><html><head><title>Open WebUI</title></head>"
        b"<body><div id='app'>Loading...</div></body></html>")


def do(chat_server: Any, display: Display, *extra: str, env: dict[str, str] | None = None,
       timeout: float = 60) -> Any:
    return run_tracer("do", "open the settings", "--yes", "--base-url", chat_server.base_url,
                      "--model", "test-vlm", *extra, env=env or tracer_env(display),
                      timeout=timeout)


def status_line(stderr: str) -> str:
    """The command's last line about the run (before where its record is)."""
    said = [line for line in lines(stderr) if line.startswith("tracer: ")]
    assert said, stderr
    return said[-1]


def assert_one_line_error(result: Any, *parts: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    line = status_line(result.stderr)
    assert line.startswith("tracer: error: "), result.stderr
    for part in parts:
        assert part in line, result.stderr
    return line


@pytest.mark.parametrize("answer, parts", [
    (Raw(HTML, "text/html"), ["answered with an HTML page, not a chat completion",
                              "Open WebUI", "ending in /v1"]),
    (Raw(b'{"id": "x", "choices": [{"message": {"content": "hel'),
     ["sent broken JSON as its answer (Unterminated string", "ending in /v1"]),
    (Raw(b'{"object": "list", "data": []}'),
     ["answered with JSON that is not a chat completion (keys: object, data)"]),
    (Raw(b'data: {"choices": [{"delta": {"content": "hel\n\n', "text/event-stream"),
     ["sent broken JSON as a chunk of its streamed answer"]),
], ids=["html", "broken-json", "other-json", "broken-stream"])
def test_a_200_answer_that_is_not_a_chat_completion_is_one_line(
        display: Display, chat_server: Any, answer: Raw, parts: list[str]) -> None:
    chat_server.queue(answer)
    result = do(chat_server, display)
    assert_one_line_error(result, chat_server.base_url, *parts)
    assert len(chat_server.requests) == 1  # not asked again: it would answer the same


def test_a_web_page_at_the_base_url_is_one_line(display: Display, chat_server: Any) -> None:
    """A web UI's address given as --base-url: every path answers its HTML page, /models too."""
    chat_server.page = Raw(HTML, "text/html")
    result = run_tracer("do", "open the settings", "--yes", "--base-url", chat_server.base_url,
                        env=tracer_env(display), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines(result.stderr) == [
        f"tracer: error: the server at {chat_server.base_url} answered /models with something "
        "that is not a model list (check that --base-url is the server's OpenAI-compatible API, "
        "ending in /v1 (e.g. http://127.0.0.1:8080/v1), not a web page or another API)"]


@pytest.mark.parametrize("answer", [
    Reply('{"thought": "a long answer", "trajectory": [{"action": "done"}]}', piece=8,
          cut_after=3),
    Raw(b'{"id": "x", "choices": [{"message": {"content": "hel', cut=True),
], ids=["streamed", "whole"])
def test_a_connection_cut_mid_answer_says_so(display: Display, chat_server: Any,
                                             answer: Any) -> None:
    chat_server.queue(answer, DONE)
    result = do(chat_server, display)
    line = assert_one_line_error(result, "broke off in the middle of its answer",
                                 "check the server's log")
    assert "cannot reach" not in line
    assert len(chat_server.requests) == 1  # a half answer is not asked again
    record = last_run(tracer_env(display))
    assert record["run"]["status"] == "error"
    assert "broke off" in record["run"]["reason"]


def test_timeout_bounds_a_model_call_that_hangs(display: Display, chat_server: Any) -> None:
    """--timeout is the run's wall-clock bound, model calls included: a server that accepts the
    request and never answers is given up when the run's time is over."""
    chat_server.queue(Hang())
    env = tracer_env(display)
    started = time.monotonic()
    result = do(chat_server, display, "--timeout", "6", timeout=90)
    took = time.monotonic() - started

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert took < 6 + 10, f"tracer took {took:.1f} s"  # start-up and the record on top
    line = status_line(result.stderr)
    assert line.startswith("tracer: gave up: reached --timeout 6s while waiting"), result.stderr
    assert chat_server.base_url in line
    assert len(chat_server.requests) == 1  # a hang is never retried
    record = last_run(env)
    assert record["run"]["status"] == "gave_up"
    assert record["run"]["reason"].startswith("reached --timeout 6s while waiting")
    assert record["run"]["seconds"] < 7.5


def test_no_first_token_in_request_timeout_is_not_retried(display: Display,
                                                          chat_server: Any) -> None:
    chat_server.queue(Hang(), DONE)
    started = time.monotonic()
    result = do(chat_server, display, "--request-timeout", "2", timeout=90)
    took = time.monotonic() - started
    assert_one_line_error(result, "sent no answer in 2 s", "raise --request-timeout")
    assert len(chat_server.requests) == 1
    assert took < 2 + 10


def test_a_stalled_answer_fails_soon_after_it_stops(display: Display, chat_server: Any) -> None:
    """The answer started, then nothing more came on the open connection: the run ends
    stall_timeout seconds after the last piece, not when the run's time is over."""
    chat_server.queue(Reply('{"thought": "", "trajectory": [{"action": "done"}]}', piece=6,
                            stall_after=3), DONE)
    env = tracer_env(display, TRACER_STALL_TIMEOUT="2")
    result = do(chat_server, display, env=env, timeout=90)
    assert_one_line_error(result, "stopped answering: nothing came for 2 s after 3 piece(s)",
                          "TRACER_STALL_TIMEOUT")
    assert len(chat_server.requests) == 1
    record = last_run(env)
    assert record["run"]["seconds"] < 2 + 3


def test_a_slow_answer_that_keeps_coming_is_not_cut_off(display: Display,
                                                        chat_server: Any) -> None:
    """Slow to start (within --request-timeout), then a piece every 0.6 s for ~5 s: longer than
    both limits in all, yet every wait is shorter than its limit, so it is read whole."""
    text = '{"thought": "slow but steady", "trajectory": [{"action": "done", "answer": "ok"}]}'
    chat_server.queue(Reply(text, piece=10, first_delay=1.5, piece_delay=0.6))
    started = time.monotonic()
    result = do(chat_server, display, "--request-timeout", "2.5",
                env=tracer_env(display, TRACER_STALL_TIMEOUT="1.5"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert time.monotonic() - started > 1.5 + 0.6 * 8
    [step] = last_run(tracer_env(display))["steps"]
    assert step["attempts"][0]["answer"] == text


def test_ctrl_c_ends_a_model_call_that_hangs_at_once(display: Display, chat_server: Any,
                                                     background_tracer: Any) -> None:
    chat_server.queue(Hang())
    env = tracer_env(display)
    proc = background_tracer("do", "open the settings", "--yes", "--base-url",
                             chat_server.base_url, "--model", "test-vlm", env=env)
    wait_until(lambda: len(chat_server.requests) >= 1, 30, "tracer to ask the model")
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)
    assert time.monotonic() - sent < 2, "tracer did not stop at once"
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert last_run(env)["run"]["reason"] == "interrupted with Ctrl-C"


def test_an_unreachable_server_is_said_once(display: Display) -> None:
    """The model is named, so the run starts before the first call finds no server: the error
    is one line, said once (not also in the run's log lines)."""
    url = closed_port_url()
    result = run_tracer("do", "open the settings", "--yes", "--base-url", url, "--model", "m",
                        env=tracer_env(display), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    said = [line for line in lines(result.stderr) if f"cannot reach the model server at {url}" in line]
    assert said == [f"tracer: error: cannot reach the model server at {url} (start the server, "
                    "or fix --base-url)"], result.stderr


# -- hostile sizes: what the record and the terminal keep ------------------------------------------


def test_a_huge_answer_is_kept_once_and_bounded(display: Display, chat_server: Any) -> None:
    """A 5 MB thinking answer, then 5 MB of reasoning returned apart: each is kept once, as its
    start and end with a note of what was cut; the end, with the answer proper, is whole."""
    final = '{"thought": "look again", "trajectory": [{"action": "wait", "seconds": 0.1}]}'
    thinking = "<think>" + "I wonder. " * 500_000 + "</think>" + final
    chat_server.queue(Reply(thinking, piece=65536),
                      Reply(json.dumps(DONE), {"reasoning_content": "Hmm. " * 1_000_000},
                            piece=65536))
    env = tracer_env(display)
    result = do(chat_server, display, env=env)

    assert result.returncode == 0, result.stderr
    steps = run_dir(env) / "steps.jsonl"
    assert steps.stat().st_size < 300_000  # was 15 MB
    first, second = (json.loads(line)["attempts"][0] for line in steps.read_text().splitlines())
    assert "reasoning" not in first  # it is in the answer: not written twice
    assert first["answer"].startswith("<think>I wonder. ")
    assert first["answer"].endswith("</think>" + final)
    assert f"[... tracer cut {len(thinking) - 100_000:,} of {len(thinking):,} characters here ...]" \
        in first["answer"]
    assert "tracer cut 4,899,999 of 4,999,999 characters here" in second["reasoning"]  # stripped
    assert json.loads(second["answer"]) == DONE


def test_a_huge_task_is_shown_shortened_and_kept_whole(display: Display, chat_server: Any) -> None:
    task = "open the settings and then " + "x" * 100_000
    chat_server.queue(DONE)
    env = tracer_env(display)
    result = run_tracer("do", "-", "--yes", "--base-url", chat_server.base_url, env=env,
                        input=task, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(result.stderr) < 3_000, result.stderr[:500]
    assert f"… ({len(task):,} characters in all)" in result.stderr
    assert last_run(env)["run"]["task"] == task
