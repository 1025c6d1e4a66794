"""The plan contract: what a model answer must look like, and the reasons given when it does not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.fakes import examples
from tracer_cli.errors import PlanError
from tracer_cli.plan import (
    ACTIONS,
    COORD_MAX,
    KNOWN_KEYS,
    Click,
    DoubleClick,
    Drag,
    Fail,
    Hotkey,
    Plan,
    RightClick,
    Scroll,
    Type,
    Wait,
    normalize_key,
    parse_plan,
    parse_step,
    plan_schema,
    step_dict,
)
from tracer_cli.plan import Done as DoneStep

CLICK = {"action": "click", "x": 500, "y": 250, "target": "the OK button"}

VALID_STEPS: dict[str, dict[str, Any]] = {
    "click": CLICK,
    "double_click": {"action": "double_click", "x": 0, "y": 1000, "target": "a file"},
    "right_click": {"action": "right_click", "x": 1000, "y": 0, "target": "the desktop"},
    "type": {"action": "type", "text": "hello\tworld\n"},
    "hotkey": {"action": "hotkey", "keys": ["ctrl", "shift", "t"]},
    "scroll": {"action": "scroll", "x": 10, "y": 20, "dy": -3},
    "drag": {"action": "drag", "x": 1, "y": 2, "x2": 999, "y2": 998},
    "wait": {"action": "wait", "seconds": 1.5},
    "done": {"action": "done", "answer": "42"},
    "fail": {"action": "fail", "reason": "no such window"},
}
STEP_TYPES = {"click": Click, "double_click": DoubleClick, "right_click": RightClick, "type": Type,
              "hotkey": Hotkey, "scroll": Scroll, "drag": Drag, "wait": Wait, "done": DoneStep,
              "fail": Fail}


def answer(*steps: dict[str, Any], thought: str = "looking at the screen") -> str:
    return json.dumps({"thought": thought, "trajectory": list(steps)})


def rejection(text: str, horizon: int = 5) -> str:
    with pytest.raises(PlanError) as info:
        parse_plan(text, horizon)
    return info.value.message


def test_every_action_is_covered_here() -> None:
    assert set(VALID_STEPS) == set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_type_parses(action: str) -> None:
    plan = parse_plan(answer(VALID_STEPS[action]), horizon=5)
    step = plan.first
    assert type(step) is STEP_TYPES[action]
    assert step.action == action  # type: ignore[attr-defined]
    assert plan.thought == "looking at the screen"
    assert step.is_terminal == (action in ("done", "fail"))
    # The step round-trips through the contract JSON unchanged.
    assert json.loads(plan.to_json())["trajectory"][0] == VALID_STEPS[action]


def test_points_of_each_step() -> None:
    assert parse_step(VALID_STEPS["click"]).points() == [(500, 250)]
    assert parse_step(VALID_STEPS["scroll"]).points() == [(10, 20)]
    assert parse_step(VALID_STEPS["drag"]).points() == [(1, 2), (999, 998)]
    for action in ("type", "hotkey", "wait", "done", "fail"):
        assert parse_step(VALID_STEPS[action]).points() == []


def test_thought_may_be_left_out() -> None:
    plan = parse_plan(json.dumps({"trajectory": [CLICK]}), 5)
    assert plan.thought == ""
    assert plan.first == Click(**CLICK)


def test_code_fenced_json_is_accepted() -> None:
    text = "Here is my plan:\n```json\n" + answer(CLICK, VALID_STEPS["done"]) + "\n```\nGood luck."
    plan = parse_plan(text, 5)
    assert [s.action for s in plan.trajectory] == ["click", "done"]  # type: ignore[attr-defined]


def test_bare_code_fence_is_accepted() -> None:
    plan = parse_plan("```\n" + answer(VALID_STEPS["type"]) + "\n```", 5)
    assert plan.first == Type(action="type", text="hello\tworld\n")


def test_json_amid_prose_is_accepted() -> None:
    text = ("I think {the dialog} is open. " + answer(VALID_STEPS["scroll"])
            + " Then I will look again.")
    plan = parse_plan(text, 5)
    assert plan.first == Scroll(action="scroll", x=10, y=20, dy=-3)


def test_text_after_the_object_is_ignored() -> None:
    plan = parse_plan(answer(VALID_STEPS["done"]) + "}}} trailing", 5)
    assert plan.first == DoneStep(action="done", answer="42")


@pytest.mark.parametrize(("text", "expected"), [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("I cannot see the screen.", "no JSON object"),
    ("[1, 2, 3]", "no JSON object"),
    ('{"thought": "unterminated', "no valid JSON object"),
    ("{not json at all}", "no valid JSON object"),
])
def test_garbage_is_rejected(text: str, expected: str) -> None:
    assert expected in rejection(text)


@pytest.mark.parametrize(("step", "where", "detail"), [
    ({**CLICK, "x": "500"}, "trajectory[0].x", "valid integer"),
    ({**CLICK, "x": True}, "trajectory[0].x", "valid integer"),
    ({**CLICK, "x": 1000.5}, "trajectory[0].x", "less than or equal to 1000"),
    ({**CLICK, "target": 7}, "trajectory[0].target", "valid string"),
    ({"action": "hotkey", "keys": "ctrl+c"}, "trajectory[0].keys", "valid list"),
    ({"action": "hotkey", "keys": ["ctrl", 3]}, "trajectory[0].keys[1]", "valid string"),
    ({"action": "wait", "seconds": "1"}, "trajectory[0].seconds", "valid number"),
    ({"action": "type", "text": ["a"]}, "trajectory[0].text", "valid string"),
])
def test_wrong_types_are_rejected(step: dict[str, Any], where: str, detail: str) -> None:
    message = rejection(answer(step))
    assert where in message
    assert detail in message


@pytest.mark.parametrize(("step", "where", "got"), [
    ({**CLICK, "x": -1}, "trajectory[0].x", "got -1"),
    ({**CLICK, "y": 1001}, "trajectory[0].y", "got 1001"),
    ({**VALID_STEPS["drag"], "x2": 1001}, "trajectory[0].x2", "got 1001"),
    ({**VALID_STEPS["drag"], "y2": -5}, "trajectory[0].y2", "got -5"),
    ({**VALID_STEPS["scroll"], "x": 5000}, "trajectory[0].x", "got 5000"),
])
def test_coordinates_out_of_range_are_rejected(step: dict[str, Any], where: str, got: str) -> None:
    message = rejection(answer(step))
    assert where in message
    assert got in message


def test_the_index_names_the_bad_step() -> None:
    message = rejection(answer(CLICK, VALID_STEPS["type"], {**CLICK, "y": 1001}))
    assert "trajectory[2].y" in message
    assert "trajectory[0]" not in message and "trajectory[1]" not in message


def test_unknown_action_is_rejected() -> None:
    message = rejection(answer({"action": "teleport", "x": 1, "y": 2}))
    assert "trajectory[0]" in message
    assert "'teleport'" in message
    assert "'click'" in message  # lists the actions there are


def test_missing_action_is_rejected() -> None:
    message = rejection(answer({"x": 1, "y": 2, "target": "t"}))
    assert "trajectory[0]" in message
    assert "action" in message


def test_fractional_points_are_kept() -> None:
    """A model (or a profile converting absolute pixels) may give fractions: no precision lost."""
    plan = parse_plan(answer({**CLICK, "x": 500.5, "y": 250.0}), 5)
    assert plan.first.points() == [(500.5, 250.0)]
    assert plan.first.describe() == "click (500.5,250) 'the OK button'"


def test_a_field_that_could_change_the_step_is_rejected_with_the_reason() -> None:
    message = rejection(answer({**CLICK, "button": "left"}))
    assert "trajectory[0].button" in message
    assert "tracer cannot tell what it would change" in message


@pytest.mark.parametrize("step", [
    {"action": "drag", "x": 1, "y": 2, "x2": 3, "y2": 4, "target": "the slider"},
    {"action": "scroll", "x": 500, "y": 500, "dy": -3, "target": "the list"},
    {**CLICK, "description": "the blue OK button", "confidence": 0.9},
    {"action": "type", "text": "hi", "element": "the search field"},
])
def test_fields_that_only_describe_a_step_are_kept_as_notes(step: dict[str, Any]) -> None:
    plan = parse_plan(answer(step), 5)
    extra = {k: v for k, v in step.items() if k not in type(plan.first).model_fields}
    assert plan.first.notes == {k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()}
    assert step_dict(plan.first)["notes"] == plan.first.notes  # the run record keeps them


def test_extra_field_named_like_an_action_is_named() -> None:
    # A model writing {"action": "click", ..., "type": "left"} must be told which field is extra.
    message = rejection(answer({**CLICK, "type": "left"}))
    assert "trajectory[0].type" in message


def test_top_level_fields_that_only_describe_are_notes_others_are_rejected() -> None:
    plan = parse_plan(json.dumps({"thought": "t", "trajectory": [CLICK], "confidence": 0.9}), 5)
    assert plan.notes == {"confidence": "0.9"}
    message = rejection(json.dumps({"thought": "t", "trajectory": [CLICK], "repeat": 3}))
    assert "repeat" in message and "cannot tell what it would change" in message


def test_click_needs_both_coordinates_or_neither() -> None:
    message = rejection(answer({"action": "click", "x": 1, "target": "t"}))
    assert "trajectory[0]: give both x and y, or neither" in message


def test_click_without_coordinates_needs_a_target() -> None:
    message = rejection(answer({"action": "click", "target": "  "}))
    assert "trajectory[0]: a click without x and y needs a target" in message


def test_click_without_coordinates_is_left_for_the_grounder() -> None:
    step = parse_plan(answer({"action": "right_click", "target": "the Save button"}), 5).first
    assert step.needs_grounding and step.points() == []
    placed = step.at(120, 880)
    assert placed.points() == [(120, 880)] and not placed.needs_grounding
    assert placed.action == "right_click" and placed.target == "the Save button"


@pytest.mark.parametrize(("step", "missing"), [
    ({"action": "click", "x": 1, "y": 2}, "trajectory[0].target"),
    ({"action": "type"}, "trajectory[0].text"),
    ({"action": "hotkey"}, "trajectory[0].keys"),
    ({"action": "scroll", "x": 1, "y": 2}, "trajectory[0].dy"),
    ({"action": "drag", "x": 1, "y": 2, "x2": 3}, "trajectory[0].y2"),
    ({"action": "wait"}, "trajectory[0].seconds"),
    ({"action": "fail"}, "trajectory[0].reason"),
])
def test_missing_fields_are_rejected(step: dict[str, Any], missing: str) -> None:
    message = rejection(answer(step))
    assert f"{missing}: Field required" in message


def test_missing_trajectory_is_rejected() -> None:
    assert "trajectory: Field required" in rejection(json.dumps({"thought": "hm"}))


@pytest.mark.parametrize("terminal", ["done", "fail"])
def test_terminal_step_must_be_last(terminal: str) -> None:
    message = rejection(answer(CLICK, VALID_STEPS[terminal], CLICK))
    assert "trajectory" in message
    assert f"step 1 is '{terminal}' but more steps follow it" in message


def test_terminal_step_last_is_fine() -> None:
    plan = parse_plan(answer(CLICK, VALID_STEPS["fail"]), 5)
    assert plan.trajectory[-1].is_terminal


def test_empty_trajectory_is_rejected() -> None:
    message = rejection(answer())
    assert "trajectory" in message
    assert "at least 1" in message


def test_zero_dy_is_rejected() -> None:
    message = rejection(answer({**VALID_STEPS["scroll"], "dy": 0}))
    assert "trajectory[0].dy" in message
    assert "must not be 0" in message


def test_scroll_dy_bounded() -> None:
    assert "trajectory[0].dy" in rejection(answer({**VALID_STEPS["scroll"], "dy": 51}))
    assert parse_plan(answer({**VALID_STEPS["scroll"], "dy": 50}), 5).first.dy == 50  # type: ignore[attr-defined]


def test_unknown_hotkey_is_rejected() -> None:
    message = rejection(answer({"action": "hotkey", "keys": ["ctrl", "hyper"]}))
    assert "trajectory[0].keys" in message
    assert "unknown key 'hyper'" in message


def test_too_many_hotkeys_rejected() -> None:
    message = rejection(answer({"action": "hotkey", "keys": ["ctrl", "alt", "shift", "win", "a"]}))
    assert "trajectory[0].keys" in message


def test_control_characters_in_text_are_rejected() -> None:
    message = rejection(answer({"action": "type", "text": "abc\x1b[2J"}))
    assert "trajectory[0].text" in message
    assert "0x1b" in message


def test_wait_bounds() -> None:
    assert "trajectory[0].seconds" in rejection(answer({"action": "wait", "seconds": 61}))
    assert "trajectory[0].seconds" in rejection(answer({"action": "wait", "seconds": -1}))
    assert "trajectory[0].seconds" in rejection('{"trajectory": [{"action": "wait", "seconds": NaN}]}')
    assert parse_plan(answer({"action": "wait", "seconds": 2}), 5).first.seconds == 2.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("written", "normalised"), [
    ("Return", "enter"), ("RETURN", "enter"), ("Control", "ctrl"), ("A", "a"), ("a", "a"),
    ("Esc", "escape"), ("PgDn", "pagedown"), ("ArrowLeft", "left"), ("cmd", "command"),
    ("Super", "win"), ("F5", "f5"), (" Tab ", "tab"), ("+", "+"), ("1", "1"),
])
def test_key_aliases_are_normalised(written: str, normalised: str) -> None:
    assert normalize_key(written) == normalised


def test_key_aliases_normalised_in_a_plan() -> None:
    plan = parse_plan(answer({"action": "hotkey", "keys": ["Control", "Shift", "A"]},
                             {"action": "hotkey", "keys": ["Return"]}), 5)
    assert plan.trajectory[0].keys == ["ctrl", "shift", "a"]  # type: ignore[attr-defined]
    assert plan.trajectory[1].keys == ["enter"]  # type: ignore[attr-defined]
    assert json.loads(plan.to_json())["trajectory"][0]["keys"] == ["ctrl", "shift", "a"]


@pytest.mark.parametrize("bad", ["hyper", "", " ", "é", "ctrl+c", "F25"])
def test_normalize_key_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown key"):
        normalize_key(bad)


def test_known_keys_are_lower_case() -> None:
    assert all(k == k.lower() for k in KNOWN_KEYS)
    assert {"enter", "ctrl", "a", "z", "0", "f24", "+"} <= KNOWN_KEYS


def test_forecast_longer_than_horizon_is_cut() -> None:
    steps = [{**CLICK, "x": i} for i in range(8)]
    plan = parse_plan(answer(*steps), horizon=3)
    assert [s.x for s in plan.trajectory] == [0, 1, 2]  # type: ignore[attr-defined]
    assert parse_plan(answer(*steps), horizon=8).trajectory[-1].x == 7  # type: ignore[attr-defined]


def test_cutting_to_the_horizon_can_drop_a_terminal_step() -> None:
    plan = parse_plan(answer(CLICK, CLICK, VALID_STEPS["done"]), horizon=2)
    assert len(plan.trajectory) == 2
    assert not any(s.is_terminal for s in plan.trajectory)


def test_plan_schema_max_items() -> None:
    schema = plan_schema(5)
    assert schema["properties"]["trajectory"]["maxItems"] == 5
    assert schema["properties"]["trajectory"]["minItems"] == 1
    assert plan_schema(2)["properties"]["trajectory"]["maxItems"] == 2
    assert schema["required"] == ["thought", "trajectory"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]["trajectory"]["items"]["discriminator"]["mapping"]) == set(ACTIONS)
    click = schema["$defs"]["Click"]["properties"]
    x_int = next(o for o in click["x"]["anyOf"] if o.get("type") == "integer")
    assert x_int["minimum"] == 0 and x_int["maximum"] == COORD_MAX
    assert "x" not in schema["$defs"]["Click"].get("required", [])


def test_plan_schema_does_not_change_the_model() -> None:
    plan_schema(2)
    assert "maxItems" not in Plan.model_json_schema()["properties"]["trajectory"]


def test_to_json_puts_action_first() -> None:
    text = json.dumps({"trajectory": [{"target": "t", "y": 2, "x": 1, "action": "click"},
                                      {"dy": 4, "x": 5, "y": 6, "action": "scroll"},
                                      {"answer": "yes", "action": "done"}]})
    data = json.loads(parse_plan(text, 5).to_json())
    for step in data["trajectory"]:
        assert next(iter(step)) == "action"
    assert list(data) == ["thought", "trajectory"]


def test_to_json_leaves_out_unset_defaults_and_keeps_unicode() -> None:
    plan = parse_plan(answer({"action": "done"}, thought="fertig – ✓"), 5)
    assert plan.to_json() == '{"thought": "fertig – ✓", "trajectory": [{"action": "done"}]}'


def test_parse_step_errors_are_plan_errors() -> None:
    with pytest.raises(PlanError, match=r"x: Input should be less than or equal to 1000"):
        parse_step({**CLICK, "x": 2000})


def test_deeply_nested_answer_is_a_plan_error() -> None:
    # A degenerate model answer ("[[[[...") must be sent back to the model, not crash the run.
    text = '{"thought": "x", "trajectory": ' + "[" * 5000 + "]" * 5000 + "}"
    message = rejection(text)
    assert "trajectory" in message or "JSON" in message


# --- property tests -------------------------------------------------------------------------

coord = st.integers(0, COORD_MAX)
# Text a valid plan may hold: no lone surrogates, no control characters but tab and newline.
clean = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t")
short = st.text(clean, max_size=20)
step_strategy = st.one_of(
    st.builds(lambda a, x, y, t: {"action": a, "x": x, "y": y, "target": t},
              st.sampled_from(["click", "double_click", "right_click"]), coord, coord, short),
    st.builds(lambda t: {"action": "type", "text": t}, st.text(clean, min_size=1, max_size=20)),
    st.builds(lambda k: {"action": "hotkey", "keys": k},
              st.lists(st.sampled_from(sorted(KNOWN_KEYS)), min_size=1, max_size=4)),
    st.builds(lambda x, y, d: {"action": "scroll", "x": x, "y": y, "dy": d}, coord, coord,
              st.integers(-50, 50).filter(bool)),
    st.builds(lambda x, y, x2, y2: {"action": "drag", "x": x, "y": y, "x2": x2, "y2": y2},
              coord, coord, coord, coord),
    st.builds(lambda s: {"action": "wait", "seconds": s}, st.floats(0, 60)),
)
terminal_strategy = st.one_of(
    st.builds(lambda a: {"action": "done", "answer": a}, short),
    st.builds(lambda r: {"action": "fail", "reason": r}, st.text(clean, min_size=1, max_size=20)),
)
plan_strategy = st.builds(
    lambda thought, steps, end: {"thought": thought, "trajectory": steps + end},
    short, st.lists(step_strategy, min_size=1, max_size=6),
    st.lists(terminal_strategy, max_size=1),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children,
                                                                       max_size=3),
    max_leaves=6,
)


def _containers(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every dict and list inside ``value``."""
    out = []
    if isinstance(value, dict | list):
        out.append(path)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            out += _containers(child, (*path, key))
    return out


def _at(value: Any, path: tuple) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated_plans(draw: st.DrawFn) -> Any:
    data = draw(plan_strategy)
    for _ in range(draw(st.integers(1, 4))):
        if not isinstance(data, dict | list):
            break
        container = _at(data, draw(st.sampled_from(_containers(data))))
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        kind = draw(st.sampled_from(["delete", "swap", "replace", "add"]))
        if kind == "add" or not keys:
            if isinstance(container, dict):
                container[draw(st.sampled_from(["x", "y", "action", "extra", "keys", "dy"]))] = \
                    draw(json_value)
            else:
                container.append(draw(json_value))
            continue
        key = draw(st.sampled_from(keys))
        if kind == "delete":
            del container[key]
        elif kind == "swap":  # same value, another JSON type
            old = container[key]
            container[key] = draw(st.sampled_from([str(old), [old], {"v": old}, None,
                                                   float(old) + 0.5 if isinstance(old, int) else 1]))
        else:
            container[key] = draw(st.one_of(json_value, st.sampled_from(
                [-1, 1001, 0, 1000, 500.5, "click", "done", "", ["enter"]] + list(ACTIONS))))
    return data


def _check_accepted(plan: Plan, horizon: int) -> None:
    assert 1 <= len(plan.trajectory) <= horizon
    for step in plan.trajectory:
        for x, y in step.points():
            assert type(x) in (int, float) and type(y) in (int, float)
            assert 0 <= x <= COORD_MAX and 0 <= y <= COORD_MAX
    for step in plan.trajectory[:-1]:
        assert not step.is_terminal


@hsettings(max_examples=examples(300), deadline=None, database=None,
           suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), horizon=st.integers(1, 10))
def test_random_text_only_raises_plan_error(text: str, horizon: int) -> None:
    try:
        plan = parse_plan(text, horizon)
    except PlanError as exc:
        assert exc.message
    else:
        _check_accepted(plan, horizon)


@hsettings(max_examples=examples(200), deadline=None, database=None,
           suppress_health_check=[HealthCheck.too_slow])
@given(data=plan_strategy, horizon=st.integers(1, 10))
def test_generated_valid_plans_are_accepted(data: dict[str, Any], horizon: int) -> None:
    plan = parse_plan(json.dumps(data), horizon)
    _check_accepted(plan, horizon)
    assert len(plan.trajectory) == min(horizon, len(data["trajectory"]))


@hsettings(max_examples=examples(500), deadline=None, database=None,
           suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_plans(), horizon=st.integers(1, 10),
       wrap=st.sampled_from(["{}", "```json\n{}\n```", "Sure. {} Done."]))
def test_mutated_plans_only_raise_plan_error(data: Any, horizon: int, wrap: str) -> None:
    text = wrap.replace("{}", json.dumps(data))
    try:
        plan = parse_plan(text, horizon)
    except PlanError as exc:
        assert exc.message
    else:
        _check_accepted(plan, horizon)
