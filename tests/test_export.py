"""Exporting a run record as a macro: the mapping of run steps (pure), coordinates, anchors
from downscaled screenshots, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tracer_cli.errors import ConfigError
from tracer_cli.macro import load as macro
from tracer_cli.macro.export import (
    MonitorMap,
    anchor_from_screenshot,
    export_run,
    map_steps,
    resampling_score,
)
from tracer_cli.vision.ocr import Box, TextBox

MONITOR = MonitorMap(0, 0, 1280, 800)


def line(step: int, action: dict[str, Any], points: list[list[int]] | None = None,
         outcome: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"step": step, "action": action, "points": points or [], "outcome": outcome,
            "screenshot": f"step-{step:03d}.png", "image_size": [640, 400], **extra}


def test_points_are_converted_from_input_units_to_monitor_pixels() -> None:
    assert MONITOR.to_pixel(640, 240) == (640, 240)
    second = MonitorMap(1280, 0, 1920, 1080)  # a monitor right of another
    assert second.to_pixel(1300, 10) == (20, 10)
    hidpi = MonitorMap(0, 0, 2560, 1600, (2.0, 2.0))  # input counts logical pixels
    assert hidpi.to_pixel(640, 400) == (1280, 800)
    assert MONITOR.to_pixel(5000, -3) == (1279, 0)  # clamped onto the monitor


def test_monitor_from_run_meta_and_a_record_without_it() -> None:
    meta = {"monitor": {"index": 2, "left": 1280, "top": 0, "width": 1920, "height": 1080,
                        "input_scale": [1.0, 1.0]}}
    assert MonitorMap.from_meta(meta) == MonitorMap(1280, 0, 1920, 1080)
    with pytest.raises(ConfigError, match="which monitor"):
        MonitorMap.from_meta({})


def test_each_executed_step_maps_to_its_macro_step() -> None:
    lines = [
        line(1, {"action": "click", "x": 500, "y": 300, "target": "Name"}, [[640, 240]]),
        line(2, {"action": "type", "text": "Ada {x}"}),
        line(3, {"action": "double_click", "x": 1, "y": 1, "target": "a"}, [[10, 20]],
             "ok (no visible effect)"),
        line(4, {"action": "right_click", "x": 1, "y": 1, "target": "a"}, [[30, 40]]),
        line(5, {"action": "hotkey", "keys": ["ctrl", "s"]}, outcome="ok (screen still changing)"),
        line(6, {"action": "scroll", "x": 1, "y": 1, "dy": -5}, [[50, 60]]),
        line(7, {"action": "drag", "x": 1, "y": 1, "x2": 2, "y2": 2}, [[70, 80], [90, 100]]),
        line(8, {"action": "wait", "seconds": 1.5}),
        line(9, {"action": "done", "answer": "ok"}, outcome="done"),
        line(10, {"action": "click", "x": 1, "y": 1, "target": "after the end"}, [[1, 1]]),
    ]
    mapped, left_out, ended = map_steps(lines, MONITOR)
    assert ended == "done" and left_out == []
    assert [m.step for m in mapped] == [
        {"click": {"point": [640, 240]}},
        {"type": "Ada {{x}}"},
        {"double_click": {"point": [10, 20]}},
        {"right_click": {"point": [30, 40]}},
        {"hotkey": ["ctrl", "s"]},
        {"scroll": {"dy": -5, "at": {"point": [50, 60]}}},
        {"drag": {"from": {"point": [70, 80]}, "to": {"point": [90, 100]}}},
        {"wait": 1.5},
    ]
    assert [m.points for m in mapped] == [[(640, 240)], [], [(10, 20)], [(30, 40)], [], [(50, 60)],
                                          [(70, 80), (90, 100)], []]
    assert mapped[0].screenshot == "step-001.png" and mapped[0].image_size == (640, 400)


def test_skipped_failed_and_unplaced_steps_are_left_out_and_fail_ends() -> None:
    lines = [
        line(1, {"action": "click", "x": 1, "y": 1, "target": "Delete"}, [[5, 5]],
             "skipped: the user declined this step"),
        line(2, {"action": "hotkey", "keys": ["ctrl", "alt", "shift", "k"]},
             outcome="error: refused to press ctrl+alt+shift+k"),
        {"step": 3, "outcome": "error: the model's answer was malformed"},
        line(4, {"action": "type", "text": "kept"}),
        line(5, {"action": "fail", "reason": "stuck"}, outcome="fail"),
    ]
    mapped, left_out, ended = map_steps(lines, MONITOR)
    assert [m.step for m in mapped] == [{"type": "kept"}]
    assert ended == "fail"
    assert [x.split(":")[0] for x in left_out] == ["step 1", "step 2", "step 3"]
    assert "skipped" in left_out[0] and "error" in left_out[1]


def test_a_run_cut_off_ends_with_its_last_line() -> None:
    mapped, _, ended = map_steps([line(1, {"action": "type", "text": "x"})], MONITOR)
    assert ended == "end" and len(mapped) == 1


# -- whole runs --------------------------------------------------------------------------------

class FakeOcr:
    """Reads "Save" where the screenshot (enlarged to the monitor) has its button."""

    name = "fake"

    def __init__(self, box: Box) -> None:
        self.box = box

    def read(self, image: Image.Image) -> list[TextBox]:
        return [TextBox("Save", self.box, 0.99)]


def screen() -> Image.Image:
    image = Image.new("RGB", (1280, 800), (216, 216, 216))
    draw = ImageDraw.Draw(image)
    draw.rectangle((600, 380, 720, 420), fill="white", outline="black")
    draw.ellipse((200, 600, 260, 660), fill=(30, 120, 200))
    draw.line((210, 630, 250, 610), fill="yellow", width=4)
    return image


def make_run(root: Path, status: str = "done", kind: str = "do", size: tuple[int, int] = (640, 400),
             lines: list[dict[str, Any]] | None = None) -> Path:
    run = root / "run-1"
    run.mkdir(parents=True)
    meta = {"id": "run-1", "kind": kind, "task": "save it", "status": status,
            "monitor": {"index": 1, "left": 0, "top": 0, "width": 1280, "height": 800,
                        "input_scale": [1.0, 1.0]}}
    (run / "run.json").write_text(json.dumps(meta))
    lines = lines if lines is not None else [
        line(1, {"action": "click", "x": 1, "y": 1, "target": "Save"}, [[660, 400]], image_size=list(size)),
        line(2, {"action": "click", "x": 1, "y": 1, "target": "blue"}, [[230, 630]], image_size=list(size)),
        line(3, {"action": "type", "text": "hello"}, image_size=list(size)),
        line(4, {"action": "done"}, outcome="done", image_size=list(size)),
    ]
    (run / "steps.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    for x in lines:
        screen().resize(size, Image.Resampling.BICUBIC).save(run / x["screenshot"])
    return run


def test_export_writes_anchors_cut_from_the_downscaled_screenshots(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    out = tmp_path / "out.yaml"
    # Where the fake OCR reads "Save": under the click, in the pixels of the region read around
    # it (from 400 left and 120 above the point).
    ocr = FakeOcr(Box(400 - 30, 120 - 10, 400 + 30, 120 + 10))
    summary = export_run(run, out, engine=ocr)
    assert summary.steps == 3 and summary.ended == "done"
    assert summary.anchors["text"] == 1 and summary.anchors["image"] == 1
    steps = [n.step for n in macro.load(out).steps]
    assert steps[0].click.text == "Save" and steps[0].click.point == (660, 400)  # type: ignore[attr-defined]
    blue = steps[1].click  # type: ignore[attr-defined]
    assert blue.image is not None and blue.point == (230, 630)
    assert blue.confidence <= 0.9  # measured on the screenshot enlarged 2x
    template = Image.open(out.parent / blue.image)
    assert max(template.size) <= 256
    from tracer_cli.vision.imagefind import find_image

    found = find_image(screen(), template, blue.confidence)  # the sharp screen
    assert found
    cx, cy = found[0].box.center
    assert abs(cx + blue.offset[0] - 230) <= 2 and abs(cy + blue.offset[1] - 630) <= 2
    assert "wrote 3 steps" in str(summary)
    text = out.read_text()
    assert "tracer do \"save it\"" in text and "tracer run out.yaml" in text


def test_full_size_screenshots_keep_the_default_confidence(tmp_path: Path) -> None:
    run = make_run(tmp_path, size=(1280, 800))
    export_run(run, tmp_path / "out.yaml", engine=None, ocr="none-such")
    steps = [n.step for n in macro.load(tmp_path / "out.yaml").steps]
    assert steps[1].click.image is not None and steps[1].click.confidence == 0.9  # type: ignore[attr-defined]


def test_runs_that_did_not_end_done_are_refused_unless_forced(tmp_path: Path) -> None:
    run = make_run(tmp_path, status="failed")
    out = tmp_path / "out.yaml"
    with pytest.raises(ConfigError) as info:
        export_run(run, out, engine=FakeOcr(Box(0, 0, 1, 1)))
    assert "ended failed, not done" in info.value.message and "--force" in info.value.hint
    assert not out.exists()
    summary = export_run(run, out, force=True, engine=FakeOcr(Box(0, 0, 1, 1)))
    assert summary.steps == 3


def test_an_existing_file_and_other_kinds_of_run_are_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    out = tmp_path / "there.yaml"
    out.write_text("- wait: 1\n")
    with pytest.raises(ConfigError, match="exists already"):
        export_run(run, out)
    assert out.read_text() == "- wait: 1\n"
    plan_run = make_run(tmp_path / "p", kind="plan")
    with pytest.raises(ConfigError, match="not `tracer do`"):
        export_run(plan_run, tmp_path / "new.yaml")
    with pytest.raises(ConfigError, match="not a run record"):
        export_run(tmp_path / "nowhere", tmp_path / "new.yaml")


def test_a_run_with_nothing_to_repeat_is_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path, lines=[line(1, {"action": "done"}, outcome="done")])
    with pytest.raises(ConfigError, match="no step that a macro can repeat"):
        export_run(run, tmp_path / "out.yaml")


def test_resampling_score_is_lower_for_sharp_detail_than_for_smooth_areas() -> None:
    image = screen().resize((640, 400), Image.Resampling.BICUBIC)
    edge = resampling_score(image, 2.0, (100, 300, 130, 330))  # the blue disc's edge, small
    smooth = resampling_score(image, 1.0, (100, 300, 130, 330))
    assert smooth > 0.99
    assert 0.0 < edge < smooth


def test_anchor_from_screenshot_maps_a_monitor_point_into_the_screenshot() -> None:
    shot = screen().resize((640, 400), Image.Resampling.BICUBIC)
    anchor = anchor_from_screenshot(shot, MONITOR, 230, 630, None)
    assert anchor.kind == "image" and anchor.target["point"] == [230, 630]
