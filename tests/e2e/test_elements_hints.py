"""--elements through the real `tracer do` and a real OpenAI-compatible server: on a GTK 3
calculator with a real accessibility bus, the request lists the calculator's buttons with their
boxes in the profile's own coordinates (0..1000 for tracer1, the processed image's pixels for
UI-TARS-1.5), where the tree puts them; for a Tk program (no tree) nothing is listed and the
run record says why."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.a11y import A11yBus, start_calc
from tests.chat_server import ChatServer
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import done, plan, run_dir, tracer_env
from tests.programs import stop_program, wait_until
from tracer_cli.agent.profiles.geometry import QWEN25_VL
from tracer_cli.desktop.platforms.atspi import AtspiElements

pytestmark = pytest.mark.display

APPS = Path(__file__).resolve().parents[1] / "apps"
LINE = re.compile(r'^([a-z ]+) "(.*)" \[(\d+),(\d+),(\d+),(\d+)\]$')


@pytest.fixture(scope="module")
def server() -> Iterator[ChatServer]:
    chat = ChatServer().start()
    yield chat
    chat.stop()


def ask(server: ChatServer, env: dict[str, str], answer: Any, *flags: str,
        command: str = "do") -> tuple[str, list[dict[str, Any]]]:
    """One `tracer do --elements` (or ``command``) whose model answers ``answer``: the text
    that followed the screenshot in its request, and the run's steps.jsonl."""
    server.requests.clear()
    server.queue(answer)
    hotkeys = ["--yes", "--kill-hotkey", "", "--pause-hotkey", ""] if command == "do" else []
    ran = run_tracer(command, "press plus", "--backend", "openai", "--base-url", server.base_url,
                     "--model", "test-vlm", "--elements", *hotkeys, *flags, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    (request,) = server.requests
    parts = request["messages"][-1]["content"]
    image = max(i for i, p in enumerate(parts) if p["type"] == "image_url")
    after = parts[image + 1]["text"] if image + 1 < len(parts) else ""
    steps = [json.loads(x) for x in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    return after, steps


def listed(text: str) -> dict[tuple[str, str], tuple[int, ...]]:
    rows = [LINE.match(line) for line in text.splitlines()[1:]]
    assert rows and all(rows), text
    return {(m[1], m[2]): tuple(int(v) for v in m.groups()[2:]) for m in rows if m}


def test_the_gtk_buttons_reach_the_model_in_its_coordinates(
        a11y_bus: A11yBus, a11y_screen: Display, server: ChatServer, tmp_path: Path) -> None:
    calc = start_calc(a11y_bus, tmp_path / "calc.jsonl", "hint calc", (100, 100))
    reader = AtspiElements(a11y_bus.address())
    try:
        (plus,) = wait_until(lambda: reader.find("push button", "+"), 20, "the calculator's +")
        env = tracer_env(a11y_screen, **a11y_bus.env())
        text, steps = ask(server, env, plan(done()))
        boxes = listed(text)
        assert text.startswith("Interactive elements of the active window") and "0..1000" in text
        w, h = a11y_screen.width, a11y_screen.height
        left, top, right, bottom = plus.box
        assert boxes[("push button", "+")] == (round(left * 1000 / w), round(top * 1000 / h),
                                               round(right * 1000 / w), round(bottom * 1000 / h))
        assert ("push button", "M+") in boxes  # '+' and 'M+' both, each by its whole name
        assert steps[0]["elements_sent"] == len(boxes) and "elements_note" not in steps[0]
        text, steps = ask(server, env, plan(done()), command="plan")  # the dry run lists them too
        assert listed(text) == boxes and steps[0]["elements_sent"] == len(boxes)

        # UI-TARS-1.5 reads points as pixels of the image its processor makes: the same boxes there
        text, _ = ask(server, env, "Thought: the task is done.\nAction: finished(content='')",
                      "--profile", "ui-tars")
        fw, fh = QWEN25_VL.processed(*QWEN25_VL.size(w, h))
        assert f"pixels of the {fw}x{fh} screenshot" in text
        assert listed(text)[("push button", "+")] == (
            round(left * fw / w), round(top * fh / h), round(right * fw / w), round(bottom * fh / h))
    finally:
        reader.close()
        calc.stop()


def test_a_tk_program_gets_no_list_and_the_record_says_why(
        a11y_bus: A11yBus, a11y_screen: Display, server: ChatServer, tmp_path: Path) -> None:
    state = tmp_path / "tk.json"
    proc = subprocess.Popen([sys.executable, str(APPS / "tk_form.py"), str(state)],
                            env=a11y_bus.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: state.exists() and state.read_text(), 30, "tk_form's state")
        text, steps = ask(server, tracer_env(a11y_screen, **a11y_bus.env()), plan(done()))
        assert "Interactive elements" not in json.dumps(server.requests)
        assert not text.startswith("Interactive") and steps[0]["elements_sent"] == 0
        assert "the active window shows no named interactive element" in steps[0]["elements_note"]
    finally:
        stop_program(proc)
