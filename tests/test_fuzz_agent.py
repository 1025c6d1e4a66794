"""Random and mutated model answers through the whole loop: only our own typed errors come out,
and no answer that fails validation ever reaches the actuator."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeBackend, FakeScreen, examples, make_agent, make_settings
from tracer_cli.errors import PlanError
from tracer_cli.plan import parse_plan

VALID = {"thought": "t", "trajectory": [
    {"action": "click", "x": 10, "y": 990, "target": "OK"},
    {"action": "type", "text": "hello"},
    {"action": "hotkey", "keys": ["ctrl", "s"]},
    {"action": "scroll", "x": 500, "y": 500, "dy": -3},
    {"action": "drag", "x": 1, "y": 2, "x2": 3, "y2": 4},
    {"action": "done", "answer": "ok"}]}
JUNK = [None, True, -1, 1001, 3.5, "", "x" * 5000, [], {}, "ctrl", {"action": "click"}, 1e309]
TRIED = {"invalid": 0, "valid": 0}


def mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """Replace, drop or retype parts of a plan at random."""
    if isinstance(value, dict) and value:
        out = dict(value)
        key = rng.choice(list(out))
        roll = rng.random()
        if roll < 0.3:
            del out[key]
        elif roll < 0.6:
            out[key] = rng.choice(JUNK)
        elif roll < 0.7:
            out[rng.choice(["extra", "action", "x", "keys"])] = rng.choice(JUNK)
        else:
            out[key] = mutate(rng, out[key], depth + 1)
        return out
    if isinstance(value, list) and value:
        out = list(value)
        i = rng.randrange(len(out))
        if rng.random() < 0.3:
            del out[i]
        else:
            out[i] = mutate(rng, out[i], depth + 1)
        return out
    return rng.choice(JUNK)


def answer_text(seed: int, garble: int) -> str:
    rng = random.Random(seed)
    data = VALID
    for _ in range(rng.randint(1, 4)):
        data = mutate(rng, data)
    text = json.dumps(data)
    if garble == 1:  # cut short
        text = text[: rng.randrange(len(text))]
    elif garble == 2:  # wrapped in prose and a fence
        text = f"Sure, here it is:\n```json\n{text}\n```\nHope this helps!"
    return text


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeds=st.lists(st.integers(0, 2**32), min_size=3, max_size=3),
       garble=st.integers(0, 2))
def never_executes_an_invalid_answer(seeds: list[int], garble: int) -> None:
    answers = [answer_text(seed, garble) for seed in seeds]
    valid = []
    for text in answers:
        try:
            valid.append(parse_plan(text, 5))
        except PlanError:
            valid.append(None)
    TRIED["invalid"] += sum(v is None for v in valid)
    TRIED["valid"] += sum(v is not None for v in valid)
    agent, actuator, _ = make_agent(FakeBackend(*answers, *["{}"] * 10),
                                    settings=make_settings(max_steps=1, answer_retries=2,
                                                           confirm="never"),
                                    screen=FakeScreen())
    result = agent.run("fuzz")  # must not raise: every failure is ours and typed
    inputs = [c for c in actuator.calls if c[0] != "release_all"]
    first_valid = next((v for v in valid if v is not None), None)
    if first_valid is None:
        assert inputs == [] and result.status == "error"
    elif inputs:  # only ever the first step of the first valid answer
        assert not first_valid.first.is_terminal


def test_no_invalid_answer_is_ever_executed_among_many_tried() -> None:
    """The property, then the counts of what it covered."""
    TRIED.update(invalid=0, valid=0)
    never_executes_an_invalid_answer()
    assert TRIED["invalid"] >= 1.5 * examples(400), TRIED  # 600 in CI
