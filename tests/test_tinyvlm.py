"""The tiny GGUF vision-language model the tests make for themselves, run through the real
llama-cpp-python: in process with MTMDChatHandler, and behind ``python -m llama_cpp.server``."""

from __future__ import annotations

import base64
import ctypes
import importlib.util
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.llama_server import llama_server
from tests.tinyvlm import FREE_TEXT, MMPROJ_NAME, MODEL_NAME, make_tiny_vlm

ANSWER = '{"thought":"t","trajectory":[{"action":"done","answer":"ok"}]}'
PLAN = ('{"thought":"The form is open; click the name field first.","trajectory":[{"action":'
        '"click","x":412,"y":230,"target":"Name field"},{"action":"type","text":"Ada Lovelace"}]}')


def screenshot_url(width: int, height: int, seed: int = 0) -> str:
    """A PNG data URL of a desktop-like picture: a title bar, a few buttons with labels."""
    img = Image.new("RGB", (width, height), (236, 236, 236))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, width, 28], fill=(40 + seed * 50 % 200, 60, 90))
    for i in range(8):
        x = 20 + (i * 157 + seed * 31) % max(1, width - 140)
        y = 50 + (i * 89 + seed * 17) % max(1, height - 80)
        draw.rectangle([x, y, x + 120, y + 32], fill=(255, 255, 255), outline=(90, 90, 90))
        draw.text((x + 8, y + 10), f"Button {i}", fill=(0, 0, 0))
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def chat(system: str, text: str, url: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": system},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": text}]}]


_KEEP_ALIVE: list[Any] = []  # C holds the log callback: it must outlive every later mtmd call


@pytest.fixture(scope="module", autouse=True)
def quiet_mtmd() -> None:
    """mtmd prints each prompt and image step to stderr even with verbose=False: mute it."""
    import llama_cpp
    import llama_cpp.mtmd_cpp as mtmd_cpp

    if not _KEEP_ALIVE:
        @llama_cpp.llama_log_callback
        def ignore(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            pass

        _KEEP_ALIVE.append(ignore)
        mtmd_cpp.mtmd_helper_log_set(ignore, ctypes.c_void_p(0))


def load(model: Path, mmproj: Path, n_ctx: int = 4096) -> Any:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import MTMDChatHandler

    return Llama(model_path=str(model), n_ctx=n_ctx, verbose=False,
                 chat_handler=MTMDChatHandler(clip_model_path=str(mmproj), verbose=False))


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tiny_vlm(tmp_path_factory.mktemp("scripted"), [ANSWER])


@pytest.fixture(scope="module")
def scripted_llm(scripted: tuple[Path, Path]) -> Iterator[Any]:
    llm = load(*scripted)
    yield llm
    llm.close()


def complete(llm: Any, messages: list[dict[str, Any]], **kwargs: Any) -> tuple[str, str]:
    result = llm.create_chat_completion(messages=messages, temperature=0, max_tokens=200, **kwargs)
    choice = result["choices"][0]
    return choice["message"]["content"], choice["finish_reason"]


def test_pair_is_small_loads_fast_and_is_reproducible(tmp_path: Path) -> None:
    model, mmproj = make_tiny_vlm(tmp_path / "a", [ANSWER])
    assert (model.name, mmproj.name) == (MODEL_NAME, MMPROJ_NAME)
    assert model.stat().st_size + mmproj.stat().st_size < 2_000_000
    again = make_tiny_vlm(tmp_path / "b", [ANSWER])
    assert [p.read_bytes() for p in again] == [model.read_bytes(), mmproj.read_bytes()]
    started = time.monotonic()
    llm = load(model, mmproj)
    try:
        assert time.monotonic() - started < 2.0
        assert complete(llm, chat("s", "t", screenshot_url(640, 384))) == (ANSWER, "stop")
    finally:
        llm.close()


@pytest.mark.parametrize("size", [(640, 384), (1344, 768)])
@pytest.mark.parametrize("system,text", [
    ("You operate a computer. Answer with one JSON object.", "Task: open the menu. The screen:"),
    ("Describe what you see, in French, at length.", "What is the colour of button 3?"),
])
def test_the_chosen_answer_comes_back_whatever_the_prompt_and_image(
        scripted_llm: Any, size: tuple[int, int], system: str, text: str) -> None:
    started = time.monotonic()
    answer, reason = complete(scripted_llm, chat(system, text, screenshot_url(*size, seed=len(text))))
    assert (answer, reason) == (ANSWER, "stop")
    assert time.monotonic() - started < 10  # ~0.05 s at 640x384, ~0.3 s at 1344x768 when idle


def test_a_retry_that_quotes_the_answer_gets_the_next_one_qwen3vl(tmp_path: Path) -> None:
    answers = ["not json, sorry", PLAN, ANSWER]
    llm = load(*make_tiny_vlm(tmp_path, answers, arch="qwen3vl"))
    try:
        messages = chat("s", "Task: fill the form.", screenshot_url(1344, 768, seed=3))
        said = []
        for _ in range(4):
            answer, reason = complete(llm, messages)
            assert reason == "stop"
            said.append(answer)
            messages = [*messages, {"role": "assistant", "content": answer},
                        {"role": "user", "content": "Your answer was rejected. Answer again."}]
        assert said == [*answers, ANSWER]  # the last answer repeats
    finally:
        llm.close()


def test_random_model_talks_freely_and_gives_valid_json_under_a_grammar(tmp_path: Path) -> None:
    llm = load(*make_tiny_vlm(tmp_path, None))
    schema = {"type": "object", "required": ["thought", "n", "done", "keys"],
              "properties": {"thought": {"type": "string"}, "n": {"type": "integer"},
                             "done": {"type": "boolean"},
                             "keys": {"type": "array", "items": {"type": "string"}}}}
    messages = chat("Answer with JSON.", "What next?", screenshot_url(640, 384, seed=1))
    try:
        free, reason = complete(llm, messages)
        assert (free, reason) == (FREE_TEXT, "stop")
        with pytest.raises(json.JSONDecodeError):
            json.loads(free)
        constrained, reason = complete(
            llm, messages, response_format={"type": "json_object", "schema": schema})
        assert reason == "stop"
        value = json.loads(constrained)
        assert list(value) == ["thought", "n", "done", "keys"]
        assert value["thought"] == FREE_TEXT and isinstance(value["n"], int)
        assert complete(llm, messages, response_format={"type": "json_object", "schema": schema})[0] \
            == constrained  # deterministic
        assert isinstance(json.loads(complete(llm, messages,
                                              response_format={"type": "json_object"})[0]), dict)
    finally:
        llm.close()


def test_llama_cpp_server_serves_the_pair(scripted: tuple[Path, Path], tmp_path: Path) -> None:
    missing = [m for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context",
                           "pydantic_settings") if importlib.util.find_spec(m) is None]
    assert not missing, f"llama_cpp.server needs {missing}: pip install -e '.[test]'"
    from openai import OpenAI

    model, mmproj = scripted
    with llama_server(model, mmproj, tmp_path / "server.log") as base:
        client = OpenAI(base_url=base, api_key="unused", timeout=60, max_retries=0)
        reply = client.chat.completions.create(
            model="tiny", messages=chat("s", "What next?", screenshot_url(1344, 768, seed=2)),
            temperature=0, max_tokens=100)
        assert reply.choices[0].message.content == ANSWER
        assert reply.choices[0].finish_reason == "stop"
