"""Every answer of the real-form corpus (tests/corpus/, each entry citing its source) is read by
its profile as the source's own parser reads it: the actions, their points, nothing from inside a
reasoning block, cut-off answers refused without a retry, malformed ones refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from tracer_cli.agent.profiles import PROFILES, FollowUp, PlanRequest
from tracer_cli.agent.reasoning import AnswerCutOff, check_complete, split
from tracer_cli.errors import PlanError
from tracer_cli.plan import Plan, normalize_key

CORPUS = Path(__file__).parent / "corpus"
FILES = {"qwen3_vl_instruct.yaml": "qwen3-vl", "qwen3_vl_thinking.yaml": "qwen3-vl",
         "ui_tars_15.yaml": "ui-tars", "gui_owl_15.yaml": "gui-owl", "ui_venus_15.yaml": "ui-venus",
         "opencua.yaml": "opencua", "holo15.yaml": "holo"}
DEFAULT_IMAGE = {"qwen3-vl": (1376, 768), "ui-tars": (1932, 1092), "gui-owl": (1408, 800),
                 "ui-venus": (1408, 800), "opencua": (1932, 1092), "holo": (1400, 700)}
PHONE_ACTIONS = re.compile(r"<action>\s*(?:LongPress|PressBack|PressHome|PressRecent|Launch)\(")


def entries() -> list[Any]:
    params = []
    for name, profile in FILES.items():
        for entry in yaml.safe_load((CORPUS / name).read_text(encoding="utf-8")):
            params.append(pytest.param(profile, name, entry, id=entry["id"]))
    return params


def test_every_entry_cites_a_source_and_says_what_it_means() -> None:
    ids = [p.values[2]["id"] for p in entries()]
    assert len(ids) == len(set(ids)) >= 60
    for param in entries():
        entry = param.values[2]
        assert entry["source"] and entry["form"] and isinstance(entry["answer"], str)
        assert entry.get("expect") or entry.get("cut_off") or entry.get("reject"), entry["id"]


def space(profile: str, entry: dict[str, Any]) -> str:
    """What the entry's numbers are: "pixels" of the image the model saw (families answering in
    absolute pixels), "relative" 0..1000, or "fraction" 0..1 where the entry says so."""
    if entry.get("space"):
        return entry["space"]
    return "pixels" if PROFILES.get(profile).geometry.coordinates == "absolute" else "relative"


def model_point(profile: str, point: list[float], image: tuple[int, int],
                kind: str) -> tuple[float, float]:
    """Where the entry's numbers (of the ``space`` kind) are on tracer's 0..1000 grid: a relative
    family's are on it already; fractions are scaled; an absolute family's are pixels of the
    image its processor made from the one it was given (for an image tracer sized, itself)."""
    if kind == "fraction":
        return point[0] * 1000, point[1] * 1000
    if kind == "relative":
        return float(point[0]), float(point[1])
    frame = PROFILES.get(profile).geometry.processed(*image)
    return point[0] * 1000 / frame[0], point[1] * 1000 / frame[1]


def expected_steps(profile: str, entry: dict[str, Any], image: tuple[int, int]) -> list[dict[str, Any]]:
    out, cursor, kind = [], None, space(profile, entry)
    for want in entry["expect"]:
        action = want["action"]
        if action == "move":
            cursor = want["point"]
            continue  # tracer does not hover: a move only places the next action
        step: dict[str, Any] = {"action": action}
        if "point" in want:
            step["point"] = model_point(profile, want["point"], image, kind)
        if action == "drag":
            step["start"] = model_point(profile, want.get("start", cursor), image, kind)
            step["end"] = model_point(profile, want["end"], image, kind)
        for key in ("text", "answer"):
            if key in want:
                step[key] = want[key]
        if "keys" in want:
            step["keys"] = [normalize_key(k) for k in want["keys"]]
        if "direction" in want:
            step["direction"] = want["direction"]
        out.append(step)
    return out


def read_steps(plan: Plan) -> list[dict[str, Any]]:
    names = {"click": "click", "double_click": "double_click", "right_click": "right_click",
             "type": "type", "hotkey": "hotkey", "scroll": "scroll", "wait": "wait",
             "done": "done", "fail": "fail", "drag": "drag"}
    out = []
    for s in plan.trajectory:
        data = s.model_dump()
        step: dict[str, Any] = {"action": names[data["action"]]}
        if data["action"] == "drag":
            step["start"], step["end"] = (data["x"], data["y"]), (data["x2"], data["y2"])
        elif data.get("x") is not None:
            step["point"] = (data["x"], data["y"])
        if data["action"] == "scroll":
            step["direction"] = "down" if data["dy"] < 0 else "up"
        for key in ("text", "answer", "keys"):
            if data.get(key):
                step[key] = data[key]
        out.append(step)
    return out


def close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) <= 0.01 and abs(a[1] - b[1]) <= 0.01


def same(got: dict[str, Any], want: dict[str, Any]) -> bool:
    for key, value in want.items():
        if key in ("point", "start", "end"):
            if key not in got or not close(got[key], value):
                return False
        elif key == "answer" and want["action"] == "done":
            if got.get("answer", "") != value:
                return False
        elif key == "text":
            if got.get("text", "").rstrip("\n") != value.rstrip("\n"):
                return False
        elif got.get(key) != value:
            return False
    return True


def unsupported(entry: dict[str, Any]) -> str | None:
    """Why tracer refuses an answer the source's own executor would run: what the entry says
    (``unsupported``), a phone's function, a triple click or a sideways scroll (no counterpart in
    the contract), or only hovering (with no next answer to act where the pointer went)."""
    answer, expect = entry["answer"], entry.get("expect") or []
    if entry.get("unsupported"):
        return entry["unsupported"]
    if '"mobile_use"' in answer:
        return "the only function is 'computer_use'"
    if "triple_click" in answer:
        return "unknown action 'triple_click'"
    if any(w.get("direction") in ("left", "right") for w in expect):
        return "sideways scrolling is not supported"
    if expect and all(w["action"] == "move" for w in expect):
        return "cannot hover"
    if PHONE_ACTIONS.search(answer):
        return "a phone's action"
    return None


@pytest.mark.parametrize(("profile", "file", "entry"), entries())
def test_the_profile_reads_the_answer_as_the_source_does(profile: str, file: str,
                                                         entry: dict[str, Any]) -> None:
    if profile == "ui-tars" and "v1" in entry.get("note", ""):
        profile = "ui-tars-v1"  # UI-TARS v1 answers on the relative 0..1000 grid
    image_size = tuple(entry.get("image") or DEFAULT_IMAGE.get(profile, (1932, 1092)))
    request = PlanRequest("the task", Image.new("RGB", image_size), 20)
    reader = PROFILES.get(profile)()
    # Qwen3-VL Thinking's chat template opens <think> itself: its answers hold only </think>
    answer = split(entry["answer"], entry.get("reasoning", ""), opened="thinking" in file)
    if entry.get("cut_off"):
        with pytest.raises(AnswerCutOff):
            check_complete(answer, "length", 1024)
        if answer.text and answer.closed:  # no reasoning block: the cut text holds no whole action
            with pytest.raises(PlanError):
                reader.parse(answer.text, request)
        return
    check_complete(answer, "stop", 1024)
    if entry.get("reject"):
        with pytest.raises(PlanError):
            reader.parse(answer.text, request)
        return
    reason = unsupported(entry)
    if reason:
        with pytest.raises(PlanError, match=reason):
            reader.parse(answer.text, request)
        return
    if entry.get("next_answer"):  # the first answer only prepares the second: one step of two
        with pytest.raises(FollowUp) as caught:
            reader.parse(answer.text, request)
        plan = caught.value.read(split(entry["next_answer"]).text)
    else:
        plan = reader.parse(answer.text, request)
    got = read_steps(plan)
    want = expected_steps(profile, entry, image_size)
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        assert same(g, w), (g, w)
    if entry.get("draft_in_reasoning"):  # the draft was there, and none of it was read
        drafts = _draft_calls(answer.reasoning)
        assert drafts and all(draft not in answer.text for draft in drafts)


def _draft_calls(reasoning: str) -> list[str]:
    """The call objects written inside the reasoning, tagged or bare (none may reach the reader)."""
    return [line.strip() for line in reasoning.splitlines() if '"name": "computer_use"' in line]


def test_every_profile_with_a_corpus_reads_at_least_ten_answers() -> None:
    counts: dict[str, int] = {}
    for param in entries():
        counts[param.values[0]] = counts.get(param.values[0], 0) + 1
    assert set(counts) == set(FILES.values()) and min(counts.values()) >= 10, counts


# --- grounding answers (tests/corpus/grounding/): one point each, as a grounder reads it ---------

GROUNDING = {"gui_owl.yaml": "gui-owl", "ui_venus.yaml": "ui-venus", "opencua.yaml": "opencua",
             "holo.yaml": "holo"}
GROUNDING_IMAGE = {"gui-owl": (1408, 800), "ui-venus": (1408, 800), "opencua": (1232, 700),
                   "holo": (1232, 700)}  # what tracer sends for a 1920x1080 screen


def grounding_entries() -> list[Any]:
    params = []
    for name, profile in GROUNDING.items():
        for entry in yaml.safe_load((CORPUS / "grounding" / name).read_text(encoding="utf-8")):
            params.append(pytest.param(profile, entry, id=entry["id"]))
    return params


def test_every_grounding_entry_cites_a_source_and_names_its_point() -> None:
    ids = [p.values[1]["id"] for p in grounding_entries()]
    agent_ids = {p.values[2]["id"] for p in entries()}
    assert len(ids) == len(set(ids)) and not set(ids) & agent_ids
    counts: dict[str, dict[bool, int]] = {}
    for param in grounding_entries():
        profile, entry = param.values
        assert entry["source"] and entry["form"] and entry["note"] and isinstance(entry["answer"], str)
        assert bool(entry.get("reject")) != ("point" in entry), entry["id"]
        kind = counts.setdefault(profile, {True: 0, False: 0})
        kind[bool(entry.get("reject"))] += 1
    # per family: at least five forms read and three broken answers refused
    assert set(counts) == set(GROUNDING.values())
    assert all(c[False] >= 5 and c[True] >= 3 for c in counts.values()), counts


@pytest.mark.parametrize(("profile", "entry"), grounding_entries())
def test_the_grounder_reads_the_point_or_refuses_the_answer(profile: str, entry: dict[str, Any]) -> None:
    image = tuple(entry.get("image") or GROUNDING_IMAGE[profile])
    reader = PROFILES.get(profile)()
    answer = split(entry["answer"])  # a thinking model's reasoning never reaches the reader
    if entry.get("reject"):
        with pytest.raises(PlanError, match=entry.get("reason")):
            reader.parse_point(answer.text, image)
        return
    got = reader.parse_point(answer.text, image)
    want = model_point(profile, entry["point"], image, space(profile, entry))
    assert close(got, want), (got, want)
