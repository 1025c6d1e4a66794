"""The executable answers of the real-form corpus (tests/corpus/) through the real loop: each is
served by the OpenAI-compatible test server to the real `tracer do` on an Xvfb, and the first
press (a click, the start of a drag, the wheel of a scroll at a point) lands on exactly the pixel
the answer names.

The pixel an answer names follows from the profile's geometry, never from special cases: for a
relative family ``x / 1000 * width``; for a family answering in pixels, the point's share of the
image its processor made from the one tracer sent (tracer sends sizes no processor changes, so
the image itself) times the width; for an entry written in fractions, ``x * width``. It is
computed exactly: a position on the boundary between two pixels names both. A family answering
in pixels is given the largest budget tracer keeps (``--max-pixels``), as a user would to run it
at its native resolution: at 1920x1080 that is the 1932x1092 image OSWorld's models see.

Screens. Every executable entry of every family runs at 1920x1080. The second size is 1366x768:
not quite 16:9 and an odd number of pixels per 1000 (1.366), it exercises rounding, and for a
family answering in pixels the image sent is 1372x756, scaled the other way on each axis than
the screen, so a point mapped through the wrong size, or one scale for both axes, misses.
(2560x1440, which exercises scale, is covered for every profile by test_native_pixels.py.)
Each case is a real `tracer do` of 2-3 seconds, so to keep the suite near 110 cases the
second size runs a representative subset per profile, not every entry again: the first entry of
each kind of press (click, double click, right click, drag, scroll at a point), and every entry
at the right or bottom edge (the last 1% of a side), where the readings the sources disagree on
(x / 999, a re-rounded image) are furthest from ours. An answer whose numbers lie outside the
image sent at a size (written for a larger screenshot) is not served at that size.

An entry with ``next_answer`` is two answers for one step (a hover or a move, then the action it
prepares): both are served, the first is recorded as a follow-up, and the press lands where the
first one pointed."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chat_server import Reply
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import ClickLog, last_run, request_image_size, tracer_env
from tests.e2e.test_native_pixels import native_done
from tests.test_corpus import FILES, space, unsupported
from tracer_cli.agent.profiles import PROFILES

pytestmark = pytest.mark.display

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SCREENS = {"display_1920": (1920, 1080), "display_1366": (1366, 768)}
FULL = "display_1920"  # every entry; the other screen a subset (see above)
EDGE = Fraction(99, 100)  # a share of a side from which a point is at the right or bottom edge
BUTTONS = {"click": 1, "double_click": 1, "right_click": 3, "drag": 1}  # of the first press
WHEEL = {"up": 4, "down": 5}


def budget(profile: str) -> int:
    """--max-pixels for the profile: the most a pixel-answering family keeps, else the default."""
    geometry = PROFILES.get(profile).geometry
    return geometry.max_budget if geometry.coordinates == "absolute" else 0


def sent_size(profile: str, screen: tuple[int, int]) -> tuple[int, int]:
    return PROFILES.get(profile).geometry.size(*screen, budget(profile))


def first_press(entry: dict[str, Any]) -> tuple[str, list[float], int] | None:
    """The first action that presses a button at a point the answer names: (action, point,
    button); None when the first action presses nothing there (keys, a scroll at the pointer)."""
    cursor = None
    for want in entry.get("expect") or []:
        action = want["action"]
        if action == "move":
            cursor = want["point"]
        elif action in ("click", "double_click", "right_click") and "point" in want:
            return action, want["point"], BUTTONS[action]
        elif action == "drag":
            start = want.get("start", cursor)
            return (action, start, BUTTONS[action]) if start else None
        elif action == "scroll" and "point" in want:
            return action, want["point"], WHEEL[want["direction"]]
        else:
            return None
    return None


def shares(profile: str, kind: str, point: list[float], sent: tuple[int, int]) -> list[Fraction]:
    """The point's exact share of each side of the image the model saw."""
    frame = PROFILES.get(profile).geometry.processed(*sent)
    out = []
    for number, frame_side in zip(point, frame, strict=True):
        share = Fraction(str(number))
        if kind == "relative":
            share /= 1000
        elif kind == "pixels":
            share /= frame_side
        out.append(share)
    return out


def named_pixel(point_shares: list[Fraction], screen: tuple[int, int]) -> tuple[set[int], set[int]] | None:
    """The screen pixels the shares name on each axis (a position that falls on the boundary
    between two pixels names both), None when they lie outside the image."""
    named = []
    for share, side in zip(point_shares, screen, strict=True):
        if not 0 <= share <= 1:
            return None
        position = share * side
        nearest = {math.floor(position), math.floor(position) + 1} if position % 1 == Fraction(1, 2) \
            else {round(position)}
        named.append({min(p, side - 1) for p in nearest})
    return named[0], named[1]


def executable() -> list[Any]:
    params = []
    for screen_name, screen in SCREENS.items():
        kinds: set[tuple[str, str]] = set()  # (profile, action) already served at this screen
        for name, family in FILES.items():
            for entry in yaml.safe_load((CORPUS / name).read_text(encoding="utf-8")):
                if entry.get("reject") or entry.get("cut_off") or unsupported(entry):
                    continue
                press = first_press(entry)
                if press is None:
                    continue
                profile = "ui-tars-v1" if family == "ui-tars" and "v1" in entry.get("note", "") else family
                point_shares = shares(profile, space(profile, entry), press[1], sent_size(profile, screen))
                want = named_pixel(point_shares, screen)
                if want is None:
                    continue
                new_kind, edge = (profile, press[0]) not in kinds, max(point_shares) >= EDGE
                if screen_name != FULL and not (new_kind or edge):
                    continue
                kinds.add((profile, press[0]))
                params.append(pytest.param(profile, entry, press, screen_name, want,
                                           id=f"{entry['id']}-{screen[0]}"))
    return params


def served_answer(text: str, entry: dict[str, Any]) -> Any:
    if entry.get("reasoning"):  # the server returned the reasoning apart
        return Reply(text, {"reasoning_content": entry["reasoning"]})
    return text


@pytest.mark.parametrize(("profile", "entry", "press", "screen_name", "want"), executable())
def test_a_corpus_answer_presses_the_pixel_it_names(profile: str, entry: dict[str, Any],
                                                    press: tuple[str, list[float], int],
                                                    screen_name: str, want: tuple[set[int], set[int]],
                                                    request: pytest.FixtureRequest,
                                                    chat_server: Any,
                                                    clicklogs: Callable[[Display], ClickLog]) -> None:
    display: Display = request.getfixturevalue(screen_name)
    app = clicklogs(display)
    before = len(app.presses())
    done = native_done("ui-tars" if profile.startswith("ui-tars") else profile)
    answers = [served_answer(entry["answer"], entry)]
    if entry.get("next_answer"):
        answers.append(entry["next_answer"])
    chat_server.queue(*answers, done, done)
    env = tracer_env(display)
    extra = ["--max-pixels", str(budget(profile))] if budget(profile) else []
    result = run_tracer("do", "the corpus task", "--yes", "--base-url", chat_server.base_url,
                        "--profile", profile, "--replan", "always", *extra, env=env, timeout=90)

    assert "Traceback" not in result.stderr, result.stderr
    sent = sent_size(profile, (display.width, display.height))
    assert request_image_size(chat_server.requests[0]) == sent
    action, _, button = press
    presses = app.wait_presses(2 if action == "double_click" else 1, since=before)
    assert presses, result.stderr
    pressed = presses[0]["x"], presses[0]["y"]
    assert pressed[0] in want[0] and pressed[1] in want[1], (entry["id"], pressed, want, result.stderr)
    assert presses[0]["button"] == button
    step = last_run(env)["steps"][0]
    assert step["action"]["action"] == action
    assert step["points"][0] == list(pressed)
    if entry.get("next_answer"):  # one step from two answers: the first was asked on, not run
        assert len(chat_server.requests) >= 2
        attempts = step["attempts"]
        assert attempts[0].get("follow_up") and not attempts[0]["error"], attempts
