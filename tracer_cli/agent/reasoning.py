"""Reasoning in model answers: what a thinking model thinks is never read as its answer.

Thinking models (Qwen3-VL Thinking, TraceR1's base) write ``<think> ... </think>`` before the
answer; their chat templates often open the block themselves, so the answer then holds only the
closing tag. Servers may also return the reasoning in a field of its own (``reasoning_content``
or ``reasoning``). A draft ``<tool_call>`` or JSON object inside the reasoning must never become
a step: only the text after the last ``</think>`` is the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracer_cli.errors import PlanError

OPEN, CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class Answer:
    reasoning: str  # what the model thought (the panel and the run record show it)
    text: str  # the answer proper: the only part a profile reads
    closed: bool  # False: the reasoning never ended, so there is no answer at all


def split(text: str, reasoning: str = "", opened: bool = False) -> Answer:
    """Separate reasoning from the answer. ``reasoning``: what the server returned apart;
    ``opened``: the prompt itself ended with an open reasoning block (a thinking template)."""
    close = text.rfind(CLOSE)
    if close >= 0:
        thought = text[:close].replace(OPEN, "", 1)
        return Answer(_join(reasoning, thought), text[close + len(CLOSE):].strip(), True)
    if OPEN in text or (opened and not reasoning.strip()):  # a server that split it: text is the answer
        return Answer(_join(reasoning, text.replace(OPEN, "", 1)), "", False)
    return Answer(reasoning.strip(), text, True)


def answer_so_far(text: str, opened: bool = False) -> str | None:
    """The answer part of an answer still being written, as ``split`` will read it once whole;
    None while the model may still be reasoning (an open ``<think>`` block, or a template that
    opened one and no ``</think>`` yet). A step read from it is never a draft of the reasoning.
    (A model that closes a block and then opens another would make ``split`` read only what
    follows the last one: the text is refused from the moment a ``<think>`` follows the
    ``</think>``, and the planner checks the whole answer's first step against it at the end.)"""
    close = text.rfind(CLOSE)
    if close >= 0:
        rest = text[close + len(CLOSE):]
        return None if OPEN in rest else rest.strip()
    if OPEN in text or opened:
        return None
    return text.strip()


def _join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p.strip())


class AnswerCutOff(PlanError):
    """The answer hit the token limit: asking again with the same limit would end the same way."""


def check_complete(answer: Answer, finish_reason: str, max_tokens: int) -> None:
    """Raise AnswerCutOff when the answer was cut off, or reasoning never ended."""
    fix = (f"raise --max-tokens (now {max_tokens}; a thinking model needs several thousand), "
           "or use an Instruct model")
    if finish_reason == "length":
        where = "inside the model's reasoning" if not answer.closed else "before the answer ended"
        raise AnswerCutOff(f"the answer was cut off {where} at --max-tokens {max_tokens}", fix)
    if not answer.closed:
        raise AnswerCutOff("the model's reasoning never ended (no </think>), so it gave no answer",
                           fix)
