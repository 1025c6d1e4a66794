"""The real `tracer` with the llama backend: a tiny GGUF vision-language model pair (made by
tests/tinyvlm.py) loaded by llama-cpp-python in the tracer process, on the real Xvfb display.

Sizes: the 1280x800 screen is sent at the profile's geometry: 1312x832 for tracer1 (Qwen3-VL,
1066 image tokens; the pairs here are qwen3vl, patch 16, so llama.cpp keeps that size) and
1176x728 for ui-tars (1092 tokens, a qwen2vl pair, patch 14). The tracer1 prompt before the
image is ~730 tokens with the tiny tokenizer, so one call needs ~2100 KV cells and
``--context 4096`` leaves room for a retry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import MARKER_RED, ClickLog, click, done, last_run, plan, run_dir, tracer_env
from tests.llama_server import NO_PROXY, llama_server
from tests.tinyvlm import make_tiny_vlm, quantize
from tracer_cli.agent.profiles.geometry import QWEN3_VL

pytestmark = pytest.mark.display

CONTEXT = "4096"
TASK = "click the left half"
CLICK_PLAN = plan(click(250, 500, "left half"), done("clicked"),
                  thought="Click the left half, then stop.")
CLICK_POINT = (round(250 * 1280 / 1000), round(500 * 800 / 1000))  # (320, 400)
DONE_PLAN = plan(done("pressed OK"), thought="The OK button is pressed already.")
NOT_JSON = "I think I should click the OK button somewhere."

Pair = tuple[Path, Path]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-vlms")


@pytest.fixture(scope="module")
def click_pair(models: Path) -> Pair:
    """Always answers CLICK_PLAN."""
    return make_tiny_vlm(models / "click", [json.dumps(CLICK_PLAN)], arch="qwen3vl")


@pytest.fixture(scope="module")
def done_pair(models: Path) -> Pair:
    """Always answers DONE_PLAN."""
    return make_tiny_vlm(models / "done", [json.dumps(DONE_PLAN)], arch="qwen3vl")


@pytest.fixture(scope="module")
def retry_pair(models: Path) -> Pair:
    """Answers NOT_JSON first, DONE_PLAN once NOT_JSON is in the conversation (a retry)."""
    return make_tiny_vlm(models / "retry", [NOT_JSON, json.dumps(DONE_PLAN)], arch="qwen3vl")


@pytest.fixture(scope="module")
def qwen3_pair(models: Path) -> Pair:
    """A Qwen3-VL pair (patch 16, deepstack projector) that always answers CLICK_PLAN."""
    return make_tiny_vlm(models / "qwen3vl", [json.dumps(CLICK_PLAN)], arch="qwen3vl")


def llama_args(pair: Pair, *extra: str) -> list[str]:
    model, mmproj = pair
    return ["--backend", "llama", "--model", str(model), "--mmproj", str(mmproj),
            "--context", CONTEXT, *extra]


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def prefix_tokens(model: Path, task: str) -> int:
    """How many tokens the unchanged start of a tracer1 prompt has for this model: the system
    prompt and the task line, as the Qwen2-VL chat template lays them out."""
    from llama_cpp import Llama

    from tracer_cli.agent.profiles.tracer1 import SYSTEM

    text = (f"<|im_start|>system\n{SYSTEM.format(horizon=5)}<|im_end|>\n"
            f"<|im_start|>user\nTask: {task}\n\n")
    vocab = Llama(model_path=str(model), vocab_only=True, verbose=False)
    try:
        return len(vocab.tokenize(text.encode(), add_bos=False, special=True))
    finally:
        vocab.close()


def test_plan_json_with_the_local_model(display: Display, clicklog: ClickLog,
                                        click_pair: Pair) -> None:
    from PIL import Image

    env = tracer_env(display)
    result = run_tracer("plan", TASK, "--json", *llama_args(click_pair), env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == CLICK_PLAN
    assert result.stdout.count("\n") == 1
    assert clicklog.presses() == [] and clicklog.keys() == []
    preview = run_dir(env) / "preview.png"
    assert preview.is_file()
    assert f"preview: {preview}" in result.stderr
    with Image.open(preview) as image:
        # the model's screenshot: 1280x800 raised to Qwen3-VL's grounding minimum
        assert image.size == QWEN3_VL.size(1280, 800) == (1312, 832)
        rgb = image.convert("RGB")
        cx, cy = round(250 * image.width / 1000), round(500 * image.height / 1000)
        marker = [rgb.getpixel((x, y)) == MARKER_RED
                  for x in range(cx - 12, cx + 13) for y in range(cy - 12, cy + 13)]
        assert sum(marker) > 100  # the first marker sits at the click point
    record = last_run(env)
    assert record["run"]["status"] == "planned"
    [attempt] = record["steps"][0]["attempts"]
    assert attempt["error"] == "" and json.loads(attempt["answer"]) == CLICK_PLAN


def test_do_clicks_twice_and_the_second_call_reuses_the_prompt_start(
        display: Display, clicklog: ClickLog, click_pair: Pair) -> None:
    env = tracer_env(display)
    result = run_tracer("do", TASK, "--yes", "--max-steps", "2", *llama_args(click_pair),
                        env=env, timeout=60)

    assert result.returncode == 1, result.stderr  # the model never says done: gave up at 2 steps
    assert "Traceback" not in result.stderr
    assert "max-steps 2" in result.stderr
    presses = clicklog.wait_presses(2)
    assert [(p["x"], p["y"], p["button"]) for p in presses] == [(*CLICK_POINT, 1)] * 2
    assert clicklog.keys() == []

    record = last_run(env)
    assert record["run"]["status"] == "gave_up"
    steps = record["steps"]
    assert [s["step"] for s in steps] == [1, 2]
    [first] = steps[0]["attempts"]
    [second] = steps[1]["attempts"]
    assert first["error"] == "" and second["error"] == ""
    assert first["reused_tokens"] == 0  # a fresh model: nothing cached yet
    # step 2's prompt starts like step 1's (system prompt, task) and then differs (history,
    # screenshot): all of that start comes from the KV cache, the rest is evaluated
    unchanged = prefix_tokens(click_pair[0], TASK)
    assert second["reused_tokens"] >= unchanged > 500, (second, unchanged)
    assert second["reused_tokens"] < second["prompt_tokens"]


def test_a_malformed_answer_is_sent_back_and_the_retry_succeeds(display: Display,
                                                               retry_pair: Pair) -> None:
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", *llama_args(retry_pair), env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pressed OK"
    record = last_run(env)
    assert record["run"]["status"] == "done"
    [step] = record["steps"]
    bad, good = step["attempts"]
    assert bad["answer"] == NOT_JSON and "no JSON object" in bad["error"]
    assert json.loads(good["answer"]) == DONE_PLAN and good["error"] == ""
    # The re-ask repeats the whole first prompt, screenshot included, before the rejected
    # answer: all of it comes from the KV cache (the image's 1066 tokens are not encoded and
    # prefilled again), only the answer and the correction are evaluated.
    image_tokens = (1312 // 32) * (832 // 32)
    assert bad["reused_tokens"] == 0
    assert good["reused_tokens"] >= prefix_tokens(retry_pair[0], "press OK") + image_tokens


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_K_M"])
def test_a_quantised_model_runs_where_llama_cpp_default_cpu_buffers_would_crash(
        display: Display, done_pair: Pair, quant: str) -> None:
    """Quantised weights as users run them. Where llama.cpp's extra CPU buffer types (AMX,
    repacked weights) kill the process (by a signal), tracer's probe has found it out and loads
    without them; forcing them shows what would happen otherwise."""
    from tracer_cli.agent.backends.cpu_probe import verdict

    pair = (quantize(done_pair[0], quant), done_pair[1])
    env = tracer_env(display)
    result = run_tracer("--debug", "do", "press OK", "--yes", *llama_args(pair), env=env, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "pressed OK"
    found = verdict()  # remembered under the same TRACER_HOME: what the run used
    assert f"debug: {found.describe()}" in result.stderr

    forced = run_tracer("do", "press OK", "--yes", *llama_args(pair), timeout=120,
                        env={**env, "TRACER_EXTRA_BUFFERS": "1"})
    if found.extra_buffers:
        assert forced.returncode == 0, forced.stderr[-2000:]
    else:  # what tracer would do without the probe: die on the first evaluation (by a
        # signal whose number depends on the CPU: SIGILL here, SIGSEGV where AMX is reported)
        assert forced.returncode < 0, (forced.returncode, forced.stderr[-2000:])
        assert "pressed OK" not in forced.stdout


def test_grammar_constrained_decoding(display: Display, done_pair: Pair) -> None:
    env = tracer_env(display)
    result = run_tracer("do", "press OK", "--yes", "--grammar", *llama_args(done_pair),
                        env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pressed OK"
    record = last_run(env)
    assert record["run"]["settings"]["grammar"] is True
    [attempt] = record["steps"][0]["attempts"]
    assert json.loads(attempt["answer"]) == DONE_PLAN  # the grammar let the valid plan through


def test_grammar_lets_a_click_written_as_the_prompt_teaches_through(display: Display,
                                                                    click_pair: Pair) -> None:
    """The prompt teaches {"action": "click", "x": .., "y": .., "target": ..}: the grammar must
    accept that order (a grammar wanting "target" first turned such a click into "done")."""
    result = run_tracer("plan", TASK, "--json", "--grammar", *llama_args(click_pair),
                        env=tracer_env(display), timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trajectory"][0] == CLICK_PLAN["trajectory"][0]


def test_a_registered_model_is_used_by_name(display: Display, done_pair: Pair) -> None:
    env = tracer_env(display)
    model, mmproj = done_pair
    added = run_tracer("models", "add", "tiny", "--model", str(model), "--mmproj", str(mmproj),
                       "--profile", "tracer1", "--context", CONTEXT, env=env, timeout=30)
    assert added.returncode == 0, added.stderr

    result = run_tracer("do", "press OK", "--yes", "--backend", "llama", "--model", "tiny",
                        env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pressed OK"
    settings = last_run(env)["run"]["settings"]
    assert settings["model"] == "tiny" and settings["mmproj"] == ""


def test_the_same_pair_behind_llama_cpp_server(display: Display, done_pair: Pair,
                                               tmp_path: Path) -> None:
    with llama_server(*done_pair, tmp_path / "server.log", int(CONTEXT)) as base:
        env = tracer_env(display, **NO_PROXY)
        result = run_tracer("do", "press OK", "--yes", "-b", "openai", "--base-url", base,
                            env=env, timeout=60)

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "pressed OK"
        [attempt] = last_run(env)["steps"][0]["attempts"]
        assert json.loads(attempt["answer"]) == DONE_PLAN


def test_plan_with_a_qwen3_vl_pair(display: Display, qwen3_pair: Pair) -> None:
    env = tracer_env(display)
    result = run_tracer("plan", TASK, "--json", *llama_args(qwen3_pair), env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == CLICK_PLAN
    assert (run_dir(env) / "preview.png").is_file()


@pytest.mark.parametrize("broken", ["model", "mmproj"])
def test_a_broken_model_pair_is_one_line_and_exit_2(display: Display, click_pair: Pair,
                                                    tmp_path: Path, broken: str) -> None:
    model, mmproj = click_pair
    if broken == "model":
        garbage = tmp_path / "garbage.gguf"
        garbage.write_bytes(b"this is not a model\n" * 200)
        model, expected = garbage, f"{garbage} is not a GGUF file"
    else:
        mmproj, expected = model, "check that the mmproj belongs to the model"  # a GGUF, but no mmproj
    result = run_tracer("do", TASK, "--yes", *llama_args((model, mmproj)), env=tracer_env(display),
                        timeout=60)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert len(lines(result.stderr)) == 1, result.stderr
    assert lines(result.stderr)[0].startswith("tracer: error:")
    assert expected in result.stderr


def test_a_second_local_model_grounds_the_click(display: Display, clicklog: ClickLog,
                                                models: Path) -> None:
    """The planner names only a target; a second GGUF pair (--grounder, a .gguf path with its
    projector) answers where it is, and the click lands there."""
    target_only = plan({"action": "click", "target": "the red square"}, done("clicked"),
                       thought="Click the red square.")
    planner = make_tiny_vlm(models / "target-only", [json.dumps(target_only)], arch="qwen3vl")
    grounder = make_tiny_vlm(models / "grounder", ['{"x": 750, "y": 250}'], arch="qwen3vl")
    env = tracer_env(display)
    result = run_tracer("do", "click the red square", "--yes", "--max-steps", "1",
                        *llama_args(planner), "--grounder", str(grounder[0]),
                        "--grounder-mmproj", str(grounder[1]), env=env, timeout=60)

    assert result.returncode == 1, result.stderr  # one step, then --max-steps 1 ends the run
    presses = clicklog.wait_presses(1)
    assert [(p["x"], p["y"]) for p in presses] == [(round(750 * 1280 / 1000), 200)]
    [step] = last_run(env)["steps"]
    assert step["grounding"]["point"] == [750, 250]
    assert step["grounding"]["target"] == "the red square"
    assert step["action"] == {"action": "click", "x": 750, "y": 250, "target": "the red square"}


def tars_click(name: str, x: int, y: int) -> str:
    # each answer starts differently: the tiny model tells its answers apart by their first piece
    return f"Thought: {name} mark is next. I click it.\nAction: click(point='<point>{x} {y}</point>')"


def test_ui_tars_history_screenshots_are_served_from_the_kv_cache(
        display: Display, clicklog: ClickLog, models: Path) -> None:
    """UI-TARS is sent its earlier screenshots and replies as turns. Each call's prompt starts
    like the last one's, screenshots included: those are not encoded and evaluated again."""
    from tracer_cli.agent.profiles.geometry import QWEN25_VL

    answers = [tars_click("The first", 100, 100), tars_click("A second", 200, 150),
               tars_click("Third", 300, 200),
               "Thought: Done.\nAction: finished(content='three marks')"]
    pair = make_tiny_vlm(models / "tars-history", answers)  # qwen2vl: patch 14, as Qwen2.5-VL
    env = tracer_env(display)
    result = run_tracer("do", "click three marks", "--yes", "--profile", "ui-tars",
                        *llama_args(pair), "--context", "8192", env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "three marks"
    assert len(clicklog.wait_presses(3)) == 3
    steps = last_run(env)["steps"]
    image_tokens = QWEN25_VL.tokens(*QWEN25_VL.size(display.width, display.height))
    reused = [s["attempts"][0]["reused_tokens"] for s in steps]
    # call k+1 finds the system prompt, the instruction and k earlier screenshots in the cache
    assert reused[0] == 0
    for k in (1, 2, 3):
        assert reused[k] >= k * image_tokens + 300, (k, reused)
        assert reused[k] < (k + 1) * image_tokens + 2000, (k, reused)


def test_a_projector_of_another_family_is_warned_about(display: Display, models: Path) -> None:
    """A Qwen2-VL-style projector (28-pixel tiles) under the tracer1 profile (Qwen3-VL, 32): every
    screenshot would be resized and padded by llama.cpp, so tracer says so; with the matching
    profile it says nothing."""
    pair = make_tiny_vlm(models / "tars-done", ["Thought: Done.\nAction: finished(content='ok')"])
    env = tracer_env(display)
    mismatched = run_tracer("plan", "look", "--json", *llama_args(pair), env=env, timeout=60)
    assert "works in 28-pixel tiles" in mismatched.stderr
    assert "profile tracer1 sends Qwen3-VL images (multiples of 32)" in mismatched.stderr
    matched = run_tracer("plan", "look", "--json", "--profile", "ui-tars", *llama_args(pair),
                         env=env, timeout=60)
    assert matched.returncode == 0, matched.stderr
    assert "pixel tiles" not in matched.stderr
    assert json.loads(matched.stdout)["trajectory"] == [{"action": "done", "answer": "ok"}]


def test_on_a_cpu_the_encoder_runs_on_a_q8_0_copy_of_the_projector(display: Display,
                                                                   click_pair: Pair) -> None:
    """The copy is made once, in the cache folder, and llama.cpp runs it; --no-projector-q8
    runs the F16 file; a copy that cannot be written is a warning, and the run goes on."""
    from tracer_cli.agent.backends import projector

    env = tracer_env(display)
    copies = Path(env["TRACER_HOME"]) / "cache" / "projectors"
    as_is = run_tracer("plan", TASK, "--json", "--no-projector-q8", *llama_args(click_pair),
                       env=env, timeout=60)
    assert as_is.returncode == 0, as_is.stderr
    assert not copies.exists()

    result = run_tracer("--debug", "plan", TASK, "--json", *llama_args(click_pair), env=env,
                        timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == CLICK_PLAN
    [copy] = copies.iterdir()
    assert f"the vision encoder runs on {copy}" in result.stderr
    assert not projector.is_f16_projector(copy) and copy.stat().st_size < click_pair[1].stat().st_size
    again = run_tracer("--debug", "plan", TASK, "--json", *llama_args(click_pair), env=env,
                       timeout=60)
    assert again.returncode == 0 and list(copies.iterdir()) == [copy]  # made once

    for made in copies.iterdir():
        made.unlink()
    copies.rmdir()
    copies.write_text("a file where the folder goes")
    blocked = run_tracer("plan", TASK, "--json", *llama_args(click_pair), env=env, timeout=60)
    assert blocked.returncode == 0, blocked.stderr
    assert json.loads(blocked.stdout) == CLICK_PLAN
    [warning] = [line for line in lines(blocked.stderr) if "warning" in line]
    assert "cannot write the vision projector's Q8_0 copy" in warning
    assert f"the encoder runs on {click_pair[1].name}" in warning
