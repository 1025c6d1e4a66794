"""Every macro in examples/macros/ runs as its comment says, on the program it names."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, Display, run_tracer
from tests.e2e.conftest import Notes, Program, plan, tracer_env, wait_for_window

pytestmark = pytest.mark.display
MACROS = EXAMPLES / "macros"


def run(name: str, display: Display, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = run_tracer("run", str(MACROS / name), *args, env=tracer_env(display, **env), timeout=240)
    assert done.returncode == 0, done.stderr
    return done


def test_every_example_is_tested_here() -> None:
    tested = {"notes_save", "notes_many", "notes_load", "notes_token", "notes_load_by_image",
              "demo_form", "xterm_echo"}
    assert {p.stem for p in MACROS.glob("*.yaml")} == tested


def test_notes_examples(display: Display, start_notes: Callable[..., Notes], chat_server: Any) -> None:
    notes = start_notes(display, "640x420+300+200")
    run("notes_save.yaml", display, "--var", "name=Grace", "--var", "note=compiler")
    assert notes.state()["saved"] == [["Grace", "compiler"]]

    run("notes_many.yaml", display)
    assert [name for name, _ in notes.state()["saved"][1:]] == ["Ada", "Grace", "Alan"]
    assert notes.state()["saved"][3] == ["Alan", "computable numbers"]

    run("notes_token.yaml", display, NOTES_TOKEN="tok-123")
    assert notes.state()["saved"][-1] == ["ada", "token: tok-123"]

    run("notes_load.yaml", display)
    assert notes.state()["status"] == "Loaded 3 notes"

    notes.move(120, 90)
    run("notes_load.yaml", display)  # again, the window elsewhere
    chat_server.queue(plan({"action": "done", "answer": "nothing covers the window"}))
    run("notes_load_by_image.yaml", display, "--base-url", chat_server.base_url)
    assert notes.state()["clicks"].count("Load") == 3
    assert len(chat_server.requests) == 1


def test_demo_form_example(display: Display, programs: Callable[..., Program], tmp_path: Path) -> None:
    result = tmp_path / "form.json"
    form = programs(display, [sys.executable, str(EXAMPLES / "demo_form.py"), "--out", str(result)],
                    "demo form")
    wait_for_window(form, "^tracer demo form$")
    run("demo_form.yaml", display, "--var", "name=Grace Hopper", "--var", "colour=Blue")
    assert json.loads(result.read_text()) == {"name": "Grace Hopper", "colour": "Blue",
                                              "clicks": ["Blue", "Submit"]}


def test_xterm_example(display: Display, programs: Callable[..., Program], tmp_path: Path) -> None:
    term = programs(display, ["xterm", "-geometry", "100x30+0+0", "-e", "bash", "--norc", "-i"],
                    "xterm", cwd=tmp_path)
    wait_for_window(term, "bash|xterm")
    run("xterm_echo.yaml", display, "--var", "a=12", "--var", "b=11", "--var", "product=132")
    failed = run_tracer("run", str(MACROS / "xterm_echo.yaml"), "--var", "product=999",
                        env=tracer_env(display))
    assert failed.returncode == 1
    assert "xterm_echo.yaml:" in failed.stderr and "'999'" in failed.stderr
