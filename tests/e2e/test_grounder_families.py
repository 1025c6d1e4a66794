"""A generic planner and a GUI-specialised grounder, through the real `tracer do` on Xvfb.

The planner is tracer1 answering from the tests' OpenAI-compatible server and names only a
target (no point); the grounder is a second model of one of the new families, asked with its own
grounding prompt:

- through a server (a second test server, ``--grounder URL --grounder-profile FAMILY``) answering
  answers of the grounding corpus (tests/corpus/grounding/): the press lands on exactly the pixel
  the answer names in the image the grounder was sent. That image is the full-resolution screen
  sized for the grounder's family at its default budget (no zoom: zoom only places clicks that
  already have a point, under the planner's grounding minimum), so the pixel is computed from
  what tracer sent: ``x / 1000 * width`` for GUI-Owl and UI-Venus, the point's share of the image
  for Holo1.5 and OpenCUA (pixels of the image their processor keeps, which is the one sent);
- through llama.cpp (``--grounder model.gguf --grounder-mmproj mmproj.gguf``): a tiny scripted
  GGUF pair of the family's architecture (tests/tinyvlm.py) says a grounding answer. Qwen3-VL
  (``qwen3vl``: patch 16, merge 2, the deepstack projector) stands in for GUI-Owl-1.5 and
  UI-Venus-1.5. For Holo1.5 (Qwen2.5-VL) the maker has only ``qwen2vl``: the same text
  architecture as llama.cpp converts Qwen2.5-VL (qwen2vl, M-RoPE) and the same image geometry
  (patch 14, merge 2: 28-pixel tiles, so llama.cpp keeps the 28-multiple image tracer sends), but
  Qwen2-VL's projector (``qwen2vl_merger``), not Qwen2.5-VL's (``qwen2.5vl_merger``: windowed
  attention, gated MLP). What tracer depends on (the tiles, the image it sends, the answer it
  reads) is the same; the encoder of a real Holo1.5 GGUF is not exercised;
- OpenCUA does not run in llama.cpp: a .gguf grounder with its profile is refused in one line
  before any model loads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chat_server import ChatServer, request_text
from tests.conftest import Display, run_tracer
from tests.e2e.conftest import ClickLog, done, last_run, plan, request_image_size, tracer_env
from tests.e2e.test_corpus_loop import named_pixel, shares
from tests.test_corpus import CORPUS, GROUNDING, space
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.agent.profiles import PROFILES

pytestmark = pytest.mark.display

TASK = "click the mark"
TARGET = "the mark"
TARGET_ONLY = plan({"action": "click", "target": TARGET}, done("clicked"), thought="Click the mark.")
FAMILY = {profile: name for name, profile in GROUNDING.items()}
PROMPT = {  # words of each family's own grounding prompt (tracer_cli/agent/profiles/)
    "gui-owl": "you can only use the left_click and mouse_move action",
    "ui-venus": "The output should just be the coordinates of a point, in the format [x,y].",
    "holo": "Localize an element on the GUI image according to the provided target",
    "opencua": "You need to perform a series of pyautogui actions to complete the task.",
}

# (profile, corpus entry, screen): per family an ordinary answer on 1920x1080 and one near the
# right and bottom edges on 1366x768 (an odd number of pixels per 1000, rounding exercised)
CASES = [("gui-owl", "owl-gd-left-click", "display_1920"),
         ("gui-owl", "owl-gd-think-near-the-edges", "display_1366"),
         ("ui-venus", "venus-gd-point", "display_1920"),
         ("ui-venus", "venus-gd-point-then-text-near-the-edges", "display_1366"),
         ("holo", "holo-gd-quickstart", "display_1920"),
         ("holo", "holo-gd-fenced-near-the-edges", "display_1366"),
         ("opencua", "ocua-gd-bare-line", "display_1920"),
         ("opencua", "ocua-gd-positional-near-the-edges", "display_1366")]


def corpus_entry(profile: str, entry_id: str) -> dict[str, Any]:
    entries = yaml.safe_load((CORPUS / "grounding" / FAMILY[profile]).read_text(encoding="utf-8"))
    [entry] = [e for e in entries if e["id"] == entry_id]
    return entry


@pytest.fixture
def grounder_server() -> Iterator[ChatServer]:
    """A server of two models: the grounder's must be named (--grounder-model)."""
    server = ChatServer(models=("gui-grounder", "another-model")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(("profile", "entry_id", "screen_name"), CASES,
                         ids=[f"{c[1]}-{c[2][8:]}" for c in CASES])
def test_a_grounder_server_of_each_family_places_the_planners_target(
        profile: str, entry_id: str, screen_name: str, request: pytest.FixtureRequest,
        chat_server: ChatServer, grounder_server: ChatServer, clicklogs: Any) -> None:
    display: Display = request.getfixturevalue(screen_name)
    screen = (display.width, display.height)
    app = clicklogs(display)
    before = len(app.presses())
    entry = corpus_entry(profile, entry_id)
    chat_server.queue(TARGET_ONLY, plan(done("clicked")), plan(done("clicked")))
    grounder_server.queue(entry["answer"])
    env = tracer_env(display)
    result = run_tracer("do", TASK, "--yes", "--base-url", chat_server.base_url,
                        "--grounder", grounder_server.base_url, "--grounder-profile", profile,
                        "--grounder-model", "gui-grounder", env=env, timeout=90)

    assert result.returncode == 0, result.stderr
    [asked] = grounder_server.requests  # one grounding request, read at the first answer
    assert asked["model"] == "gui-grounder"
    sent = request_image_size(asked)
    # the full-resolution screen sized for the grounder's family (not the planner's image, no crop)
    assert sent == PROFILES.get(profile).geometry.size(*screen)
    assert TARGET in request_text(asked) and PROMPT[profile] in request_text(asked)
    want = named_pixel(shares(profile, space(profile, entry), entry["point"], sent), screen)
    assert want is not None
    [press] = app.wait_presses(1, since=before)
    assert press["x"] in want[0] and press["y"] in want[1], (entry_id, press, want, result.stderr)
    step = last_run(env)["steps"][0]
    assert step["grounding"]["target"] == TARGET and step["grounding"]["answer"] == entry["answer"]
    assert step["points"][0] == [press["x"], press["y"]]


# --- through llama.cpp -------------------------------------------------------------------------

Pair = tuple[Path, Path]
OWL_CALL = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [750, 250]}}
LOCAL = {  # profile: (tiny architecture, the grounding answer, the point it names on 0..1000)
    "gui-owl": ("qwen3vl", f"<tool_call>\n{json.dumps(OWL_CALL)}\n</tool_call>", (750, 250)),
    "ui-venus": ("qwen3vl", "[750,250]", (750, 250)),
    # pixels of the 1176x728 image sent for the 1280x800 screen: (294, 546) is (250, 750)
    "holo": ("qwen2vl", '{"action": "click_absolute", "x": 294, "y": 546}', (250, 750)),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grounder-vlms")


@pytest.mark.parametrize("profile", list(LOCAL))
def test_a_local_grounder_of_each_llama_cpp_family_places_the_planners_target(
        profile: str, display: Display, clicklog: ClickLog, chat_server: ChatServer,
        models: Path) -> None:
    arch, answer, point = LOCAL[profile]
    model, mmproj = make_tiny_vlm(models / profile, [answer], arch=arch)
    chat_server.queue(TARGET_ONLY, plan(done("clicked")), plan(done("clicked")))
    env = tracer_env(display)
    result = run_tracer("do", TASK, "--yes", "--base-url", chat_server.base_url,
                        "--grounder", str(model), "--grounder-mmproj", str(mmproj),
                        "--grounder-profile", profile, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr  # the projector's tiles are the family's
    [press] = clicklog.wait_presses(1)
    named = tuple(round(Fraction(v, 1000) * side) for v, side in zip(point, (1280, 800), strict=True))
    assert (press["x"], press["y"]) == named
    step = last_run(env)["steps"][0]
    assert step["grounding"]["answer"] == answer
    assert step["grounding"]["point"] == list(point)


def test_an_opencua_gguf_grounder_is_refused_in_one_line(display: Display, chat_server: ChatServer,
                                                         models: Path) -> None:
    """OpenCUA-7B/32B are not the Qwen2.5-VL llama.cpp runs: the .gguf is refused before any model
    loads or is asked, with the way to serve it instead."""
    model, mmproj = make_tiny_vlm(models / "opencua", ["```python\npyautogui.click(x=9, y=9)\n```"])
    result = run_tracer("do", TASK, "--yes", "--base-url", chat_server.base_url,
                        "--grounder", str(model), "--grounder-mmproj", str(mmproj),
                        "--grounder-profile", "opencua", env=tracer_env(display), timeout=60)

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tracer: error: profile opencua needs a model server, not a .gguf")
    assert "--grounder http://HOST:PORT/v1 --grounder-profile opencua" in lines[0]
    assert chat_server.requests == []


def test_a_grounder_projector_of_another_family_is_warned_about(
        display: Display, clicklog: ClickLog, chat_server: ChatServer, models: Path) -> None:
    """A Qwen3-VL projector (32-pixel tiles) under the holo profile (28): llama.cpp would resize
    and pad the grounder's image, so tracer says so, naming the grounder's flag."""
    _, answer, _ = LOCAL["holo"]
    model, mmproj = make_tiny_vlm(models / "holo-on-qwen3", [answer], arch="qwen3vl")
    chat_server.queue(TARGET_ONLY, plan(done("clicked")), plan(done("clicked")))
    result = run_tracer("do", TASK, "--yes", "--base-url", chat_server.base_url,
                        "--grounder", str(model), "--grounder-mmproj", str(mmproj),
                        "--grounder-profile", "holo", env=tracer_env(display), timeout=120)

    assert result.returncode == 0, result.stderr
    assert "the vision projector works in 32-pixel tiles" in result.stderr
    assert "with --grounder-profile" in result.stderr


def test_an_opencua_gguf_planner_is_refused_in_one_line(display: Display, models: Path) -> None:
    model, mmproj = make_tiny_vlm(models / "opencua-planner", ["```python\npyautogui.click(x=9, y=9)\n```"])
    result = run_tracer("do", TASK, "--yes", "--model", str(model), "--mmproj", str(mmproj),
                        "--profile", "opencua", env=tracer_env(display), timeout=60)

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "profile opencua needs a model server, not a .gguf" in lines[0]
    assert "--base-url http://HOST:PORT/v1 --profile opencua" in lines[0]
