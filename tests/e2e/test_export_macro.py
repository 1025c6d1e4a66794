"""Exporting a real `tracer do` run (scripted model) as a macro, and replaying the macro
without the model after the window moved."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import Notes, click, done, park_pointer, plan, run_dir, tracer_env
from tracer_cli.macro import load as macro

pytestmark = pytest.mark.display

# The notes window at +100+80 on 1280x800, in the model's 0..1000 coordinates.
NAME_FIELD = (313, 141)  # (400, 113) px
SAVE = (141, 374)  # (180, 299) px
CLEAR = (238, 374)  # (304, 299) px


def script(path: Path, *plans: dict) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in plans), encoding="utf-8")
    return path


def test_export_a_run_and_replay_it_after_the_window_moved(
        display: Display, start_notes: Callable[..., Notes], tmp_path: Path) -> None:
    notes = start_notes(display)
    # The model's screenshot is downscaled (640x384 of 1280x800): the export maps points into
    # it and scales anchors back up.
    env = tracer_env(display, TRACER_MAX_PIXELS="256000")
    plans = script(
        tmp_path / "plan.jsonl",
        plan(click(*NAME_FIELD, "Name field")),
        plan({"action": "type", "text": "Grace Hopper"}),
        plan({"action": "hotkey", "keys": ["ctrl", "alt", "shift", "k"]}),  # refused: left out
        plan(click(*SAVE, "Save button")),
        plan(done("saved")))
    ran = run_tracer("do", "save a note for Grace Hopper", "--backend", "script", "--script",
                     str(plans), "--yes", env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert notes.wait_state(lambda s: len(s.get("saved", [])) == 1)["saved"] == [["Grace Hopper", ""]]
    record = run_dir(env)
    lines = [json.loads(x) for x in (record / "steps.jsonl").read_text().splitlines()]
    assert lines[0]["image_size"] == [640, 384]
    assert lines[2]["outcome"].startswith("error")

    out = tmp_path / "grace.yaml"
    exported = run_tracer("logs", "export-macro", "last", str(out), env=env, timeout=180)
    assert exported.returncode == 0, exported.stderr
    assert "wrote 3 steps" in " ".join(exported.stderr.split())
    loaded = macro.load(out)
    steps = [n.step for n in loaded.steps]
    assert [s.action for s in steps] == ["click", "type", "click"]
    name_field, save = steps[0].click, steps[2].click  # type: ignore[attr-defined]
    assert steps[1].type == "Grace Hopper"  # type: ignore[attr-defined]
    assert save.text == "Save", out.read_text()
    assert name_field.anchored, out.read_text()
    for target, (x, y) in ((name_field, (400, 113)), (save, (180, 299))):
        assert target.point is not None
        assert abs(target.point[0] - x) <= 1 and abs(target.point[1] - y) <= 1
    text = out.read_text()
    assert "save a note for Grace Hopper" in text and "tracer run grace.yaml" in text

    again = run_tracer("logs", "export-macro", "last", str(out), env=env, timeout=60)
    assert again.returncode == 2 and "exists already" in again.stderr

    # Reset the form, move the window, replay without the model.
    ran = run_tracer("do", "clear the form", "--backend", "script", "--script",
                     str(script(tmp_path / "clear.jsonl", plan(click(*CLEAR, "Clear")), plan(done()))),
                     "--yes", env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    notes.wait_state(lambda s: s.get("status") == "Cleared")
    notes.move(560, 360)
    park_pointer(display)
    replay = run_tracer("run", str(out), "--yes", env=env, timeout=180)
    assert replay.returncode == 0, replay.stderr
    state = notes.wait_state(lambda s: len(s.get("saved", [])) == 2, 5, "the replayed save")
    assert state["saved"][1] == ["Grace Hopper", ""]
    assert state["clicks"] == ["Save", "Clear", "Save"]

    # Image anchors cut from the downscaled screenshot (as when OCR reads nothing there) are
    # found on the sharp screen at the confidence the export writes.
    from tracer_cli.desktop.platforms.x11 import X11Platform
    from tracer_cli.macro.export import MonitorMap, anchor_from_screenshot
    from tracer_cli.vision.imagefind import find_image

    shot = Image.open(record / lines[0]["screenshot"]).convert("RGB")
    live = X11Platform().open_screen(1).capture().image
    monitor = MonitorMap(0, 0, 1280, 800)
    for (x, y), moved in (((180, 299), (180 + 460, 299 + 280)), ((430, 299), (430 + 460, 299 + 280))):
        anchor = anchor_from_screenshot(shot, monitor, x, y, None)
        assert anchor.kind == "image", anchor
        confidence = anchor.target.get("confidence", 0.9)
        assert confidence < 0.9  # enlarged twice over: blurred
        found = find_image(live, anchor.target["image"], confidence)
        assert found, (anchor.target, find_image(live, anchor.target["image"], 0.5)[:3])
        dx, dy = anchor.target.get("offset", (0, 0))
        best = min(found, key=lambda m: abs(m.box.center[0] + dx - moved[0])
                   + abs(m.box.center[1] + dy - moved[1]))
        assert abs(best.box.center[0] + dx - moved[0]) <= 3 and abs(best.box.center[1] + dy - moved[1]) <= 3


def test_a_run_that_did_not_end_done_is_refused_unless_forced(
        display: Display, start_notes: Callable[..., Notes], tmp_path: Path) -> None:
    start_notes(display)
    env = tracer_env(display)
    plans = script(tmp_path / "plan.jsonl", plan(click(*SAVE, "Save button")),
                   plan({"action": "fail", "reason": "no idea what to do next"}))
    ran = run_tracer("do", "something", "--backend", "script", "--script", str(plans), "--yes",
                     env=env, timeout=120)
    assert ran.returncode == 1, ran.stderr
    out = tmp_path / "failed.yaml"
    refused = run_tracer("logs", "export-macro", "last", str(out), env=env, timeout=60)
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert "ended failed, not done" in message and "--force" in message
    assert not out.exists()
    forced = run_tracer("logs", "export-macro", "last", str(out), "--force", env=env, timeout=120)
    assert forced.returncode == 0, forced.stderr
    steps = [n.step for n in macro.load(out).steps]
    assert [s.action for s in steps] == ["click"]
    assert steps[0].click.text == "Save"  # type: ignore[attr-defined]
