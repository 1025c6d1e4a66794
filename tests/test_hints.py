"""Element hints (--elements): which elements are listed, their boxes in each profile's own
coordinates, where the list goes in every profile's messages, and what the run records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PIL import Image

from tests.fakes import FakeBackend, FakeScreen, RecordingActuator, make_settings, step_plan
from tracer_cli.agent.loop import Agent
from tracer_cli.agent.planner import Planner
from tracer_cli.agent.profiles import PROFILES, PlanRequest
from tracer_cli.agent.profiles.hints import (
    MAX_CHARS,
    MAX_ELEMENTS,
    Hint,
    element_hints,
    frame,
    hints_text,
    lines,
    with_hints,
)
from tracer_cli.agent.runlog import step_line
from tracer_cli.desktop.elements import Element, NoElements
from tracer_cli.desktop.screen import Geometry, Rect

SHOWING = frozenset({"showing", "visible", "sensitive"})
MONITOR = Geometry(Rect(0, 0, 1280, 800))


def element(role: str, name: str, box: tuple[int, int, int, int],
            states: frozenset[str] = SHOWING) -> Element:
    return Element(role, name, box, states, window="calc")


SAVE = element("push button", "Save", (640, 400, 768, 440))
WINDOW = element("frame", "calc", (0, 0, 1280, 800))


def test_only_interactive_showing_named_elements_on_the_monitor_are_listed() -> None:
    found = element_hints([
        WINDOW,  # a window, not something to act on
        element("label", "Total", (10, 10, 90, 30)),  # not interactive
        element("push button", "  ", (10, 40, 90, 70)),  # no name
        element("push button", "Hidden", (10, 80, 90, 110), frozenset({"visible"})),
        element("push button", "Elsewhere", (1400, 10, 1500, 40)),  # on another monitor
        SAVE, SAVE,  # the same element twice: once
        element("entry", "Name\n field", (1200, 700, 1400, 820)),  # partly off: clipped
        element("check box", "Newsletter", (100, 400, 200, 420)),
    ], MONITOR)
    assert found == [
        Hint("check box", "Newsletter", (78.125, 500.0, 156.25, 525.0)),
        Hint("push button", "Save", (500.0, 500.0, 600.0, 550.0)),
        Hint("entry", "Name field", (937.5, 875.0, 1000.0, 1000.0)),
    ]  # top to bottom, then left to right; names on one line


def test_boxes_are_relative_to_the_chosen_monitor() -> None:
    second = Geometry(Rect(1280, 0, 1920, 1080), index=2)
    (hint,) = element_hints([element("link", "Docs", (1280 + 960, 540, 1280 + 1152, 594))], second)
    assert hint.box == (500.0, 500.0, 600.0, 550.0)


def test_lines_are_in_the_frame_given_and_capped() -> None:
    hint = Hint("push button", 'Say "hi"', (500.0, 500.0, 600.0, 550.0))
    assert lines([hint], (1000, 1000)) == ['push button "Say \\"hi\\"" [500,500,600,550]']
    assert lines([hint], (1288, 728)) == ['push button "Say \\"hi\\"" [644,364,773,400]']
    many = [Hint("list item", f"Item {i}", (0.0, i, 100.0, i + 1)) for i in range(200)]
    assert len(lines(many, (1000, 1000))) == MAX_ELEMENTS
    long = [Hint("link", "x" * 300, (0.0, i, 100.0, i + 1)) for i in range(MAX_ELEMENTS)]
    listed = lines(long, (1000, 1000))
    assert sum(len(line) + 1 for line in listed) <= MAX_CHARS and 0 < len(listed) < MAX_ELEMENTS
    assert all(len(line) < 80 for line in listed)  # each name cut


IMAGE = Image.new("RGB", (1280, 800), "white")


def plan_request(elements: list[Hint] | None) -> PlanRequest:
    return PlanRequest("Save the file", IMAGE, 3, elements=elements)


def texts(message: dict[str, Any]) -> list[str]:
    content = message["content"]
    if isinstance(content, str):
        return [content]
    return ["<image>" if p["type"] == "image_url" else p["text"] for p in content]


@pytest.mark.parametrize("name", sorted(PROFILES.names()))
def test_every_profile_lists_the_elements_after_the_screenshot_in_its_own_space(name: str) -> None:
    profile = PROFILES.get(name)()
    hint = Hint("push button", "Save", (500.0, 500.0, 600.0, 550.0))
    plain = profile.messages(plan_request(None))
    request = plan_request([hint])
    sent = with_hints(profile.messages(request), request, profile)
    assert with_hints(plain, plan_request(None), profile) == plain  # off: nothing changes
    # only the last user turn changes, by one text part right after its screenshot
    assert sent[:-1] == plain[:-1] and sent[-1]["role"] == plain[-1]["role"] == "user"
    before, after = texts(plain[-1]), texts(sent[-1])
    at = max(i for i, t in enumerate(before) if t == "<image>") + 1
    assert after[:at] == before[:at] and after[at + 1:] == before[at:]
    heading, line = after[at].split("\n")
    width, height = frame(profile, IMAGE.size)
    if profile.geometry.coordinates == "absolute" and name != "ui-tars-v1":
        assert (width, height) == profile.geometry.processed(*IMAGE.size) != (1000, 1000)
        assert f"pixels of the {width}x{height} screenshot" in heading
    else:
        assert (width, height) == (1000, 1000) and "0..1000" in heading
    assert line == (f'push button "Save" [{round(width / 2)},{round(height / 2)},'
                    f'{round(width * 0.6)},{round(height * 0.55)}]')


def test_a_profile_may_phrase_the_heading() -> None:
    class Plain:
        geometry = PROFILES.get("tracer1")().geometry
        elements_heading = "Buttons ({space}):"

    text, count = hints_text(plan_request([Hint("push button", "OK", (0.0, 0.0, 10.0, 10.0))]), Plain())
    assert text == 'Buttons (0..1000 of the screenshot, as your points):\npush button "OK" [0,0,10,10]'
    assert count == 1


class Tree(NoElements):
    """A tree that shows the same window every time."""

    available = True

    def __init__(self, shown: list[Element]) -> None:
        super().__init__("")
        self.shown = shown

    def active_window(self) -> list[Element]:
        return self.shown


def run(tree: Any, **settings: Any) -> tuple[FakeBackend, list[dict[str, Any]]]:
    backend = FakeBackend(step_plan({"action": "click", "x": 550, "y": 520, "target": "Save"}),
                          step_plan({"action": "done"}))
    steps: list[dict[str, Any]] = []

    class Record:
        def __getattr__(self, name: str) -> Any:
            return lambda *args: steps.append(step_line(args[0])) if name == "on_step" else None

    agent = Agent(FakeScreen(), Planner(backend, PROFILES.get("tracer1")()), None,
                  make_settings(replan="always", **settings), [Record()], elements=tree)
    agent.actuator = RecordingActuator()
    agent.run("Save the file")
    return backend, steps


def test_the_agent_sends_the_active_windows_elements_and_records_how_many() -> None:
    on_second = element("push button", "Save", (1920 + 640, 400, 1920 + 768, 440))
    backend, steps = run(Tree([WINDOW, SAVE, on_second]), elements=True)  # (fakes: monitor 2)
    for messages in backend.requests:
        assert 'push button "Save" [500,500,600,550]' in texts(messages[-1])[-2].split("\n")
    assert [s["elements_sent"] for s in steps] == [1, 1]
    assert not any("elements_note" in s for s in steps)


def test_off_by_default_and_without_a_tree_nothing_is_sent_and_the_record_says_why_once() -> None:
    backend, steps = run(Tree([WINDOW, SAVE]))
    assert "push button" not in json.dumps(backend.requests)
    assert not any("elements_sent" in s for s in steps)
    backend, steps = run(NoElements("no accessibility bus"), elements=True)
    assert "Interactive elements" not in json.dumps(backend.requests)
    assert [s["elements_sent"] for s in steps] == [0, 0]
    assert [s.get("elements_note") for s in steps] == ["no elements listed: no accessibility bus", None]
    _, steps = run(Tree([WINDOW]), elements=True)  # a window without elements (Tk)
    assert "the active window shows no named interactive element" in steps[0]["elements_note"]
    assert "elements_note" not in steps[1]
