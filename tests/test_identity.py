"""Forecast checks by identity and effects by state, with elements made by hand: a click whose
point is on another element now goes back to the model naming it; the same element (or one
named as the target) vouches for a point the pixels could not check; without an element the
pixels decide alone; a changed state is an effect even where no pixel moved; typing runs only
where the keyboard focus is the element the plan expects."""

from __future__ import annotations

from tracer_cli.agent.effects import Effect
from tracer_cli.agent.speculate import Verdict, by_focus, by_identity, expected_focus, names_target
from tracer_cli.desktop.elements import Element, state_change
from tracer_cli.plan import Click, Hotkey, Type

PLUS = Element("push button", "+", (0, 0, 40, 40), frozenset({"showing", "sensitive"}))
MPLUS = Element("push button", "M+", (0, 0, 40, 40), frozenset({"showing"}))
QUIT = Element("menu item", "Quit", (0, 0, 90, 20), frozenset({"showing"}))
PANEL = Element("panel", "", (0, 0, 400, 400), frozenset({"showing"}))
FILLER = Element("filler", "", (0, 0, 400, 400), frozenset({"showing"}))
OK = Verdict("ok", "target still at its point", None)
FLAT = Verdict("unchecked", "nothing recognisable at (500,500) to check the target by")


def click(target: str) -> Click:
    return Click(action="click", x=500, y=500, target=target)


def test_the_target_text_names_an_element_as_a_whole_word() -> None:
    assert names_target("the + button", "+") and names_target("+", "+")
    assert not names_target("M+ button", "+") and not names_target("the + button", "M+")
    assert names_target("Open... menu entry", "_Open…")
    assert not names_target("Save", "") and not names_target("Saved file", "Save")


def test_another_element_under_the_point_goes_back_to_the_model_named() -> None:
    step = click("Open")
    verdict = by_identity(step, Verdict("ok", "target still at its point", step), PANEL, QUIT)
    assert verdict.status == "failed"
    assert verdict.reason == ("the point of click (500,500) 'Open' is now on menu item 'Quit' "
                              "(it was on panel when forecast)")
    lost = Verdict("failed", "the target of click is no longer where it was forecast (best 0.4)")
    assert "is now on menu item 'Quit'" in by_identity(step, lost, PANEL, QUIT).reason


def test_the_same_element_or_the_named_one_vouches() -> None:
    step = click("plus key")
    kept = by_identity(step, Verdict("ok", "target still at its point", step), PLUS, PLUS)
    assert kept.ok and kept.reason.endswith("the element there is still push button '+'")
    vouched = by_identity(step, FLAT, PLUS, PLUS)
    assert vouched.ok and vouched.step is step
    named = by_identity(click("the + button"), FLAT, None, PLUS)
    assert named.ok and "push button '+', the target" in named.reason
    assert by_identity(click("the + button"), FLAT, None, MPLUS) == FLAT  # no opinion


def test_without_an_element_the_pixels_decide() -> None:
    step = click("Open")
    assert by_identity(step, OK, PANEL, None) == OK
    assert by_identity(step, OK, FILLER, PANEL) == OK  # two unnamed containers tell nothing
    typing = Type(action="type", text="hi")
    assert by_identity(typing, OK, PLUS, QUIT) == OK
    wrong = Verdict("failed", "the last step (click) did not go as forecast: error")
    assert by_identity(step, wrong, PANEL, QUIT) == wrong  # what went wrong before comes first


def test_a_changed_state_is_an_effect() -> None:
    box = Element("check box", "Agree", (0, 0, 80, 20), frozenset({"showing"}), text=None)
    ticked = Element("check box", "Agree", (0, 0, 80, 20), frozenset({"showing", "checked",
                                                                      "focused"}))
    assert state_change(box, ticked) == "check box 'Agree': checked, focused"
    assert state_change(ticked, box) == "check box 'Agree': no longer checked, no longer focused"
    assert state_change(box, box) == "" and state_change(box, None) == ""
    entry = Element("text", "", (0, 0, 80, 20), text="1")
    assert state_change(entry, Element("text", "", (0, 0, 80, 20), text="1+")) == \
        "text: its text changed"
    still = Effect(0.0, 0.0, 0)
    assert not still.visible
    moved = Effect(0.0, 0.0, 0, state="check box 'Agree': checked")
    assert moved.visible and moved.to_dict()["state"] == "check box 'Agree': checked"


NAME = Element("text", "Name", (0, 0, 200, 30), frozenset({"showing", "focusable", "editable", "focused"}),
               ref=(":1.5", "/org/a11y/atspi/accessible/12"))
OK_BUTTON = Element("push button", "OK", (0, 50, 80, 80), frozenset({"showing", "focusable", "focused"}),
                    ref=(":1.5", "/org/a11y/atspi/accessible/13"))


def test_typing_goes_back_when_another_element_has_the_focus() -> None:
    typing = Type(action="type", text="Ada")
    keys_ok = Verdict("ok", "keys follow click, the screen changed only there", typing)
    refused = by_focus(typing, keys_ok, NAME, OK_BUTTON)
    assert refused.status == "failed"
    assert refused.reason == ("the keyboard focus is on push button 'OK', not on text 'Name': "
                              "type 'Ada' would go there")
    kept = by_focus(typing, keys_ok, NAME, NAME)  # (read again: the same object)
    assert kept.ok and kept.reason.endswith("the keyboard focus is on text 'Name'")
    combo = Element("combo box", "Size", (0, 100, 200, 130), frozenset({"showing", "focusable"}))
    part = Element("push button", "", (170, 100, 200, 130), frozenset({"showing", "focused"}))
    assert by_focus(typing, keys_ok, combo, part).ok  # the clicked box's own button has it
    aimed = Type(action="type", text="Ada", target="the Name field")
    named = by_focus(aimed, Verdict("unchecked", "type does not follow a click or keys"), None, NAME)
    assert named.ok and "text 'Name', the target" in named.reason
    assert "not on 'the Name field'" in by_focus(aimed, keys_ok, None, OK_BUTTON).reason
    # typing is never sent into a button its target names; a key press may be
    assert not by_focus(Type(action="type", text="x", target="OK"), keys_ok, None, OK_BUTTON).ok
    assert by_focus(Hotkey(action="hotkey", keys=["space"], target="OK"), keys_ok, None, OK_BUTTON).ok


def test_keys_without_a_focus_or_an_expectation_are_the_pixels_to_decide() -> None:
    typing = Type(action="type", text="Ada")
    keys_ok = Verdict("ok", "keys follow click, the screen changed only there", typing)
    assert by_focus(typing, keys_ok, NAME, None) == keys_ok  # no tree
    assert by_focus(typing, keys_ok, None, OK_BUTTON) == keys_ok  # nothing expected
    wrong = Verdict("failed", "the last step (click) did not go as forecast: error")
    assert by_focus(typing, wrong, NAME, OK_BUTTON) == wrong


def test_where_the_plan_expects_keys_to_go() -> None:
    assert expected_focus(click("Name"), NAME, None) is NAME
    assert expected_focus(click("the picture"), PANEL, NAME) is None  # it takes no focus
    typing = Type(action="type", text="Ada")
    assert expected_focus(typing, OK_BUTTON, NAME) is NAME
    assert expected_focus(typing, NAME, None) is NAME
    assert expected_focus(Hotkey(action="hotkey", keys=["tab"]), OK_BUTTON, NAME) is None
    assert expected_focus(Hotkey(action="hotkey", keys=["ctrl", "a"]), NAME, NAME) is NAME
