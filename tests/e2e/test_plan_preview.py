"""`tracer plan`: one screenshot, one forecast, no input events; JSON or a table, and a preview
picture with a numbered marker at each predicted point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import MARKER_RED, ClickLog, click, done, last_run, plan, pointer, run_dir, tracer_env
from tracer_cli.agent.profiles.geometry import QWEN3_VL

pytestmark = pytest.mark.display

FORECAST = plan(
    click(250, 300, "Save button"),
    click(700, 650, "Name field"),
    {"action": "type", "text": "report"},
    done("saved"),
    thought="Save first, then name the file.",
)
ORANGE = (0xF5, 0x82, 0x31)  # the second marker


def colour_near(image: Any, centre: tuple[int, int], colour: tuple[int, int, int],
                radius: int = 12) -> int:
    """How many pixels within ``radius`` of ``centre`` have exactly ``colour``."""
    cx, cy = centre
    rgb = image.convert("RGB")
    return sum(
        rgb.getpixel((x, y)) == colour
        for x in range(cx - radius, cx + radius + 1)
        for y in range(cy - radius, cy + radius + 1)
        if (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2
        and 0 <= x < image.width and 0 <= y < image.height
    )


def plan_args(chat_server: Any, *extra: str) -> list[str]:
    return ["plan", "save the document", "-b", "openai", "--base-url", chat_server.base_url,
            *extra]


def test_plan_json_prints_only_the_plan_and_touches_nothing(
        display: Display, clicklog: ClickLog, chat_server: Any) -> None:
    from PIL import Image

    chat_server.queue(FORECAST)
    env = tracer_env(display)
    before = pointer(display)
    result = run_tracer(*plan_args(chat_server, "--json"), env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == FORECAST
    assert result.stdout.count("\n") == 1
    assert clicklog.presses() == [] and clicklog.keys() == []
    assert pointer(display) == before
    assert len(chat_server.requests) == 1

    record = last_run(env)
    assert record["run"]["kind"] == "plan"
    assert record["run"]["status"] == "planned"
    assert "action" not in record["steps"][0]
    preview = run_dir(env) / "preview.png"
    assert preview.is_file()
    assert f"preview: {preview}" in result.stderr
    with Image.open(preview) as image:
        # drawn on the screenshot the model saw: 1280x800 raised to Qwen3-VL's grounding minimum
        w, h = QWEN3_VL.size(display.width, display.height)
        assert image.size == (w, h)

        def at(x: int, y: int) -> tuple[int, int]:
            return round(x * w / 1000), round(y * h / 1000)

        assert colour_near(image, at(250, 300), MARKER_RED, radius=16) > 60  # the ring
        assert colour_near(image, at(700, 650), ORANGE, radius=16) > 60
        assert colour_near(image, at(700, 650), MARKER_RED, radius=16) == 0
        assert colour_near(image, at(500, 500), MARKER_RED) == 0
        # ...and inside the ring the screen shows through, but for a fine dot at the point
        with Image.open(run_dir(env) / "step-001.png") as seen:
            for x, y in (at(250, 300), at(700, 650)):
                for dx, dy in ((-7, 0), (7, 0), (0, -7), (0, 7), (-5, -5), (5, 5)):
                    assert image.getpixel((x + dx, y + dy)) == seen.convert("RGB").getpixel((x + dx, y + dy))


def test_plan_prints_a_table_of_the_targets(display: Display, chat_server: Any) -> None:
    chat_server.queue(FORECAST)
    result = run_tracer(*plan_args(chat_server), env=tracer_env(display), timeout=60)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Save first, then name the file." in out
    for text in ("Save button", "Name field", "report", "saved",
                 "(250,300)", "(320,240)", "(700,650)", "(896,520)"):
        assert text in out, text
    for action in ("click", "type", "done"):
        assert action in out


def test_plan_out_writes_the_preview(display: Display, chat_server: Any, tmp_path: Path) -> None:
    chat_server.queue(FORECAST)
    target = tmp_path / "x.png"
    env = tracer_env(display)
    result = run_tracer(*plan_args(chat_server, "--out", str(target)), env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert target.is_file()
    assert target.read_bytes() == (run_dir(env) / "preview.png").read_bytes()
    assert f"preview: {target}" in result.stderr
