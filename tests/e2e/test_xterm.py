"""`tracer do` drives a real terminal: it clicks into an xterm, types a shell command and presses
enter, planned by a real OpenAI-compatible HTTP server; the command's effect is checked on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    Program,
    click,
    done,
    last_run,
    park_pointer,
    plan,
    request_image,
    request_image_size,
    request_text,
    tracer_env,
    wait_drawn,
    wait_for_window,
    wait_until,
    xdotool,
)
from tracer_cli.agent.profiles.geometry import QWEN3_VL

pytestmark = pytest.mark.display

TITLE = "tracer-e2e-xterm"
COMMAND = "echo tracer-ok > out.txt"
ANSWER = "The file out.txt now says tracer-ok."


@pytest.fixture
def xterm(display: Display, programs: Any, tmp_path: Path) -> Program:
    """An xterm filling the screen, its shell in tmp_path, ready for input."""
    park_pointer(display)
    ready = tmp_path / "shell-ready"
    shell = "bash --norc --noprofile"
    program = programs(display, [
        "xterm", "-T", TITLE, "-geometry", "200x60+0+0", "-xrm", "*cursorBlink: false",
        "-e", f"{shell} -c 'touch {ready.name}; exec {shell}'"], "xterm", cwd=tmp_path)
    window = wait_for_window(program, f"^{TITLE}$")
    xdotool(display, "windowmove", "--sync", window, "0", "0")
    xdotool(display, "windowsize", "--sync", window, str(display.width), str(display.height))
    wait_until(ready.exists, 15, "the shell in the xterm")
    wait_drawn(display)  # the widgets are on the screen and it has stopped changing
    return program


def test_do_types_a_shell_command_into_xterm(display: Display, xterm: Program,
                                             chat_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    enter = {"action": "hotkey", "keys": ["enter"]}
    type_it = {"action": "type", "text": COMMAND}
    chat_server.queue(
        plan(click(500, 500, "the terminal"), type_it, enter, done(ANSWER),
             thought="Focus the terminal, then type the command."),
        plan(type_it, enter, done(ANSWER), thought="The terminal has focus: type."),
        plan(enter, done(ANSWER), thought="The command is typed: run it."),
        plan(done(ANSWER), thought="The command ran."),
    )
    env = tracer_env(display)
    # one model call per step (--replan always), to see the history grow from call to call
    result = run_tracer("do", "write tracer-ok into out.txt from the terminal", "--yes",
                        "--replan", "always", "-b", "openai", "--base-url",
                        chat_server.base_url, env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ANSWER
    wait_until(out.exists, 5, f"{out} to be written by the shell")
    assert out.read_text() == "tracer-ok\n"

    requests = chat_server.requests
    assert len(requests) == 4
    assert all(body["model"] == "test-vlm" for body in requests)
    for body in requests:
        prefix, raw = request_image(body)
        assert prefix == "data:image/png;base64"
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        # the tracer1 profile's geometry (Qwen3-VL): 1280x800 raised to the grounding minimum
        assert request_image_size(body) == QWEN3_VL.size(display.width, display.height)
    texts = [request_text(body) for body in requests]
    assert all("write tracer-ok into out.txt" in t for t in texts)
    assert "No steps executed yet." in texts[0]
    history = [
        "1. click (500,500) 'the terminal' -> ok",
        f"2. type {COMMAND!r} -> ok",
        "3. hotkey enter -> ok",
    ]
    for n, text in enumerate(texts[1:], 1):
        assert "Steps executed so far" in text
        for line in history[:n]:
            assert line in text, (n, text)
        for line in history[n:]:
            assert line not in text, (n, text)

    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert record["run"]["answer"] == ANSWER
    assert [s["action"]["action"] for s in record["steps"]] == ["click", "type", "hotkey", "done"]
    assert record["steps"][0]["points"] == [[640, 400]]
