"""Thinking models through the real `tracer do` on Xvfb: what a model writes inside its reasoning
is never executed (draft calls that would click elsewhere or end the task), whether the reasoning
comes in the answer (with or without the opening tag) or apart (``reasoning_content``); an answer
cut off at the token limit ends the run with one line and is not asked again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.chat_server import Reply
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import ClickLog, last_run, tracer_env
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.agent.profiles.geometry import QWEN3_VL
from tracer_cli.agent.runlog import attempt_reasoning

pytestmark = pytest.mark.display


def call(arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


DRAFTS = ("The dialog has two buttons. A first idea:\n"
          + call({"action": "left_click", "coordinate": [100, 100]})
          + "\nor maybe it is done already: " + call({"action": "terminate", "status": "success"})
          + "\nNo: the OK button is at the lower right and must be clicked first.")
FINAL = "Action: Click the OK button.\n" + call({"action": "left_click", "coordinate": [700, 600]})
DONE = "Action: Finish.\n" + call({"action": "answer", "text": "pressed OK"})


def pixel(x: int, y: int, display: Display) -> tuple[int, int]:
    return round(x * display.width / 1000), round(y * display.height / 1000)


@pytest.mark.parametrize("form", ["open-tag", "template-opened", "reasoning_content", "reasoning"])
def test_only_the_answer_after_the_reasoning_is_executed(form: str, display: Display,
                                                         clicklog: ClickLog, chat_server: Any) -> None:
    if form == "open-tag":
        first: Any = f"<think>\n{DRAFTS}\n</think>\n\n{FINAL}"
    elif form == "template-opened":  # Qwen3-VL Thinking: the chat template wrote <think>
        first = f"{DRAFTS}\n</think>\n\n{FINAL}"
    else:  # llama-server's reasoning_content; vLLM's and Ollama's reasoning
        first = Reply(FINAL, {form: DRAFTS})
    chat_server.queue(first, DONE)
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", "--base-url", chat_server.base_url,
                        "--profile", "qwen3-vl", env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pressed OK"
    presses = clicklog.wait_presses(1)
    assert [(p["x"], p["y"]) for p in presses] == [pixel(700, 600, display)]  # never (100,100)
    record = last_run(env)
    step = record["steps"][0]
    assert "the OK button is at the lower right" in attempt_reasoning(step["attempts"][0])
    if form in ("open-tag", "template-opened"):  # kept once: in the answer, as the model wrote it
        assert "reasoning" not in step["attempts"][0]
        assert step["attempts"][0]["answer"] == first
    assert "must be clicked first" in step["plan"]["thought"]  # the panel's thought
    assert step["action"]["action"] == "click"
    assert record["run"]["steps"] == 2


def test_a_cut_off_answer_ends_the_run_with_the_fix(display: Display, clicklog: ClickLog,
                                                    chat_server: Any) -> None:
    chat_server.queue(Reply("<think>\nThe dialog has two buttons. The OK button is", finish_reason="length"))
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", "--base-url", chat_server.base_url,
                        "--profile", "qwen3-vl", "--max-tokens", "300", env=env, timeout=60)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert ("the answer was cut off inside the model's reasoning at --max-tokens 300 (raise "
            "--max-tokens") in result.stderr
    assert len(chat_server.requests) == 1  # not asked again
    assert clicklog.presses() == []
    [attempt] = last_run(env)["steps"][0]["attempts"]
    assert attempt["cut_off"] is True


def test_through_llama_cpp_a_draft_done_in_the_reasoning_does_not_end_the_task(
        display: Display, clicklog: ClickLog, tmp_path: Path) -> None:
    """A tiny local model that thinks before answering: its reasoning holds a plan that would end
    the task; the answer after </think> clicks. The click happens, the task goes on."""
    draft = json.dumps({"thought": "maybe", "trajectory": [{"action": "done", "answer": "drafted"}]})
    final = json.dumps({"thought": "click OK", "trajectory": [
        {"action": "click", "x": 700, "y": 600, "target": "OK"}]})
    model, mmproj = make_tiny_vlm(tmp_path / "thinker", [f"<think>Perhaps {draft}? No.</think>{final}"],
                                  arch="qwen3vl")
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", "--backend", "llama", "--model", str(model),
                        "--mmproj", str(mmproj), "--context", "4096", "--max-steps", "1",
                        env=env, timeout=90)
    assert result.returncode == 1 and "max-steps 1" in result.stderr, result.stderr
    assert "drafted" not in result.stdout
    assert [(p["x"], p["y"]) for p in clicklog.wait_presses(1)] == [pixel(700, 600, display)]
    step = last_run(env)["steps"][0]
    assert attempt_reasoning(step["attempts"][0]).startswith("Perhaps")
    assert step["image_size"] == list(QWEN3_VL.size(display.width, display.height))


def test_through_llama_cpp_an_answer_over_the_token_limit_is_cut_off(
        display: Display, clicklog: ClickLog, tmp_path: Path) -> None:
    long_plan = json.dumps({"thought": "A long explanation of what to do next. " * 6,
                            "trajectory": [{"action": "click", "x": 700, "y": 600, "target": "OK"}]})
    model, mmproj = make_tiny_vlm(tmp_path / "long", [long_plan], arch="qwen3vl")
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", "--backend", "llama", "--model", str(model),
                        "--mmproj", str(mmproj), "--context", "4096", "--max-tokens", "3",
                        env=env, timeout=90)
    assert result.returncode == 1
    # the tiny model says 32 bytes a token: three tokens are a third of the plan
    assert "the answer was cut off before the answer ended at --max-tokens 3" in result.stderr
    assert clicklog.presses() == []
    assert len(last_run(env)["steps"][0]["attempts"]) == 1
