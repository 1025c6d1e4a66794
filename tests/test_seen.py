"""Grounding without a second look (agent/seen.py): a click whose target the screen already
shows at the planner's point goes to it, and no zoom turn is asked; anything less sure is
zoomed as before. The OCR here is the real engine on drawn screens; the tree is a fake (the
real AT-SPI path: tests/e2e/test_seen.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from tests.fakes import FakeBackend, FakeScreen, make_settings, step_plan
from tracer_cli.agent.backends.script import ScriptBackend
from tracer_cli.agent.labels import OcrReader
from tracer_cli.agent.loop import Agent
from tracer_cli.agent.planner import Planner
from tracer_cli.agent.profiles import PROFILES
from tracer_cli.agent.runloop import Listener
from tracer_cli.agent.seen import by_element, by_text, names_a_field
from tracer_cli.desktop.actuator import RecordingActuator
from tracer_cli.desktop.elements import Element
from tracer_cli.desktop.screen import Geometry, Rect

SCREEN = (1920, 1080)
LOW = 300_000  # a planner budget under Qwen3-VL's grounding minimum: clicks are zoomed
OK = Element("push button", "OK", (900, 500, 1000, 540), frozenset({"showing"}), window="dialog")


def font(size: int = 28) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype("DejaVuSans.ttf", size)


def blank() -> FakeScreen:
    return FakeScreen(SCREEN, Geometry(Rect(0, 0, *SCREEN)))


def screen_with(*labels: tuple[str, tuple[int, int]]) -> FakeScreen:
    """A 1920x1080 screen with grey buttons, each with its label centred on the given pixel."""
    screen = blank()
    screen.image = Image.new("RGB", SCREEN, (240, 240, 240))
    draw = ImageDraw.Draw(screen.image)
    for text, (x, y) in labels:
        draw.rectangle((x - 90, y - 28, x + 90, y + 28), fill=(210, 210, 210), outline=(90, 90, 90))
        draw.text((x, y), text, fill="black", font=font(), anchor="mm")
    return screen


class Tree:
    """The element a desktop's tree has at each point (boxes in desktop pixels)."""

    available, reason = True, ""

    def __init__(self, *elements: Element) -> None:
        self.elements, self.asked = elements, []

    def at(self, x: int, y: int) -> Element | None:
        self.asked.append((x, y))
        return next((e for e in self.elements if e.contains(x, y)), None)

    def forget(self) -> None:
        pass

    def reread(self, element: Element) -> Element | None:
        return element


def agent_with(backend: FakeBackend, screen: FakeScreen, tree: Tree | None = None,
               **overrides: Any) -> tuple[Agent, RecordingActuator]:
    actuator = RecordingActuator(SCREEN)
    planner = Planner(backend, PROFILES.get("tracer1")())
    agent = Agent(screen, planner, actuator, make_settings(max_steps=1, max_pixels=LOW, **overrides),
                  elements=tree)  # type: ignore[arg-type]
    return agent, actuator


def click(x: float, y: float, target: str) -> dict[str, Any]:
    return step_plan({"action": "click", "x": x, "y": y, "target": target}, {"action": "done"})


def test_the_element_at_the_point_named_by_the_target_is_clicked_at_its_centre() -> None:
    assert by_element(OK, "the OK button", (0, 0), SCREEN).pixel == (950, 520)  # type: ignore[union-attr]
    assert by_element(OK, "OK", (100, 0), SCREEN).pixel == (850, 520)  # type: ignore[union-attr]
    # another name, a word inside another ('OK' is not in 'OKAY'), no name, a long text, a pane
    assert by_element(OK, "the Cancel button", (0, 0), SCREEN) is None
    assert by_element(OK, "OKAY", (0, 0), SCREEN) is None
    assert by_element(Element("push button", "", OK.box), "OK", (0, 0), SCREEN) is None
    text = Element("text", "OK", OK.box, frozenset({"multi-line", "editable"}))
    assert by_element(text, "the OK text", (0, 0), SCREEN) is None
    assert by_element(Element("list item", "OK", (0, 0, 1500, 800)), "OK", (0, 0), SCREEN) is None
    assert by_element(None, "OK", (0, 0), SCREEN) is None


def test_a_target_that_names_a_field_is_never_placed_by_its_label() -> None:
    assert names_a_field("the Name field") and names_a_field("Search box")
    assert not names_a_field("the OK button") and not names_a_field("Save As... in the File menu")


def test_the_label_read_under_the_point_places_the_click_on_the_text() -> None:
    screen = screen_with(("Save", (700, 400)), ("Cancel", (1000, 400)))
    reader = OcrReader()
    point = (705 * 1000 / 1920, 398 * 1000 / 1080)  # on "Save", a little off its centre
    seen = by_text(reader, screen.image, point, "the Save button")
    assert seen is not None and seen.by == "text"
    assert seen.pixel == (705, 398)  # a point on the text stays where it is
    beside = by_text(reader, screen.image, (seen_right(screen, reader), 398 * 1000 / 1080),
                     "the Save button")
    assert beside is not None and 690 < beside.pixel[0] < 740  # moved onto the text's end
    assert by_text(reader, screen.image, point, "the Cancel button") is None
    # on the button but off its text (more than a text's height): a zoom decides
    off = (780 * 1000 / 1920, 398 * 1000 / 1080)
    assert by_text(reader, screen.image, off, "the Save button") is None
    assert by_text(reader, screen.image, point, "the Save field") is None


def seen_right(screen: FakeScreen, reader: OcrReader) -> float:
    """Just right of the text "Save" (its right edge plus 4 pixels), in 0..1000."""
    found = reader.phrase(screen.image, (700 * 1000 / 1920, 400 * 1000 / 1080), "Save")
    assert found is not None
    return (found.box.right + 4) * 1000 / 1920


def test_an_element_named_by_the_target_costs_no_zoom_turn() -> None:
    backend = FakeBackend(click(490, 475, "the OK button"))  # (941, 513): inside OK, off its centre
    agent, actuator = agent_with(backend, blank(), Tree(OK))
    result = agent.run("press OK")
    assert actuator.calls[0] == ("click", 950, 520, "left", 1)
    assert len(backend.requests) == 1 and result.zoom_calls == 0


def test_another_element_there_is_zoomed_as_before_and_ocr_is_not_asked() -> None:
    backend = FakeBackend(click(490, 475, "the Cancel button"), '{"x": 100, "y": 900}')
    screen = screen_with(("Cancel", (941, 513)))  # OCR would read it: the tree decides first
    agent, actuator = agent_with(backend, screen, Tree(OK))
    result = agent.run("press Cancel")
    assert result.zoom_calls == 1 and len(backend.requests) == 2
    assert agent._reader.reads == 0


def test_without_a_tree_the_text_at_the_point_places_the_click() -> None:
    backend = FakeBackend(click(364, 371, "Save"))  # (699, 401) on "Save"
    agent, actuator = agent_with(backend, screen_with(("Save", (700, 400))))
    result = agent.run("save")
    _, x, y, _, _ = actuator.calls[0]
    assert abs(x - 700) <= 6 and abs(y - 400) <= 6
    assert len(backend.requests) == 1 and result.zoom_calls == 0


def test_switched_off_every_click_is_zoomed() -> None:
    backend = FakeBackend(click(490, 475, "the OK button"), '{"x": 100, "y": 900}')
    agent, _ = agent_with(backend, blank(), Tree(OK), ground_on_screen=False)
    assert agent.run("press OK").zoom_calls == 1


def test_while_the_answer_streams_a_click_seen_on_screen_runs_before_it_ends(tmp_path: Path) -> None:
    """A click that would wait for a zoom turn (which needs the whole answer) runs as soon as
    its step is complete when the screen shows its target; otherwise it waits as before."""
    first = json.dumps(click(490, 475, "the OK button"))[:-len(', {"action": "done"}]}')]
    for tree, zooms in ((Tree(OK), 0), (None, 1)):
        script = Recording(tmp_path, {"chunks": [first, ', {"action": "done"}]}'], "seconds": 1.0},
                           '{"x": 490, "y": 475}')
        agent, actuator = agent_with(script, blank(), tree)  # type: ignore[arg-type]
        sent: list[int] = []
        agent.listeners.append(When(lambda sent=sent, script=script: sent.append(script.sent)))
        result = agent.run("press OK")
        assert result.zoom_calls == zooms
        assert sent == [1] if tree else sent[0] >= 2  # before the rest came; after it (and the zoom)
        assert (actuator.calls[0][1:3] == (950, 520)) == bool(tree)  # else where the zoom said


class Recording(ScriptBackend):
    def __init__(self, tmp_path: Path, *answers: Any) -> None:
        path = tmp_path / "plans.jsonl"
        path.write_text("\n".join(json.dumps(a) for a in answers) + "\n", encoding="utf-8")
        super().__init__(path)


class When(Listener):
    def __init__(self, note: Any) -> None:
        self.note = note

    def on_action(self, number: int, step: Any, points: Any) -> None:
        self.note()


def test_the_ocr_engine_is_made_while_the_model_answers_when_clicks_may_be_read() -> None:
    """Its models take seconds to load: made on a thread of their own when the first screen
    that needs zoom turns is taken, not at the first read."""
    for overrides, warmed in (({}, True), ({"ground_on_screen": False}, False)):
        backend = FakeBackend(click(490, 475, "the OK button"), '{"x": 100, "y": 900}')
        agent, _ = agent_with(backend, blank(), None, **overrides)  # no tree: text decides
        agent.run("press OK")
        assert (agent._reader._warming is not None) == warmed
        if warmed:  # and the run waited for it to end (a thread left in native code at exit aborts)
            assert not agent._reader._warming.is_alive() and agent._reader._engine is not None
    backend = FakeBackend(click(490, 475, "the OK button"))
    agent, _ = agent_with(backend, blank(), Tree(OK))
    agent.run("press OK")  # with a tree, the element decides: no engine made unasked
    assert agent._reader._warming is None and agent._reader.reads == 0
