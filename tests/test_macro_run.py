"""The macro runner with fakes: where steps act (monitor offset), how failures and errors name
their line, the risk rules, dry runs, and that nothing acts after a failure. (The real screen,
OCR and input are in tests/e2e/test_macros.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakeScreen, make_settings
from tracer_cli.desktop.actuator import RecordingActuator
from tracer_cli.desktop.screen import Geometry, Rect
from tracer_cli.errors import ActionError
from tracer_cli.macro.load import load, unroll
from tracer_cli.macro.run import Finder, MacroRunner


class Layout(RecordingActuator):
    """An actuator whose keyboard cannot type 'é'."""

    def type_text(self, text: str) -> None:
        if "é" in text:
            raise ActionError("cannot type 'é': not on this keyboard layout")
        super().type_text(text)


def runner(tmp_path: Path, text: str, **settings: object) -> tuple[MacroRunner, RecordingActuator]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    screen = FakeScreen(geometry=Geometry(Rect(1920, 0, 1280, 800), index=2))
    actuator = Layout()
    steps = unroll(load(path))
    return MacroRunner(steps, lambda monitor: screen, actuator, Finder(),
                       make_settings(monitor=2, **settings)), actuator


def test_points_are_pixels_of_the_monitor(tmp_path: Path) -> None:
    run, actuator = runner(tmp_path, "- click: [10, 20]\n- scroll: -3\n- drag: {from: [0, 0], to: [5, 5]}\n"
                           "- type: hi\n- hotkey: ctrl+s\n")
    result = run.run("t")
    assert result.status == "done", result.reason
    assert actuator.calls[:5] == [("click", 1930, 20, "left", 1), ("scroll", 2560, 400, -3),
                                  ("drag", 1920, 0, 1925, 5), ("type", "hi"), ("hotkey", "ctrl", "s")]


def test_an_error_names_the_line_and_nothing_runs_after_it(tmp_path: Path) -> None:
    run, actuator = runner(tmp_path, "- type: abc\n- type: café\n- click: [1, 1]\n")
    result = run.run("t")
    assert result.status == "error" and result.exit_code == 1
    assert result.reason == (f"{tmp_path / 'm.yaml'}:2: type 'café': cannot type 'é': not on this "
                             "keyboard layout")
    assert not any(call[0] == "click" for call in actuator.calls)


def test_a_point_off_the_monitor_fails_with_its_line(tmp_path: Path) -> None:
    run, actuator = runner(tmp_path, "- click: [10, 10]\n- click: {point: [1270, 10], offset: [20, 0]}\n")
    result = run.run("t")
    assert result.status == "failed"
    assert ":2: click (1270,10): point (1290,10) falls outside monitor 2" in result.reason
    assert [c[0] for c in actuator.calls] == ["click", "release_all"]


@pytest.mark.parametrize(("confirm", "status"), [(None, "failed"), ("yes", "done"), ("skip", "done")])
def test_risky_steps_need_a_yes(tmp_path: Path, confirm: str | None, status: str) -> None:
    run, actuator = runner(tmp_path, "- type: 'rm -rf ~/old'\n")
    asked: list[str | None] = []
    if confirm is not None:
        run.confirm = lambda number, step, points, risk: (asked.append(risk), confirm)[1]
    result = run.run("t")
    assert result.status == status, result.reason
    typed = [c for c in actuator.calls if c[0] == "type"]
    assert typed == ([("type", "rm -rf ~/old")] if confirm == "yes" else [])
    if confirm is None:
        assert "needs confirmation: it is risky (types a command that deletes" in result.reason
    else:
        assert asked and "deletes or overwrites" in (asked[0] or "")


def test_dry_run_resolves_points_and_sends_nothing(tmp_path: Path) -> None:
    run, actuator = runner(tmp_path, "- click: [10, 20]\n- type: x\n- wait: 5\n- do: tidy up\n")
    run.actuator = None
    planned, shots = run.preview()
    assert [p.points for p in planned] == [[(10, 20)], [], [], []]
    assert planned[3].status.startswith("agent sub-task")
    assert list(shots) == [2] and actuator.calls == []


class CharBoxes:
    """An OCR engine that reads one line, 'OK Cancel', with a box per character, at the
    same place of whatever image it is given."""

    name = "fake"

    def read(self, image: object) -> list:
        from tracer_cli.vision.ocr import Box, TextBox

        chars = [TextBox(c, Box(10 + 10 * i, 5, 18 + 10 * i, 25), 0.99) for i, c in enumerate("OKCancel")]
        return [TextBox("OK Cancel", Box(10, 5, 88, 25), 0.99, tuple(chars))]


def test_a_word_inside_a_line_read_in_a_region_is_placed_in_monitor_pixels() -> None:
    from PIL import Image

    from tracer_cli.macro.load import Target

    finder = Finder()
    finder._engine = CharBoxes()
    image = Image.new("RGB", (800, 600), "white")
    found = finder.locate(image, Target(text="Cancel"), Path("."), (300, 200, 200, 100))
    assert found is not None
    # "Cancel" is characters 2..7 of the line: x 30..88 in the region, y 5..25; the region
    # starts at (300, 200).
    assert found.box == (330, 205, 388, 225)
    assert found.point == (359, 215)
