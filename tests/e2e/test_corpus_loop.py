"""The executable answers of the real-form corpus (tests/corpus/) through the real loop: each is
served by the OpenAI-compatible test server to the real `tracer do` on a 1920x1080 Xvfb, and the
first click lands on exactly the pixel the answer names.

UI-TARS-1.5 answers name pixels of a 1932x1092 image (a 1920x1080 screenshot after its
processor): tracer is given a budget that makes it send that very size (``--max-pixels``), as a
user would to run UI-TARS at its native resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chat_server import Reply
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import last_run, request_image_size, tracer_env
from tests.e2e.test_native_pixels import native_done
from tests.test_corpus import FILES, unsupported

pytestmark = pytest.mark.display

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CLICKS = {"click": 1, "double_click": 1, "right_click": 3}
TARS_FRAME = (1932, 1092)


def executable() -> list[Any]:
    params = []
    for name, profile in FILES.items():
        for entry in yaml.safe_load((CORPUS / name).read_text(encoding="utf-8")):
            expect = entry.get("expect") or []
            if entry.get("reject") or entry.get("cut_off") or unsupported(entry) or not expect:
                continue
            first = next((w for w in expect if w["action"] != "move"), None)
            if first is None or first["action"] not in CLICKS or "point" not in first:
                continue
            if profile == "ui-tars" and "v1" in entry.get("note", ""):
                profile = "ui-tars-v1"
            elif profile == "ui-tars" and tuple(entry.get("image") or TARS_FRAME) != TARS_FRAME:
                continue  # a parser test on another frame: no screen makes that image
            params.append(pytest.param(profile, entry, first, id=entry["id"]))
    return params


def named_pixel(profile: str, point: list[float], display: Display) -> tuple[int, int]:
    w, h = display.width, display.height
    fw, fh = TARS_FRAME if profile == "ui-tars" else (1000, 1000)
    return min(round(point[0] * w / fw), w - 1), min(round(point[1] * h / fh), h - 1)


@pytest.mark.parametrize(("profile", "entry", "first"), executable())
def test_a_corpus_answer_clicks_the_pixel_it_names(profile: str, entry: dict[str, Any],
                                                   first: dict[str, Any], display_1920: Display,
                                                   chat_server: Any, start_clicklog: Any) -> None:
    app = start_clicklog(display_1920)
    answer: Any = entry["answer"]
    if entry.get("reasoning"):  # the server returned the reasoning apart
        answer = Reply(entry["answer"], {"reasoning_content": entry["reasoning"]})
    done = native_done("ui-tars" if profile.startswith("ui-tars") else profile)
    chat_server.queue(answer, done, done)
    env = tracer_env(display_1920)
    budget = ["--max-pixels", str(TARS_FRAME[0] * TARS_FRAME[1])] if profile == "ui-tars" else []
    result = run_tracer("do", "the corpus task", "--yes", "--base-url", chat_server.base_url,
                        "--profile", profile, "--replan", "always", *budget, env=env, timeout=90)

    assert "Traceback" not in result.stderr, result.stderr
    if profile == "ui-tars":
        assert request_image_size(chat_server.requests[0]) == TARS_FRAME
    want = named_pixel(profile, first["point"], display_1920)
    presses = app.wait_presses(2 if first["action"] == "double_click" else 1)
    assert presses, result.stderr
    assert (presses[0]["x"], presses[0]["y"]) == want, (entry["id"], result.stderr)
    assert presses[0]["button"] == CLICKS[first["action"]]
    step = last_run(env)["steps"][0]
    assert step["action"]["action"] == first["action"]
    assert step["points"][0] == list(want)
