"""A click read from a model's native answer lands on the pixel the answer names (±1), for each
profile, each way of giving the model, at 1280x800, 1920x1080, 1366x768 and 2560x1440, through
llama.cpp (tiny GGUF pairs of the matching family) and through an OpenAI-compatible server.

The pixel an answer names: for a relative family (tracer1, Qwen3-VL, GUI-Owl-1.5, UI-Venus-1.5)
``x / 1000 * width``; for a family answering in pixels (UI-TARS-1.5, OpenCUA, Holo1.5) the
point's share of the image its processor made (the image tracer sent, which no processor resizes
again: checked here with llama.cpp's own tokenizer of images) times the width.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Display, run_tracer
from tests.e2e.conftest import last_run, pointer, request_image_size, run_dir, tracer_env
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.agent.profiles import PROFILES

pytestmark = pytest.mark.display

SCREENS = ["display_1280", "display_1920", "display_1366", "display_2560"]
ARCH = {"tracer1": "qwen3vl", "qwen3-vl": "qwen3vl", "ui-tars": "qwen2vl",  # patch 16 / 14
        "gui-owl": "qwen3vl", "ui-venus": "qwen3vl", "holo": "qwen2vl"}  # Qwen3-VL / Qwen2.5-VL
CONTEXT = "6144"


def target(display: Display) -> tuple[int, int]:
    """An awkward screen pixel: not on any round fraction of the screen."""
    return round(display.width * 0.7373), round(display.height * 0.6131)


def native_click(profile: str, display: Display) -> tuple[str, tuple[int, int]]:
    """The answer that clicks near ``target`` as the family writes it, and the pixel it names."""
    w, h = display.width, display.height
    tx, ty = target(display)
    if PROFILES.get(profile).geometry.coordinates == "absolute":
        iw, ih = PROFILES.get(profile).geometry.size(w, h)
        px, py = round(tx * iw / w), round(ty * ih / h)
        named = (min(round(px * w / iw), w - 1), min(round(py * h / ih), h - 1))
        if profile == "opencua":
            return ("## Thought:\nThe mark sits right of the middle.\n\n## Action:\nClick the mark."
                    f"\n\n## Code:\n```python\npyautogui.click(x={px}, y={py})\n```\n"), named
        if profile == "holo":
            return json.dumps({"note": "", "thought": "The mark sits right of the middle.", "action": {
                "action": "click_element", "element": "the mark", "x": px, "y": py}}), named
        text = ("Thought: The mark sits right of the middle. I click the mark.\n"
                f"Action: click(point='<point>{px} {py}</point>')")
        return text, named
    x, y = round(tx * 1000 / w), round(ty * 1000 / h)
    named = (min(round(x * w / 1000), w - 1), min(round(y * h / 1000), h - 1))
    if profile in ("qwen3-vl", "gui-owl"):
        call = json.dumps({"name": "computer_use", "arguments": {"action": "left_click",
                                                                  "coordinate": [x, y]}})
        return f"Action: Click the mark.\n<tool_call>\n{call}\n</tool_call>", named
    if profile == "ui-venus":
        return ("<think>The mark sits right of the middle.</think>\n"
                f"<action>Click(box=({x},{y}))</action>\n<conclusion>Clicked the mark.</conclusion>"), named
    plan = {"thought": "Click the mark.", "trajectory": [
        {"action": "click", "x": x, "y": y, "target": "the mark"}]}
    return json.dumps(plan), named


def native_done(profile: str) -> str:
    if profile == "opencua":
        return ("## Action:\nReport that the mark is clicked.\n\n## Code:\n```code\n"
                "computer.terminate(status='success', answer='clicked')\n```\n")
    if profile == "holo":
        return json.dumps({"note": "", "thought": "The mark is clicked.",
                           "action": {"action": "answer", "content": "clicked"}})
    if profile == "ui-tars":
        return "Thought: The mark is clicked.\nAction: finished(content='clicked')"
    if profile in ("qwen3-vl", "gui-owl"):
        call = json.dumps({"name": "computer_use", "arguments": {"action": "answer", "text": "clicked"}})
        return f"Action: Report it.\n<tool_call>\n{call}\n</tool_call>"
    if profile == "ui-venus":
        return ("<think>The mark is clicked.</think>\n<action>Finished(content='clicked')</action>\n"
                "<conclusion>Done.</conclusion>")
    return json.dumps({"thought": "Done.", "trajectory": [{"action": "done", "answer": "clicked"}]})


@pytest.fixture(params=SCREENS)
def screen(request: pytest.FixtureRequest) -> Display:
    return request.getfixturevalue(request.param)


def check_press(app: Any, display: Display, named: tuple[int, int], since: int = 0) -> None:
    [press] = app.wait_presses(1, since=since)
    assert abs(press["x"] - named[0]) <= 1 and abs(press["y"] - named[1]) <= 1, (press, named)
    assert (press["x"], press["y"]) == named  # exact, in fact
    assert pointer(display) == named


@pytest.mark.parametrize("profile", ["tracer1", "qwen3-vl", "ui-tars", "gui-owl", "ui-venus",
                                     "opencua", "holo"])
def test_through_a_server_with_the_profile_named(profile: str, screen: Display, chat_server: Any,
                                                 clicklogs: Any) -> None:
    app = clicklogs(screen)
    before = len(app.presses())
    answer, named = native_click(profile, screen)
    chat_server.queue(answer, native_done(profile))
    env = tracer_env(screen)
    result = run_tracer("do", "click the mark", "--yes", "--base-url", chat_server.base_url,
                        "--profile", profile, env=env, timeout=90)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clicked"
    check_press(app, screen, named, before)
    geometry = PROFILES.get(profile).geometry
    sent = geometry.size(screen.width, screen.height)
    assert [request_image_size(body) for body in chat_server.requests] == [sent, sent]
    assert geometry.tokens(*sent) >= 1024  # the grounding minimum
    step = last_run(env)["steps"][0]
    assert step["image_size"] == list(sent) and step["points"] == [list(named)]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int, int], tuple[Path, Path]]:
    """A tiny pair per (profile, screen) that answers the native click (then, when the click
    reply is back in the conversation, as UI-TARS's history sends it, the native done)."""
    return {}


def tiny_pair(pairs: dict[Any, Any], root: Path, profile: str, display: Display) -> tuple[Path, Path]:
    key = (profile, display.width, display.height)
    if key not in pairs:
        answer, _ = native_click(profile, display)
        folder = root / f"{profile}-{display.width}x{display.height}"
        pairs[key] = make_tiny_vlm(folder, [answer, native_done(profile)], arch=ARCH[profile])
    return pairs[key]


def model_args(way: str, profile: str, pair: tuple[Path, Path], env: dict[str, str],
               home: Path, tmp_path: Path) -> list[str]:
    """Give the pair to tracer as a path, a registered name, or a catalogue entry."""
    model, mmproj = pair
    if way == "path":
        return ["--model", str(model), "--mmproj", str(mmproj), "--profile", profile,
                "--context", CONTEXT]
    name = f"tiny-{profile}"
    if way == "registered":
        added = run_tracer("models", "add", name, "--model", str(model), "--mmproj", str(mmproj),
                           "--profile", profile, "--context", CONTEXT, env=env, timeout=30)
        assert added.returncode == 0, added.stderr
        return ["--model", name]
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    (catalogue / f"{name}.toml").write_text(
        f'name = "{name}"\nprofile = "{profile}"\ncontext = {CONTEXT}\nrepo = "test/tiny"\n'
        f'[model]\nfile = "{model.name}"\n[mmproj]\nfile = "{mmproj.name}"\n', encoding="utf-8")
    installed = home / "models" / name
    installed.mkdir(parents=True)
    for path in pair:
        shutil.copy(path, installed / path.name)
    env["TRACER_CATALOGUE"] = str(catalogue)
    return ["--model", name]


WAYS = {"display_1280": "path", "display_1920": "registered", "display_1366": "catalogue",
        "display_2560": "path"}


@pytest.mark.parametrize("profile", ["tracer1", "qwen3-vl", "ui-tars"])
@pytest.mark.parametrize("screen_name", SCREENS)
def test_through_llama_cpp_given_each_way(profile: str, screen_name: str, request: pytest.FixtureRequest,
                                          pairs: dict[Any, Any], start_clicklog: Any,
                                          tmp_path_factory: pytest.TempPathFactory,
                                          tmp_path: Path, tracer_home: Path) -> None:
    through_llama_cpp(profile, screen_name, request, pairs, start_clicklog, tmp_path_factory,
                      tmp_path, tracer_home)


# The newer families, each planning through llama.cpp with a tiny pair of its architecture (one
# screen each: their corpus runs at two sizes through a server in test_corpus_loop.py)
@pytest.mark.parametrize(("profile", "screen_name"), [
    ("gui-owl", "display_1920"), ("ui-venus", "display_1366"), ("holo", "display_1280")])
def test_the_newer_families_plan_through_llama_cpp(
        profile: str, screen_name: str, request: pytest.FixtureRequest, pairs: dict[Any, Any],
        start_clicklog: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
        tracer_home: Path) -> None:
    through_llama_cpp(profile, screen_name, request, pairs, start_clicklog, tmp_path_factory,
                      tmp_path, tracer_home)


def through_llama_cpp(profile: str, screen_name: str, request: pytest.FixtureRequest,
                      pairs: dict[Any, Any], start_clicklog: Any,
                      tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
                      tracer_home: Path) -> None:
    """The real `tracer do` with a tiny pair answering the family's native click, given in the
    screen's way: the press lands on the pixel named, and llama.cpp keeps the image as sent."""
    display: Display = request.getfixturevalue(screen_name)
    app = start_clicklog(display)
    pair = tiny_pair(pairs, tmp_path_factory.getbasetemp() / "native-pairs", profile, display)
    env = tracer_env(display)
    args = model_args(WAYS[screen_name], profile, pair, env, tracer_home, tmp_path)
    # UI-TARS is sent its own click reply back (multi-turn history), so the tiny model answers
    # the done that follows it; the other prompts carry text history: it clicks again, once.
    steps = [] if profile == "ui-tars" else ["--max-steps", "1"]
    result = run_tracer("do", "click the mark", "--yes", "--backend", "llama", *args, *steps,
                        env=env, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    _, named = native_click(profile, display)
    check_press(app, display, named)
    record = last_run(env)
    if profile == "ui-tars":
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "clicked"
        assert record["run"]["status"] == "done"
    else:
        assert result.returncode == 1 and record["run"]["status"] == "gave_up", result.stderr
    sent = PROFILES.get(profile).geometry.size(display.width, display.height)
    assert record["steps"][0]["image_size"] == list(sent)
    assert_llama_cpp_keeps(pair[1], env, sent, PROFILES.get(profile).geometry.factor)


def assert_llama_cpp_keeps(mmproj: Path, env: dict[str, str], size: tuple[int, int],
                           factor: int) -> None:
    """llama.cpp's own image tokenizer turns the screenshot tracer sent into a grid that covers
    exactly that size: it was neither resized nor padded."""
    shot = run_dir(env) / "step-001.png"
    script = f"""
import ctypes, llama_cpp, llama_cpp.mtmd_cpp as m
from tests.tinyvlm import MODEL_NAME
from pathlib import Path
llm = llama_cpp.Llama(model_path=str(Path({str(mmproj)!r}).with_name(MODEL_NAME)), n_ctx=512, verbose=False)
params = m.mtmd_context_params_default()
ctx = m.mtmd_init_from_file({str(mmproj)!r}.encode(), llm.model, params)
bitmap = m.mtmd_helper_bitmap_init_from_file(ctx, {str(shot)!r}.encode(), False)
text = m.mtmd_input_text()
raw = m.mtmd_default_marker()
text.text, text.text_len, text.add_special, text.parse_special = raw, len(raw), False, True
chunks = m.mtmd_input_chunks_init()
assert m.mtmd_tokenize(ctx, chunks, ctypes.byref(text), (m.mtmd_bitmap_p_ctypes * 1)(bitmap), 1) == 0
for i in range(m.mtmd_input_chunks_size(chunks)):
    chunk = m.mtmd_input_chunks_get(chunks, i)
    if m.mtmd_input_chunk_get_type(chunk) == m.MTMD_INPUT_CHUNK_TYPE_IMAGE:
        tokens = m.mtmd_input_chunk_get_tokens_image(chunk)
        print(m.mtmd_image_tokens_get_nx(tokens), m.mtmd_image_tokens_get_ny(tokens))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    nx, ny = map(int, done.stdout.split()[-2:])
    assert (nx * factor, ny * factor) == size, (nx, ny, factor, size)
