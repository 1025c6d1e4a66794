"""The markers of a dry-run picture and a plan preview on a real dialog of small text: xmessage
(X11 Athena widgets, core fonts about 10 pixels high), where the ring once ran through the word
"Later" and the number covered "version" in the line above it. No marker pixel may lie on a
glyph of the dialog's text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import Display, Program, run_tracer
from tests.e2e.conftest import MARKER_RED, click, done, plan, run_dir, tracer_env, wait_drawn, wait_for_window

pytestmark = pytest.mark.display

MESSAGE = "A new version is ready to deploy."


@pytest.fixture
def xmessage(display: Display, programs: Callable[..., Program]) -> Image.Image:
    """The dialog on the display; returns the screen as it shows it."""
    shown = programs(display, ["xmessage", "-buttons", "Deploy,Later,Cancel", MESSAGE], "xmessage")
    wait_for_window(shown, "xmessage")
    return wait_drawn(display, lambda image: bool(glyphs(image)), what="the xmessage dialog")


def glyphs(image: Image.Image, dark: int = 128) -> set[tuple[int, int]]:
    """The pixels of the letters on a picture: the dark specks no taller than 14 pixels and
    no wider than 30 (a button's outline, the dialog's frame, the black screen around it are
    larger)."""
    ink = (np.asarray(image.convert("L")) < dark).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    small = [i for i in range(1, count)
             if stats[i, cv2.CC_STAT_HEIGHT] <= 14 and stats[i, cv2.CC_STAT_WIDTH] <= 30]
    ys, xs = np.nonzero(np.isin(labels, small))
    return set(zip(xs.tolist(), ys.tolist(), strict=True))


def marker_pixels(after: Image.Image, before: Image.Image) -> set[tuple[int, int]]:
    diff = np.asarray(after.convert("RGB")) != np.asarray(before.convert("RGB"))
    ys, xs = np.nonzero(diff.any(axis=2))
    return set(zip(xs.tolist(), ys.tolist(), strict=True))


def red(image: Image.Image) -> int:
    return int((np.asarray(image.convert("RGB")) == MARKER_RED).all(axis=2).sum())


def near(pixels: set[tuple[int, int]], point: tuple[float, float], radius: float) -> int:
    return sum((x - point[0]) ** 2 + (y - point[1]) ** 2 <= radius ** 2 for x, y in pixels)


def test_a_dry_run_picture_leaves_the_dialog_s_small_text_readable(
        display: Display, xmessage: Image.Image, tmp_path: Path) -> None:
    before = xmessage
    letters = glyphs(before)
    assert len(letters) > 300  # the message and three buttons' words
    macro = tmp_path / "m.yaml"
    macro.write_text("- click: Later\n", encoding="utf-8")
    out_png = tmp_path / "plan.png"
    env = tracer_env(display)
    dry = run_tracer("run", str(macro), "--dry-run", "--out", str(out_png), env=env)
    assert dry.returncode == 0, dry.stderr
    line = json.loads((run_dir(env) / "steps.jsonl").read_text().splitlines()[0])
    x, y = line["points"][0]
    with Image.open(out_png) as png:
        after = png.convert("RGB")
    assert after.size == before.size
    marker = marker_pixels(after, before)
    assert near(marker, (x, y), 18) > 40 and red(after) > 150  # the arcs, the number
    on_text = marker & letters
    assert not on_text, f"{len(on_text)} marker pixels on the dialog's letters, e.g. {sorted(on_text)[:8]}"


def test_a_plan_preview_leaves_the_dialog_s_small_text_readable(
        display: Display, xmessage: Image.Image, chat_server: Any, tmp_path: Path) -> None:
    """The same on the picture the model saw (raised to its grounding size: the letters
    resampled): the step's point from the model, no text box to go by."""
    later = [p for p in glyphs(xmessage) if 30 <= p[1] <= 50 and 60 <= p[0] <= 105]
    assert later, "the word Later was not where xmessage draws it"
    cx = (min(p[0] for p in later) + max(p[0] for p in later)) / 2
    cy = (min(p[1] for p in later) + max(p[1] for p in later)) / 2
    step = click(round(cx * 1000 / display.width), round(cy * 1000 / display.height), "Later")
    chat_server.queue(plan(step, done("deferred")))
    env = tracer_env(display)
    out_png = tmp_path / "preview.png"
    result = run_tracer("plan", "put the deploy off", "-b", "openai", "--base-url", chat_server.base_url,
                        "--out", str(out_png), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    with Image.open(run_dir(env) / "step-001.png") as seen, Image.open(out_png) as png:
        before, after = seen.convert("RGB"), png.convert("RGB")
    assert after.size == before.size
    letters = glyphs(before, dark=160)
    marker = marker_pixels(after, before)
    scale = before.width / display.width
    assert near(marker, (cx * scale, cy * scale), 20) > 40 and red(after) > 150
    on_text = marker & letters
    assert not on_text, f"{len(on_text)} marker pixels on the dialog's letters, e.g. {sorted(on_text)[:8]}"
