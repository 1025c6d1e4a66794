"""The recorder's pure parts: events -> steps, steps -> macro mappings, anchors, and the macro
writer (its output loads back with macro.load)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tracer_cli.errors import ConfigError
from tracer_cli.macro import load as macro
from tracer_cli.macro.recorded import (
    ButtonEvent,
    KeyEvent,
    RecordedStep,
    WheelEvent,
    drop_interrupt_key,
    macro_step,
    steps_from_events,
)
from tracer_cli.macro.write import assets_dir, literal, render, write_macro
from tracer_cli.vision.anchors import anchor_for
from tracer_cli.vision.ocr import Box, TextBox

STOP = frozenset({"ctrl", "alt", "shift", "k"})


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self, dt: float = 0.05) -> float:
        self.t += dt
        return self.t


def keys(clock: Clock, *names: str) -> list[KeyEvent]:
    """Each name pressed and released in turn."""
    out = []
    for name in names:
        out += [KeyEvent(clock(), name, True), KeyEvent(clock(), name, False)]
    return out


def chord(clock: Clock, *names: str) -> list[KeyEvent]:
    """Names pressed in order, released in reverse."""
    return [KeyEvent(clock(), n, True) for n in names] + [KeyEvent(clock(), n, False)
                                                           for n in reversed(names)]


def click(clock: Clock, x: int, y: int, button: str = "left", to: tuple[int, int] | None = None,
          shot: int | None = 1, gap: float = 0.3) -> list[ButtonEvent]:
    x2, y2 = to or (x, y)
    return [ButtonEvent(clock(gap), x, y, button, True, shot),
            ButtonEvent(clock(0.08), x2, y2, button, False)]


def summary(steps: list[RecordedStep]) -> list[tuple]:
    out: list[tuple] = []
    for s in steps:
        if s.action == "type":
            out.append(("type", s.text))
        elif s.action == "hotkey":
            out.append(("hotkey", *s.keys))
        elif s.action == "scroll":
            out.append(("scroll", s.dy, *s.points))
        else:
            out.append((s.action, *s.points))
    return out


# -- events -> steps ---------------------------------------------------------------------------

def test_printable_keys_merge_into_one_type_step_with_enter_and_tab() -> None:
    c = Clock()
    events = keys(c, "H", "i", "space", "!", "enter", "x", "tab", "y")
    assert summary(steps_from_events(events)) == [("type", "Hi !\nx\ty")]


def test_shift_only_changes_the_character() -> None:
    c = Clock()
    events = [KeyEvent(c(), "shift", True), *keys(c, "A", "B"), KeyEvent(c(), "shift", False),
              *keys(c, "c")]
    assert summary(steps_from_events(events)) == [("type", "ABc")]


def test_backspace_edits_the_text_being_typed() -> None:
    c = Clock()
    events = keys(c, "a", "b", "x", "backspace", "c")
    assert summary(steps_from_events(events)) == [("type", "abc")]


def test_backspace_that_erases_everything_leaves_no_step_and_then_is_a_key() -> None:
    c = Clock()
    events = keys(c, "a", "backspace", "backspace")
    assert summary(steps_from_events(events)) == [("hotkey", "backspace")]


def test_chords_become_hotkeys_and_split_the_typing() -> None:
    c = Clock()
    events = [*keys(c, "a"), *chord(c, "ctrl", "s"), *keys(c, "b"),
              *chord(c, "ctrl", "shift", "T"), *chord(c, "alt", "f4")]
    assert summary(steps_from_events(events)) == [
        ("type", "a"), ("hotkey", "ctrl", "s"), ("type", "b"), ("hotkey", "ctrl", "shift", "t"),
        ("hotkey", "alt", "f4")]


def test_special_keys_are_single_key_hotkeys_and_shift_tab_a_chord() -> None:
    c = Clock()
    events = [*keys(c, "escape", "down", "f5"), *chord(c, "shift", "tab"), *chord(c, "shift", "enter")]
    assert summary(steps_from_events(events)) == [
        ("hotkey", "escape"), ("hotkey", "down"), ("hotkey", "f5"), ("hotkey", "shift", "tab"),
        ("hotkey", "shift", "enter")]


def test_modifiers_alone_are_nothing() -> None:
    c = Clock()
    events = [*keys(c, "ctrl", "shift", "alt", "win")]
    assert steps_from_events(events) == []


def test_the_stop_chord_is_not_recorded_and_ends_the_recording() -> None:
    c = Clock()
    events = [*keys(c, "o", "k"), *chord(c, "ctrl", "alt", "shift", "K"), *keys(c, "z")]
    assert summary(steps_from_events(events, STOP)) == [("type", "ok")]
    # pressed in another order, with the letter as X reports it under shift
    c = Clock()
    events = [*keys(c, "a"), *chord(c, "shift", "ctrl", "alt", "K")]
    assert summary(steps_from_events(events, STOP)) == [("type", "a")]


def test_ctrl_c_that_stopped_the_recording_is_dropped() -> None:
    c = Clock()
    steps = steps_from_events([*keys(c, "a"), *chord(c, "ctrl", "c")])
    assert summary(drop_interrupt_key(steps)) == [("type", "a")]
    assert summary(drop_interrupt_key(steps[:1])) == [("type", "a")]


def test_clicks_double_clicks_right_clicks_and_drags() -> None:
    c = Clock()
    events = [*click(c, 10, 10), *click(c, 100, 100, shot=2), *click(c, 101, 99, shot=3, gap=0.1),
              *click(c, 200, 50, "right", shot=4), *click(c, 300, 300, to=(400, 380), shot=5),
              *click(c, 500, 500, "middle", shot=None)]
    steps = steps_from_events(events)
    assert summary(steps) == [("click", (10, 10)), ("double_click", (100, 100)),
                              ("right_click", (200, 50)), ("drag", (300, 300), (400, 380))]
    assert [s.shot for s in steps] == [1, 2, 4, 5]


def test_two_clicks_far_apart_in_time_or_space_stay_two_clicks() -> None:
    c = Clock()
    events = [*click(c, 100, 100), *click(c, 100, 100, gap=0.8), *click(c, 140, 100, gap=0.1)]
    assert summary(steps_from_events(events)) == [("click", (100, 100))] * 2 + [("click", (140, 100))]


def test_a_small_wobble_is_still_a_click() -> None:
    c = Clock()
    assert summary(steps_from_events(click(c, 100, 100, to=(103, 98)))) == [("click", (100, 100))]


def test_a_click_ends_the_typing_and_typing_resumes_in_a_new_step() -> None:
    c = Clock()
    events = [*click(c, 10, 10), *keys(c, "a", "b"), *click(c, 50, 50), *keys(c, "c")]
    assert summary(steps_from_events(events)) == [
        ("click", (10, 10)), ("type", "ab"), ("click", (50, 50)), ("type", "c")]


def test_a_release_without_its_press_is_ignored() -> None:
    c = Clock()
    assert steps_from_events([ButtonEvent(c(), 5, 5, "left", False)]) == []


def test_wheel_clicks_in_a_row_merge_into_one_scroll() -> None:
    c = Clock()
    events = [WheelEvent(c(), 300, 300, -1, 1), WheelEvent(c(), 301, 302, -1),
              WheelEvent(c(), 302, 305, -1), WheelEvent(c(), 302, 305, 1),  # other way
              WheelEvent(c(2.0), 302, 305, 1, 2),  # after a pause
              WheelEvent(c(), 700, 100, 1, 3)]  # elsewhere
    steps = steps_from_events(events)
    assert summary(steps) == [("scroll", -3, (300, 300)), ("scroll", 1, (302, 305)),
                              ("scroll", 1, (302, 305)), ("scroll", 1, (700, 100))]


def test_events_from_two_threads_are_put_in_time_order() -> None:
    events = [KeyEvent(0.5, "b", True), ButtonEvent(0.1, 5, 5, "left", True, 1),
              KeyEvent(0.4, "a", True), ButtonEvent(0.2, 5, 5, "left", False)]
    assert summary(steps_from_events(events)) == [("click", (5, 5)), ("type", "ab")]


# -- steps -> macro mappings -------------------------------------------------------------------

def test_macro_step_of_each_kind() -> None:
    text = {"text": "Save", "point": [5, 6]}

    class A:
        kind = "text"
        target = text

    assert macro_step(RecordedStep("click", 0, 0, [(5, 6)]), [A()], 0) == {"click": text}  # type: ignore[list-item]
    assert macro_step(RecordedStep("double_click", 0, 0, [(5, 6)]), [None], 0) == \
        {"double_click": {"point": [5, 6]}}
    assert macro_step(RecordedStep("drag", 0, 0, [(1, 2), (3, 4)]), [None, None], 0) == \
        {"drag": {"from": {"point": [1, 2]}, "to": {"point": [3, 4]}}}
    assert macro_step(RecordedStep("scroll", 0, 0, [(1, 2)], dy=-4), [None], 0) == \
        {"scroll": {"dy": -4, "at": {"point": [1, 2]}}}
    assert macro_step(RecordedStep("type", 0, 0, text="a{b}"), [], 0) == {"type": "a{{b}}"}
    assert macro_step(RecordedStep("hotkey", 0, 0, keys=["ctrl", "s"]), [], 0) == {"hotkey": ["ctrl", "s"]}
    assert macro_step(RecordedStep("hotkey", 0, 0, keys=["altgr", "q"]), [], 0) is None


def test_a_long_pause_before_an_anchored_step_becomes_its_timeout() -> None:
    class A:
        kind = "text"
        target = {"text": "OK"}

    step = RecordedStep("click", 0, 0, [(5, 6)])
    assert "timeout" not in macro_step(step, [A()], 3.0)  # type: ignore[list-item,operator]
    assert macro_step(step, [A()], 12.0)["timeout"] == 14.0  # type: ignore[list-item,index]
    assert macro_step(step, [A()], 600.0)["timeout"] == 30.0  # type: ignore[list-item,index]
    assert "timeout" not in macro_step(step, [None], 12.0)  # type: ignore[operator]


# -- anchors -----------------------------------------------------------------------------------

class FakeOcr:
    name = "fake"

    def __init__(self, lines: list[TextBox]) -> None:
        self.lines = lines
        self.calls = 0

    def read(self, image: Image.Image) -> list[TextBox]:
        self.calls += 1
        return list(self.lines)


def screen() -> Image.Image:
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 140, 70), outline="black", fill=(200, 220, 255))
    draw.line((60, 50, 120, 60), fill="red", width=3)
    draw.ellipse((250, 200, 290, 240), fill="green")
    return image


def test_a_click_on_text_gets_a_text_anchor_with_the_offset_from_its_centre() -> None:
    # read_region crops around the point: the fake engine answers in the crop's pixels
    x, y = 210, 150
    crop_left, crop_top = max(0, x - 400), max(0, y - 120)
    line = TextBox("Save", Box(200 - crop_left, 140 - crop_top, 240 - crop_left, 160 - crop_top), 0.95)
    anchor = anchor_for(screen(), x, y, FakeOcr([line]))
    assert anchor.kind == "text"
    assert anchor.target == {"text": "Save", "point": [210, 150], "offset": [-10, 0]}


def test_text_too_short_to_be_an_anchor_falls_back_to_an_image() -> None:
    line = TextBox("x", Box(255, 210, 285, 230), 0.95)
    anchor = anchor_for(screen(), 270, 220, FakeOcr([line]))
    assert anchor.kind == "image"
    assert anchor.target["point"] == [270, 220]
    assert hasattr(anchor.target["image"], "save")


def test_no_text_under_the_point_gives_an_image_anchor_that_finds_the_point() -> None:
    from tracer_cli.vision.imagefind import find_image

    image = screen()
    anchor = anchor_for(image, 90, 55, FakeOcr([]))
    assert anchor.kind == "image"
    found = find_image(image, anchor.target["image"], 0.9)
    assert len(found) == 1
    cx, cy = found[0].box.center
    dx, dy = anchor.target.get("offset", [0, 0])
    assert (cx + dx, cy + dy) == (90, 55)


def test_a_flat_area_keeps_only_the_point() -> None:
    anchor = anchor_for(Image.new("RGB", (300, 200), "white"), 150, 100, None)
    assert anchor.kind == "point"
    assert anchor.target == {"point": [150, 100]}
    assert anchor.note


# -- the macro writer --------------------------------------------------------------------------

def test_written_macro_loads_back_with_short_forms_and_images(tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    crop = screen().crop((40, 40, 140, 80))
    steps = [
        {"click": {"text": "Save", "point": [210, 150], "offset": [-10, 0]}},
        {"click": {"text": "Name"}},
        {"double_click": {"point": [5, 6]}},
        {"right_click": {"image": crop, "point": [90, 55], "offset": [0, -5], "confidence": 0.8}},
        {"type": "Ada Lovelace\n"},
        {"type": "yes"},
        {"type": "say \"hi\": {{x}} # not a comment"},
        {"hotkey": ["ctrl", "s"]},
        {"hotkey": ["ctrl", "+"]},
        {"scroll": {"dy": -3, "at": {"point": [300, 200]}}},
        {"scroll": {"dy": 2, "at": None}},
        {"drag": {"from": {"point": [1, 2]}, "to": {"text": "Trash", "point": [3, 4]}}},
        {"wait": 1.5},
        {"click": {"text": "Save"}, "timeout": 14.0},
    ]
    write_macro(out, steps, name="demo", description="a test: with colons",
                header_comment_lines=["Recorded by a test.", "Replay: tracer run m.yaml"])
    text = out.read_text()
    assert text.startswith("# ")
    assert "# Recorded by a test.\n# Replay: tracer run m.yaml\n" in text
    assert "- click: Name\n" in text
    assert "- double_click: [5, 6]\n" in text
    assert "- hotkey: ctrl+s\n" in text
    assert "- scroll: 2\n" in text
    assert "- click: {text: Save, point: [210, 150], offset: [-10, 0]}\n" in text
    assert "\n  timeout: 14\n" in text or "\n  timeout: 14.0\n" in text
    images = sorted(assets_dir(out).glob("*.png"))
    assert [p.name for p in images] == ["004-right-click-1.png"]
    assert "image: m_images/004-right-click-1.png" in text

    loaded = macro.load(out)
    assert loaded.name == "demo" and loaded.description == "a test: with colons"
    got = [n.step for n in loaded.steps]
    assert got[0].click.text == "Save" and got[0].click.offset == (-10, 0)  # type: ignore[attr-defined]
    assert got[3].right_click.confidence == 0.8  # type: ignore[attr-defined]
    assert got[3].right_click.image == "m_images/004-right-click-1.png"  # type: ignore[attr-defined]
    assert got[4].type == "Ada Lovelace\n"  # type: ignore[attr-defined]
    assert got[5].type == "yes"  # type: ignore[attr-defined]
    assert got[8].hotkey == ["ctrl", "+"]  # type: ignore[attr-defined]
    assert got[10].scroll.dy == 2 and got[10].scroll.at is None  # type: ignore[attr-defined]
    assert got[11].drag.end.text == "Trash"  # type: ignore[attr-defined]
    assert got[13].timeout == 14.0
    instances = macro.unroll(loaded)
    assert macro.typed_text(instances[6]) == "say \"hi\": {x} # not a comment"
    assert not list(tmp_path.glob(".*.tmp"))


def test_literal_text_is_typed_as_written(tmp_path: Path) -> None:
    out = tmp_path / "lit.yaml"
    text = "{name} and {{ }} }{"
    write_macro(out, [{"type": literal(text)}, {"click": {"text": literal("{x}")}}])
    steps = macro.unroll(macro.load(out))
    assert macro.typed_text(steps[0]) == text
    assert steps[1].step.click.text == "{x}"  # type: ignore[attr-defined]


def test_a_long_step_is_written_in_block_style() -> None:
    text = render([{"click": {"text": "A very long label " * 4, "point": [1, 2], "offset": [3, 4]}}])
    assert "- click:\n    text: " in text
    assert "\n    point: [1, 2]\n" in text


@pytest.mark.parametrize("value", ["yes", "No", "null", "1.5", "12", "true", "- x", "a: b", "#x",
                                   "[x]", "x ", " x", "", "é", "multi\nline", "tab\there", "'q'"])
def test_strings_are_quoted_whenever_yaml_would_read_them_otherwise(tmp_path: Path, value: str) -> None:
    import yaml

    text = render([{"type": value or "x"}], name=value)
    data = yaml.safe_load(text)
    assert data["steps"][0]["type"] == (value or "x")
    if value:
        assert data["name"] == value


def test_nothing_to_write_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no steps"):
        write_macro(tmp_path / "x.yaml", [])


def form() -> tuple[Image.Image, list[TextBox]]:
    """A form: label "Name" left of an empty field, a filled field below, a button further down;
    and the lines OCR reads there (in the pixels of the region read around (300, 60))."""
    image = Image.new("RGB", (600, 300), (216, 216, 216))
    draw = ImageDraw.Draw(image)
    for top in (50, 100):
        draw.rectangle((150, top, 550, top + 24), fill="white", outline="black")
    lines = [TextBox("Name", Box(20, 52, 80, 72), 0.99),
             TextBox("Ada Lovelace", Box(155, 102, 280, 122), 0.99),
             TextBox("Save", Box(20, 200, 80, 220), 0.99)]
    return image, lines


def test_an_empty_field_is_anchored_to_its_label_not_to_typed_text() -> None:
    image, lines = form()
    # the region read around (300, 62) starts at (0, 0): the lines' pixels are the image's
    anchor = anchor_for(image, 300, 62, FakeOcr(lines), typed=["Ada Lovelace"])
    assert anchor.kind == "text", anchor
    assert anchor.target == {"text": "Name", "point": [300, 62], "offset": [250, 0]}
    # the text typed in the recording is content: it anchors nothing, even under the pointer
    anchor = anchor_for(image, 200, 112, FakeOcr(lines), typed=["Ada Lovelace"])
    assert anchor.target.get("text") != "Ada Lovelace"
    assert anchor_for(image, 200, 112, FakeOcr(lines)).target["text"] == "Ada Lovelace"


def test_typed_by_user() -> None:
    from tracer_cli.vision.anchors import typed_by_user

    assert typed_by_user("AdaLovelace", ["Ada Lovelace"])
    assert typed_by_user("Saved Ada Lovelace", ["Ada Lovelace\n"])
    assert typed_by_user("Ada", ["Ada Lovelace"])
    assert not typed_by_user("Name", ["Ada Lovelace"])
    assert not typed_by_user("Save", ["a", "x"])  # too short to tell
