"""Macro targets by element and short texts, with fakes: an element is tried first and placed
in monitor pixels, text and image are the fall-backs, and the record says which was used; one
or two characters of text match only a whole word of their own, and two such matches are
refused rather than guessed; the loader checks `element:` with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tracer_cli.desktop.elements import Element
from tracer_cli.errors import MacroError
from tracer_cli.macro.load import ElementSpec, Target, load
from tracer_cli.macro.run import Finder, StepFailed
from tracer_cli.vision.ocr import Box, TextBox

IMAGE = Image.new("RGB", (800, 600), "white")


class Words:
    """An OCR engine that reads the given words at the given boxes."""

    name = "fake"

    def __init__(self, *words: tuple[str, tuple[int, int, int, int]]) -> None:
        self.words = words

    def read(self, image: object) -> list[TextBox]:
        return [TextBox(text, Box(*box), 0.99) for text, box in self.words]


class Tree:
    """The elements a desktop's tree would give (boxes in desktop pixels)."""

    available = True
    reason = ""

    def __init__(self, *elements: Element) -> None:
        self.elements = elements
        self.forgotten = 0

    def find(self, role: str, name: str, window: str | None = None,
             near: tuple[int, int] | None = None) -> list[Element]:
        return [e for e in self.elements if e.role == role and e.name == name
                and window in (None, e.window)]

    def forget(self) -> None:
        self.forgotten += 1


def finder(*words: tuple[str, tuple[int, int, int, int]], tree: Tree | None = None) -> Finder:
    found = Finder(elements=tree)  # type: ignore[arg-type]
    found._engine = Words(*words)
    return found


CALC = (("M+", (10, 10, 40, 30)), ("+", (110, 10, 125, 30)))
PLUS = Element("push button", "+", (2020, 100, 2080, 140), frozenset({"showing"}), window="calc")
MPLUS = Element("push button", "M+", (1930, 100, 1990, 140), frozenset({"showing"}), window="calc")


def test_a_short_text_matches_only_a_whole_word() -> None:
    found = finder(*CALC).locate(IMAGE, Target(text="+"), Path("."), None)
    assert found is not None and found.point == (117, 20) and found.by == "text"
    assert finder(("M+", (10, 10, 40, 30))).locate(IMAGE, Target(text="+"), Path("."), None) is None


def test_a_short_text_seen_twice_is_refused_not_guessed() -> None:
    twice = finder(("7", (10, 10, 20, 30)), ("7", (300, 10, 310, 30)))
    with pytest.raises(StepFailed) as info:
        twice.locate(IMAGE, Target(text="7"), Path("."), None)
    assert "text '7' is on the screen 2 times (at (15,20), (305,20))" in info.value.message
    assert "nth" in info.value.hint and "element" in info.value.hint
    near = twice.locate(IMAGE, Target(text="7", point=(290, 15)), Path("."), None)
    assert near is not None and near.point == (305, 20)
    second = twice.locate(IMAGE, Target(text="7", nth=2), Path("."), None)
    assert second is not None and second.point == (305, 20)


def test_an_element_comes_first_in_monitor_pixels() -> None:
    tree = Tree(MPLUS, PLUS)
    target = Target(element=ElementSpec(role="push button", name="+"), text="M+")
    found = finder(*CALC, tree=tree).locate(IMAGE, target, Path("."), None, origin=(1920, 0))
    assert found is not None and found.by == "element"
    assert found.point == (130, 120) and found.box == (100, 100, 160, 140)
    assert found.to_dict()["element"] == {"role": "push button", "name": "+", "window": "calc"}


def test_without_the_element_the_text_is_used() -> None:
    target = Target(element=ElementSpec(role="push button", name="+", window="other"), text="+")
    found = finder(*CALC, tree=Tree(PLUS)).locate(IMAGE, target, Path("."), None, (1920, 0))
    assert found is not None and found.by == "text" and found.point == (117, 20)
    alone = Target(element=ElementSpec(role="push button", name="+"))
    assert finder(*CALC).locate(IMAGE, alone, Path("."), None) is None  # no tree: not found


def test_an_element_seen_twice_needs_a_point_or_nth() -> None:
    again = Element("push button", "+", (2400, 300, 2460, 340), frozenset({"showing"}), window="calc")
    target = Target(element=ElementSpec(role="push button", name="+"))
    with pytest.raises(StepFailed) as info:
        finder(tree=Tree(PLUS, again)).locate(IMAGE, target, Path("."), None, (1920, 0))
    assert "element push button '+' is on the screen 2 times" in info.value.message
    near = Target(element=ElementSpec(role="push button", name="+"), point=(500, 300))
    found = finder(tree=Tree(PLUS, again)).locate(IMAGE, near, Path("."), None, (1920, 0))
    assert found is not None and found.point == (510, 320)


def test_an_element_off_the_monitor_or_region_is_not_there() -> None:
    target = Target(element=ElementSpec(role="push button", name="+"))
    assert finder(tree=Tree(PLUS)).locate(IMAGE, target, Path("."), None, (0, 0)) is None
    assert finder(tree=Tree(PLUS)).locate(IMAGE, target, Path("."), (0, 0, 50, 50), (1920, 0)) is None


@pytest.mark.parametrize(("text", "line", "message"), [
    ("- click:\n    element: {name: '+'}\n", 2, "click.element.role: Field required"),
    ("- click:\n    element: {role: push button, name: ''}\n", 2, "click.element.name: String "
     "should have at least 1 character"),
    ("- click:\n    element: {role: push button, name: '+', title: x}\n", 2,
     "click.element.title: Extra inputs are not permitted"),
])
def test_bad_element_anchors_name_file_and_line(tmp_path: Path, text: str, line: int,
                                                message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MacroError) as info:
        load(path)
    assert f"m.yaml:{line}: {message}" in info.value.message


def test_an_element_describes_the_step(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("- click:\n    element: {role: push button, name: '+', window: calc}\n"
                    "    text: '+'\n", encoding="utf-8")
    (node,) = load(path).steps
    assert node.step.targets()[0].describe() == "element push button '+' in 'calc'"
