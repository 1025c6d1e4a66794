"""The README demo, exactly: the scripted plan fills in examples/demo_form.py on a 1280x800
screen, and the run record tells the story."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    DEMO_FORM,
    last_run,
    park_pointer,
    run_dir,
    wait_drawn,
    wait_for_window,
    wait_until,
)
from tracer_cli.agent.profiles.geometry import QWEN3_VL

pytestmark = pytest.mark.display

ANSWER = "Submitted the form for Ada Lovelace (Green)."


def test_readme_demo_fills_in_the_form(display: Display, programs: Any, tmp_path: Path) -> None:
    result_file = tmp_path / "form.json"
    park_pointer(display)
    form = programs(display, [sys.executable, str(DEMO_FORM), "--out", str(result_file)],
                    "demo_form")
    wait_for_window(form, "^tracer demo form$")
    wait_drawn(display)  # the widgets are on the screen and it has stopped changing

    env = display.env()
    result = run_tracer("do", "fill in the demo form", "--backend", "script",
                        "--script", "examples/demo_form.jsonl", "--yes", env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ANSWER
    wait_until(result_file.exists, 5, "the form to write its result")
    submitted = json.loads(result_file.read_text())
    assert submitted["name"] == "Ada Lovelace"
    assert submitted["colour"] == "Green"
    assert submitted["clicks"] == ["Green", "Submit"]

    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert record["run"]["steps"] == 5
    assert record["run"]["answer"] == ANSWER
    steps = record["steps"]
    assert len(steps) == 5
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5]
    assert [s["action"]["action"] for s in steps] == ["click", "type", "click", "click", "done"]
    assert [s["outcome"].split(" ")[0] for s in steps] == ["ok", "ok", "ok", "ok", "done"]
    # (500,300), (600,450), (500,650) of 1280x800
    assert [s.get("points") for s in steps if s["action"]["action"] == "click"] == [
        [[640, 240]], [[768, 360]], [[640, 520]]]
    directory = run_dir(env)
    for s in steps:
        shot = directory / s["screenshot"]
        assert shot.is_file() and shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        # tracer1 sends Qwen3-VL's geometry: 1280x800 raised to the grounding minimum
        assert s["image_size"] == list(QWEN3_VL.size(display.width, display.height))
    assert sorted(p.name for p in directory.glob("step-*.png")) == [
        f"step-{n:03d}.png" for n in range(1, 6)]
