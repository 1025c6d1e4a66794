"""Random text and random bytes through every reader of model answers: each profile's ``parse``
and ``parse_point``, and the reasoning splitter. Whatever a model (or a broken server) sends,
a reader answers in bounded time with a valid Plan (or point) or a PlanError of one line; never
another exception."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.fakes import examples
from tracer_cli.agent.profiles import PROFILES, PlanRequest
from tracer_cli.agent.reasoning import check_complete, split
from tracer_cli.errors import PlanError
from tracer_cli.plan import Plan

SECONDS = 1.0  # the longest a reader may take on one answer of the sizes tried here
IMAGE = Image.new("RGB", (1312, 832), "white")

# What the profiles' answers are made of: JSON, tool calls, UI-TARS actions, reasoning tags.
TOKENS = ['{', '}', '[', ']', '"', ':', ',', ' ', '\n', '\\', '\\"', '\\u00', '0', '1', '-1',
          '1e999', '999999999999999999999', '.5', 'true', 'null', 'NaN', '"action"', '"click"',
          '"type"', '"done"', '"x"', '"y"', '"text"', '"keys"', '"thought"', '"trajectory"',
          '"target"', '<think>', '</think>', '<tool_call>', '</tool_call>', '"name"',
          '"computer_use"', '"arguments"', '"coordinate"', '"left_click"', 'Thought:', 'Action:',
          'Reflection:', "click(start_box='", "click(point='", '<point>', '</point>',
          '<|box_start|>', '<|box_end|>', '(', ')', "'", "type(content='", "hotkey(key='",
          "finished(content='", 'scroll(', "direction='down'", 'drag(', 'end_box=', '```json',
          '```', '\x00', '\ud800', 'é', '\u202e', '<action>', '</action>', '<conclusion>',
          'Click(box=(', 'Hover(box=(', "Type(content='", "keys=['", '"mouse_move"', '## Thought:',
          '## Action:', '## Code:', '```python\n', '```code\n', 'pyautogui.click(', 'pyautogui.moveTo(',
          'pyautogui.dragTo(', 'pyautogui.scroll(', 'pyautogui.press(', 'x=', 'y=', 'computer.terminate(',
          'status=', '"click_absolute"', '"click_element"', '"write_element_abs"', '"note"', '"content"']

VALID = {
    "tracer1": json.dumps({"thought": "t", "trajectory": [
        {"action": "click", "x": 500, "y": 500, "target": "OK"}, {"action": "done"}]}),
    "qwen3-vl": 'Action: click OK\n<tool_call>\n{"name": "computer_use", "arguments": '
                '{"action": "left_click", "coordinate": [500, 500]}}\n</tool_call>',
    "ui-tars": "Thought: click OK\nAction: click(start_box='<|box_start|>(100,200)<|box_end|>')",
    "ui-tars-v1": "Thought: click OK\nAction: click(start_box='(100,200)')",
    "gui-owl": 'Action: Click OK.\n<tool_call>\n{"name": "computer_use", "arguments": '
               '{"action": "left_click", "coordinate": [500, 500]}}\n</tool_call>',
    "ui-venus": "<think>OK is there.</think>\n<action>Click(box=(500,500))</action>\n"
                "<conclusion>Clicked OK.</conclusion>",
    "opencua": "## Thought:\nclick OK\n\n## Action:\nClick OK.\n\n## Code:\n```python\n"
               "pyautogui.moveTo(x=100, y=200)\npyautogui.click()\npyautogui.write(message='a')\n```",
    "holo": json.dumps({"note": "", "thought": "t", "action": {
        "action": "write_element_abs", "content": "a", "element": "OK", "x": 100, "y": 200}}),
}

jsonish = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4)), max_size=80).map("".join)
raw_bytes = st.binary(max_size=400).flatmap(lambda b: st.sampled_from([
    b.decode("utf-8", "replace"), b.decode("latin-1"), b.decode("utf-8", "surrogateescape")]))


@st.composite
def spliced(draw: Any) -> str:
    """A valid answer of some profile with random pieces cut out or put in."""
    text = draw(st.sampled_from(sorted(VALID.values())))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        text = text[:i] + draw(st.one_of(st.just(""), st.sampled_from(TOKENS), jsonish)) + text[j:]
    return text


junk = st.one_of(st.none(), st.booleans(), st.integers(-10, 1010), st.floats(allow_nan=True),
                 st.text(max_size=12), st.lists(st.text(max_size=6), max_size=5))
step = st.fixed_dictionaries(
    {"action": st.sampled_from(["click", "double_click", "type", "hotkey", "scroll", "drag",
                                "wait", "done", "fail", "left_click", "nope"])},
    optional={"x": junk, "y": junk, "x2": junk, "y2": junk, "target": junk, "text": junk,
              "keys": junk, "dy": junk, "seconds": junk, "answer": junk, "reason": junk})
plans = st.fixed_dictionaries({"trajectory": st.lists(step, max_size=6)},
                              optional={"thought": junk}).map(json.dumps)
answers = st.one_of(jsonish, raw_bytes, spliced(), plans)


def timed(call: Any, *args: Any) -> Any:
    started = time.monotonic()
    try:
        return call(*args)
    finally:
        took = time.monotonic() - started
        assert took < SECONDS, f"{took:.2f} s on {args[0]!r:.200}"


def one_line(exc: PlanError) -> None:
    assert exc.message and "\n" not in exc.message, repr(exc.message)


@pytest.mark.parametrize("name", PROFILES.names())
@settings(max_examples=examples(400), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=answers, horizon=st.integers(1, 20))
def test_a_profile_reads_any_answer_as_a_plan_or_one_planerror(name: str, text: str,
                                                             horizon: int) -> None:
    profile = PROFILES.get(name)()
    request = PlanRequest("press OK", IMAGE, horizon)
    try:
        plan = timed(profile.parse, text, request)
    except PlanError as exc:
        one_line(exc)
    else:
        assert isinstance(plan, Plan)
        # at most horizon actions (an action may be several steps), and a done/fail may close it
        assert 1 <= len(plan.trajectory) <= max(horizon, 1) * getattr(profile, "action_steps", 1) + 1
        Plan.model_validate(plan.model_dump())  # what came out is a plan the contract accepts
    try:
        point = timed(profile.parse_point, text, IMAGE.size)
    except PlanError as exc:
        one_line(exc)
    else:
        assert len(point) == 2 and all(0 <= v <= 1000 for v in point), point


@settings(max_examples=examples(600), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(text=answers, reasoning=st.one_of(st.just(""), answers), opened=st.booleans(),
       finish=st.sampled_from(["", "stop", "length"]))
def test_the_reasoning_splitter_reads_any_answer(text: str, reasoning: str, opened: bool,
                                                 finish: str) -> None:
    answer = timed(split, text, reasoning, opened)
    assert isinstance(answer.text, str) and isinstance(answer.reasoning, str)
    assert "</think>" not in answer.text  # only what follows the last closing tag is the answer
    try:
        check_complete(answer, finish, 100)
    except PlanError as exc:
        one_line(exc)


@pytest.mark.parametrize("name", PROFILES.names())
def test_a_huge_answer_is_read_in_bounded_time(name: str) -> None:
    """A megabyte of each kind of junk: a reader may refuse it, but quickly."""
    profile = PROFILES.get(name)()
    request = PlanRequest("press OK", IMAGE, 5)
    for text in ("{" * 1_000_000, '{"a": [' * 200_000, "<tool_call>" * 100_000,
                 "Action: click(" * 100_000, "x" * 1_000_000, VALID[name] * 20_000):
        started = time.monotonic()
        try:
            profile.parse(text, request)
        except PlanError as exc:
            one_line(exc)
        assert time.monotonic() - started < 5 * SECONDS, f"{name}: {text[:30]!r}"
