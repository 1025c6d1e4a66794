"""The first step of an answer still being written (planner.first_step, each profile's
``first_step``), read at every prefix of the real-form corpus (tests/corpus/, each entry citing
its official source) and of tracer1 answers: no step is reported before more text can no longer
change it, the step reported is the first step of the whole answer's parse, and nothing written
inside a reasoning block ever becomes a step."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PIL import Image

from tests.test_corpus import DEFAULT_IMAGE, entries
from tracer_cli.agent.planner import first_step
from tracer_cli.agent.profiles import PROFILES, FollowUp, PlanRequest
from tracer_cli.agent.profiles.partial import first_element
from tracer_cli.agent.reasoning import CLOSE, split
from tracer_cli.errors import PlanError
from tracer_cli.plan import BaseStep

# Profiles whose format says a step is complete before the answer ends (the others' first
# step waits for the whole answer: see the comment in each of their modules).
EARLY = {"tracer1", "qwen3-vl", "gui-owl"}


def whole_first(profile: Any, answer: str, request: PlanRequest) -> BaseStep | None:
    """The first step of the whole answer's parse (None when it is refused)."""
    try:
        return profile.parse(answer, request).first
    except PlanError:  # FollowUp included: one step of two answers
        return None


def check_prefixes(name: str, raw: str, opened: bool, request: PlanRequest,
                   reasoning_apart: str = "") -> BaseStep | None:
    """Read every prefix of ``raw``; return the step first reported, after checking that every
    longer prefix reports the same one and none is reported inside the reasoning."""
    profile = PROFILES.get(name)()
    answer = split(raw, reasoning_apart, opened)
    whole = whole_first(profile, answer.text, request) if answer.closed else None
    think_end = raw.rfind(CLOSE) + len(CLOSE) if CLOSE in raw else 0
    reported: BaseStep | None = None
    for length in range(1, len(raw) + 1):
        step = first_step(profile, raw[:length], request, opened)
        if reported is not None:
            assert step == reported, (length, step, reported)  # more text never changes it
            continue
        if step is None:
            continue
        assert length >= think_end, "a step was read from inside the reasoning"
        assert name in EARLY
        if whole is not None:
            assert step == whole, (step, whole)
        elif answer.closed:  # the whole answer is refused, but only after the first step
            with pytest.raises(PlanError) as refused:
                profile.parse(answer.text, request)
            assert not isinstance(refused.value, FollowUp)
        reported = step
    return reported


@pytest.mark.parametrize(("profile", "file", "entry"), entries())
def test_a_corpus_answer_gives_its_first_step_only_once_complete(
        profile: str, file: str, entry: dict[str, Any]) -> None:
    if profile == "ui-tars" and "v1" in entry.get("note", ""):
        profile = "ui-tars-v1"
    size = tuple(entry.get("image") or DEFAULT_IMAGE.get(profile, (1932, 1092)))
    request = PlanRequest("the task", Image.new("RGB", size), 20)
    # Qwen3-VL Thinking's template opens <think> itself, unless the server returns the
    # reasoning apart (the streamed text is then the answer alone)
    opened = "thinking" in file and not entry.get("reasoning")
    reported = check_prefixes(profile, entry["answer"], opened, request, entry.get("reasoning", ""))
    if entry.get("cut_off") or entry.get("next_answer"):
        assert reported is None  # nothing whole, or one step of two answers: read at the end
    elif profile in EARLY and not entry.get("reject") and not entry.get("unsupported"):
        # an answer read whole gives its first step before its end
        assert reported is not None or _terminal_or_refused(profile, entry, request, opened)


def _terminal_or_refused(profile: str, entry: dict[str, Any], request: PlanRequest,
                         opened: bool) -> bool:
    """Whether the whole answer's first step is one that is never reported early (none: it
    is refused; a bare call without tags, which a later tag could still make not count; free
    prose before the first call, which could be reasoning streamed inline)."""
    answer = split(entry["answer"], entry.get("reasoning", ""), opened)
    step = whole_first(PROFILES.get(profile)(), answer.text, request)
    lead = answer.text.split("<tool_call>", 1)[0]
    prose = any(line.strip() and not line.lstrip().startswith(("Thought:", "Action:"))
                for line in lead.splitlines())
    return step is None or "</tool_call>" not in answer.text or prose


def test_a_draft_call_inside_open_reasoning_is_never_a_step() -> None:
    """A template that opened <think> (a thinking model): a whole call written in the reasoning
    is not a step until </think>; the call after it is."""
    draft = ('I could click it: <tool_call>{"name": "computer_use", "arguments": '
             '{"action": "left_click", "coordinate": [10, 10]}}</tool_call> but no.')
    real = ('Action: Click OK.\n<tool_call>{"name": "computer_use", "arguments": '
            '{"action": "left_click", "coordinate": [500, 600]}}</tool_call>')
    request = PlanRequest("t", Image.new("RGB", (1376, 768)), 5)
    step = check_prefixes("qwen3-vl", f"{draft}</think>\n{real}", True, request)
    assert step is not None and step.points() == [(500, 600)]
    assert check_prefixes("qwen3-vl", f"<think>{draft}", False, request) is None


def test_reasoning_streamed_inline_without_its_opening_tag_is_never_a_step() -> None:
    """A server that streams a thinking model's reasoning inline, its template having opened
    <think> (no tag in the text, no reasoning apart, and tracer not told): a draft written in
    the reasoning is not taken early, whether a call or a plan object; the whole answer is
    read at its end, where the reasoning is cut off at </think>."""
    qwen_draft = ('The OK button is at the bottom.\nAction: Click OK.\n<tool_call>{"name": '
                  '"computer_use", "arguments": {"action": "left_click", "coordinate": [10, 10]}}'
                  '</tool_call>\nNo, that is Cancel.</think>\nAction: Click OK.\n<tool_call>'
                  '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": '
                  '[500, 600]}}</tool_call>')
    tracer1_draft = ('I will click File: {"thought": "", "trajectory": [{"action": "click", "x": '
                     '10, "y": 10, "target": "File"}]} or rather Edit.</think>' +
                     json.dumps({"thought": "", "trajectory": [
                         {"action": "click", "x": 500, "y": 600, "target": "Edit"}]}))
    request = PlanRequest("t", Image.new("RGB", (1376, 768)), 5)
    for name, raw in (("qwen3-vl", qwen_draft), ("gui-owl", qwen_draft),
                      ("tracer1", tracer1_draft)):
        profile = PROFILES.get(name)()
        for length in range(1, raw.index("</think>") + 1):
            assert first_step(profile, raw[:length], request) is None, (name, length)


TRACER1 = [
    {"thought": "open the menu", "trajectory": [
        {"action": "click", "x": 120, "y": 40, "target": "File menu"},
        {"action": "click", "x": 130, "y": 90, "target": "Save"},
        {"action": "type", "text": "notes {draft} \"v2\" ]}"}]},
    {"trajectory": [{"action": "type", "text": "hello, world ]}{"},
                    {"action": "hotkey", "keys": ["enter"]}], "thought": "type it"},
    {"thought": "done", "trajectory": [{"action": "done", "answer": "42"}]},
]


@pytest.mark.parametrize("plan", TRACER1)
@pytest.mark.parametrize("form", ["bare", "fenced", "spaced"])
def test_a_tracer1_answer_gives_its_first_step_once_its_object_closed(
        plan: dict[str, Any], form: str) -> None:
    text = json.dumps(plan, indent=2 if form == "spaced" else None)
    if form == "fenced":
        text = f"```json\n{text}\n```"
    request = PlanRequest("t", Image.new("RGB", (1376, 768)), 5)
    step = check_prefixes("tracer1", text, False, request)
    assert step is not None
    assert step == PROFILES.get("tracer1")().parse(text, request).first


def test_a_tracer1_answer_that_does_not_start_with_the_plan_waits_for_its_end() -> None:
    plan = json.dumps({"thought": "t", "trajectory": [{"action": "wait", "seconds": 1.0}]})
    request = PlanRequest("t", Image.new("RGB", (1376, 768)), 5)
    assert check_prefixes("tracer1", f"Here is my plan: {plan}", False, request) is None


def test_a_malformed_rest_keeps_the_complete_first_step() -> None:
    text = ('{"thought": "t", "trajectory": [{"action": "click", "x": 1, "y": 2, "target": "a"}, '
            '{"action": "fly"}]}')
    request = PlanRequest("t", Image.new("RGB", (1376, 768)), 5)
    step = check_prefixes("tracer1", text, False, request)
    assert step is not None and step.points() == [(1, 2)]


@pytest.mark.parametrize(("text", "cut"), [
    ('{"trajectory": [{"a": "}"}, {"b": 1}]}', '{"trajectory": [{"a": "}"}]}'),
    ('{"x": {"trajectory": [{}]}, "trajectory": [1, 2]}', '{"x": {"trajectory": [{}]}, "trajectory": [1]}'),
    ('{"trajectory": [12', None),
    ('{"trajectory": []}', None),
    ('{"trajectory": [{"a": [1, 2]', None),
])
def test_the_first_element_of_a_json_array_is_cut_where_it_ends(text: str, cut: str | None) -> None:
    assert first_element(text, "trajectory") == cut
