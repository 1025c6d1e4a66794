"""Answers still being written: the part of one that more text can no longer change.

Acting while a forecast streams (``agent/early.py``) needs each profile to say when the first
step of a partial answer is complete. For JSON answers that is when the first element of the
step array has closed: what follows can add steps, but not change that one. This module finds
that point in JSON text without parsing it (the text is not valid JSON yet) and closes the
brackets still open, so the profile's own parser, with all its checks, reads the result.
"""

from __future__ import annotations

CLOSERS = {"{": "}", "[": "]"}


def first_element(text: str, key: str) -> str | None:
    """``text`` (starting with a JSON object) cut just after the first element of the array
    under the top-level ``key``, with the brackets still open closed; None while that element
    is not yet complete (a number or literal only counts once a comma or bracket ends it)."""
    if not text.startswith("{"):
        return None
    stack: list[str] = []
    in_string = escaped = False
    string_start = 0
    last_key = ""  # the last string read directly in the top-level object
    array_depth = 0  # len(stack) inside the ``key`` array, once it opened
    awaiting_value = False  # a ":" after ``key`` at the top level was read
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if len(stack) == 1:
                    last_key = text[string_start + 1:index]
            continue
        if char == '"':
            in_string, string_start = True, index
        elif char == ":" and len(stack) == 1:
            awaiting_value = last_key == key
        elif char in CLOSERS:
            stack.append(char)
            if char == "[" and len(stack) == 2 and awaiting_value and not array_depth:
                array_depth = 2
            awaiting_value = False
        elif char in "}]":
            if not stack or CLOSERS[stack[-1]] != char:
                return None  # mismatched: not JSON; the whole answer's parser says why
            stack.pop()
            if array_depth and len(stack) == array_depth and char == "}":
                return _closed(text[:index + 1], stack)
            if array_depth and len(stack) == array_depth - 1:
                return None  # the array closed with no complete object first: nothing early
        elif char == "," and array_depth and len(stack) == array_depth:
            return _closed(text[:index], stack)
        elif not char.isspace() and len(stack) == 1:
            awaiting_value = awaiting_value and char not in ","
    return None


def _closed(text: str, stack: list[str]) -> str:
    return text + "".join(CLOSERS[c] for c in reversed(stack))
