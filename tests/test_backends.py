"""Planner backends: the OpenAI-compatible client against a real HTTP server, and the script."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.chat_server import ChatServer, Hang, Reply
from tests.fakes import image_url, user_text
from tracer_cli.agent.backends import BACKENDS, create
from tracer_cli.agent.backends.script import ScriptBackend
from tracer_cli.agent.profiles import PROFILES, HistoryEntry, PlanRequest
from tracer_cli.config import Settings
from tracer_cli.errors import BackendError, ConfigError

PLAN = {"thought": "ok", "trajectory": [{"action": "done", "answer": "fine"}]}


def settings_for(server: ChatServer, **overrides: Any) -> Settings:
    return Settings(**{"base_url": server.base_url, "request_retries": 0, "request_timeout": 10,
                       **overrides})


def tracer1_messages(task: str = "open the [red] menu", size: tuple[int, int] = (320, 200),
                     history: list[HistoryEntry] | None = None) -> list[dict[str, Any]]:
    image = Image.new("RGB", size, (200, 10, 10))
    image.putpixel((3, 4), (1, 2, 3))
    return PROFILES.get("tracer1")().messages(PlanRequest(task, image, 4, history or []))


def openai_backend(settings: Settings) -> Any:
    backend = create("openai", settings)
    assert backend.name == "openai"
    return backend


def test_sends_screenshot_and_task(chat_server: ChatServer) -> None:
    chat_server.queue(PLAN)
    backend = openai_backend(settings_for(chat_server, temperature=0.3, max_tokens=321))
    try:
        completion = backend.complete(tracer1_messages(
            history=[HistoryEntry(1, "click (1,2) 'x'", "ok")]))
    finally:
        backend.close()
    assert json.loads(completion.text) == PLAN
    assert completion.prompt_tokens == 100
    assert completion.completion_tokens == len(completion.text) // 4

    (body,) = chat_server.requests
    assert body["model"] == "test-vlm"  # the server's only model
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 321
    system, user = body["messages"]
    assert system["role"] == "system" and "with 1 to 4 steps" in system["content"]
    assert user["role"] == "user"
    url = image_url(body["messages"])
    assert url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        assert image.format == "PNG"
        assert image.size == (320, 200)
        assert image.convert("RGB").getpixel((3, 4)) == (1, 2, 3)
        assert image.convert("RGB").getpixel((0, 0)) == (200, 10, 10)
    assert "Task: open the [red] menu" in user_text(body["messages"])
    assert "1. click (1,2) 'x' -> ok" in user_text(body["messages"])


def test_jpeg_screenshot(chat_server: ChatServer) -> None:
    chat_server.queue(PLAN)
    image = Image.new("RGB", (64, 64), "white")
    messages = PROFILES.get("tracer1")().messages(PlanRequest("t", image, 2, [], "jpeg"))
    backend = openai_backend(settings_for(chat_server))
    backend.complete(messages)
    assert image_url(chat_server.requests[0]["messages"]).startswith("data:image/jpeg;base64,/9j/")


def test_named_model_is_used(chat_server: ChatServer) -> None:
    chat_server.models = ["small", "large"]
    chat_server.queue(PLAN)
    backend = openai_backend(settings_for(chat_server, model="large"))
    backend.complete(tracer1_messages())
    assert chat_server.requests[0]["model"] == "large"


def test_api_key_from_environment_is_a_bearer_header(chat_server: ChatServer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    chat_server.api_key = "sk-test-123"
    monkeypatch.setenv("TRACER_API_KEY", "sk-test-123")
    chat_server.queue(PLAN)
    backend = openai_backend(settings_for(chat_server))
    backend.complete(tracer1_messages())
    headers = {k.lower(): v for k, v in chat_server.headers[0].items()}
    assert headers["authorization"] == "Bearer sk-test-123"


def test_openai_api_key_is_the_fallback(chat_server: ChatServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    chat_server.api_key = "sk-openai"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    chat_server.queue(PLAN)
    openai_backend(settings_for(chat_server)).complete(tracer1_messages())
    assert len(chat_server.requests) == 1


def test_wrong_api_key_is_a_config_error(chat_server: ChatServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    chat_server.api_key = "right"
    monkeypatch.setenv("TRACER_API_KEY", "wrong")
    with pytest.raises(ConfigError) as info:
        openai_backend(settings_for(chat_server, model="test-vlm")).complete(tracer1_messages())
    assert "refused the API key" in info.value.message
    assert chat_server.base_url in info.value.message
    assert "TRACER_API_KEY" in info.value.hint
    assert chat_server.requests == []


def test_missing_api_key_when_one_is_needed(chat_server: ChatServer) -> None:
    chat_server.api_key = "right"
    with pytest.raises(ConfigError, match="refused the API key"):
        openai_backend(settings_for(chat_server))  # the model list already needs the key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        openai_backend(Settings(base_url=url, request_retries=0, model="m")).complete(
            tracer1_messages())
    assert info.value.message == f"cannot reach the model server at {url}"
    assert "--base-url" in info.value.hint
    assert time.monotonic() - started < 5


def test_unreachable_server_while_finding_the_model() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(BackendError, match="cannot reach"):
        openai_backend(Settings(base_url=url, request_retries=0))


def test_http_500_after_retries(chat_server: ChatServer) -> None:
    chat_server.queue(("status", 500, "out of memory"), ("status", 500, "out of memory"),
                      PLAN)
    backend = openai_backend(settings_for(chat_server, request_retries=1))
    with pytest.raises(BackendError) as info:
        backend.complete(tracer1_messages())
    assert len(chat_server.requests) == 2  # the first try and one retry
    assert info.value.message == "the model server answered 500: out of memory"


def test_http_500_then_success_is_retried(chat_server: ChatServer) -> None:
    chat_server.queue(("status", 500, "busy"), PLAN)
    backend = openai_backend(settings_for(chat_server, request_retries=1))
    assert json.loads(backend.complete(tracer1_messages()).text) == PLAN
    assert len(chat_server.requests) == 2


def test_unknown_model_is_a_config_error(chat_server: ChatServer) -> None:
    backend = openai_backend(settings_for(chat_server, model="gpt-nope"))
    with pytest.raises(ConfigError) as info:
        backend.complete(tracer1_messages())
    assert "404" in info.value.message and "gpt-nope" in info.value.message
    assert "--model" in info.value.hint


def test_model_auto_detected(chat_server: ChatServer) -> None:
    backend = openai_backend(settings_for(chat_server))
    assert backend.model == "test-vlm"


def test_two_models_need_a_choice(chat_server: ChatServer) -> None:
    chat_server.models = ["qwen3-vl-8b", "ui-tars-7b"]
    with pytest.raises(ConfigError) as info:
        openai_backend(settings_for(chat_server))
    assert "serves 2 models" in info.value.message
    assert "qwen3-vl-8b" in info.value.hint and "ui-tars-7b" in info.value.hint
    assert "--model" in info.value.hint


def test_no_models(chat_server: ChatServer) -> None:
    chat_server.models = []
    with pytest.raises(ConfigError, match="lists no models"):
        openai_backend(settings_for(chat_server))


def test_unknown_backend_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as info:
        create("llamafile", Settings())
    assert info.value.message == "unknown backend 'llamafile'"
    assert "openai" in info.value.hint and "script" in info.value.hint
    assert set(BACKENDS.names()) >= {"openai", "script"}


# --- script backend ----------------------------------------------------------------------------


def test_script_answers_in_order(tmp_path: Path) -> None:
    path = tmp_path / "plans.jsonl"
    path.write_text("# a demo\n\n" + json.dumps(PLAN) + "\n" + json.dumps("raw ```text```") + "\n",
                    encoding="utf-8")
    backend = create("script", Settings(backend="script", script=str(path)))
    assert backend.name == "script"
    assert json.loads(backend.complete([]).text) == PLAN
    assert backend.complete([]).text == "raw ```text```"
    with pytest.raises(BackendError) as info:
        backend.complete([])
    assert info.value.message == f"script {path} ran out of answers after 2 calls"
    backend.close()


def test_script_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(ConfigError) as info:
        ScriptBackend(path)
    assert info.value.message == f"script file {path} does not exist"
    assert info.value.exit_code == 2


def test_script_non_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plans.jsonl"
    path.write_text(json.dumps(PLAN) + "\n# comment\n{'thought': 'single quotes'}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        ScriptBackend(path)
    assert info.value.message.startswith(f"{path}:3: not a JSON line")


def test_script_without_answers(tmp_path: Path) -> None:
    path = tmp_path / "plans.jsonl"
    path.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="has no answers"):
        ScriptBackend(path)


def test_script_backend_needs_a_file() -> None:
    with pytest.raises(ConfigError, match="needs a plan file"):
        create("script", Settings(backend="script"))


# --- the llama backend's cache of the prompt's start, screenshots included ----------------------

def _shot(colour: tuple[int, int, int], size: tuple[int, int] = (448, 336)) -> str:
    from PIL import Image, ImageDraw

    from tracer_cli.desktop.screen import data_url

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((40, 40, 200, 160), fill=(255 - colour[0], 90, 30))
    return data_url(image)


def _turns(*images: str) -> list[dict[str, Any]]:
    """UI-TARS-like history: the prompt, then each screenshot followed by a reply; the last
    screenshot ends the prompt."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a helpful assistant."},
                                      {"role": "user", "content": "Click the orange box."}]
    for n, url in enumerate(images):
        messages.append({"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]})
        if n < len(images) - 1:
            messages.append({"role": "assistant", "content": f"Action: click(point='<point>{n} 9</point>')"})
    return messages


def _next_token(llm: Any, messages: list[dict[str, Any]]) -> Any:
    """The model's logits for the token after the prompt (those of the prompt's last position,
    the last thing llama.cpp decoded: one new token is sampled and not decoded)."""
    import numpy as np

    llm.create_chat_completion(messages=messages, temperature=0, max_tokens=1)
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def test_a_prompt_served_from_the_cache_gives_what_a_fresh_model_gives(tmp_path: Path) -> None:
    """The random tiny model's next-token logits depend (a little) on every earlier token and
    image. With screenshots and replies reused from the cache, they equal a fresh model's on the
    same prompt: nothing stale stayed in the cache, nothing was skipped that differed."""
    from tests.tinyvlm import make_tiny_vlm
    from tracer_cli.agent.backends.llama import load

    model, mmproj = make_tiny_vlm(tmp_path / "random", None)
    params = {"n_ctx": 4096, "n_threads": 2}
    cached = load(model, mmproj, use_gpu=False, verbose=False, **params)
    try:
        a, b, c = _shot((200, 30, 30)), _shot((30, 200, 30)), _shot((30, 30, 200))
        wants = {}
        # grows; then differs at the second image; then every image at another position
        for images in [(a,), (a, b), (a, b, c), (a, c), (b, c)]:
            got = _next_token(cached, _turns(*images))
            reused = cached.reused_images
            fresh = load(model, mmproj, use_gpu=False, verbose=False, **params)
            try:
                want = _next_token(fresh, _turns(*images))
            finally:
                fresh.close()
            assert abs(got - want).max() < 1e-3, (len(images), abs(got - want).max())
            wants[images] = want
            assert reused == {(a,): 0, (a, b): 1, (a, b, c): 2, (a, c): 1, (b, c): 0}[images]
        # the check can tell prompts apart: another picture at one place moves the logits
        assert abs(wants[(a, c)] - wants[(b, c)]).max() > 1e-2
        # the vision encoder ran once per picture: an image at a new position was decoded from
        # its kept encoder output
        assert cached.chat_handler._mtmd_cpp.encoded_images == 3
    finally:
        cached.close()


def test_the_local_model_tells_how_far_its_call_got(tmp_path: Path) -> None:
    """What the panel shows during a local call, stage by stage and in order: reading the prompt
    (its tokens so far, of all of them, images' included), encoding the screenshot (the vision
    encoder), reading on, then answering with the count of tokens so far, which grows to the
    answer's length. A screenshot already in the cache is not encoded again."""
    import itertools

    from tests.tinyvlm import make_tiny_vlm
    from tracer_cli.agent.backends import CallProgress, bounds

    answer = json.dumps({"thought": "a long answer " * 8, "trajectory": [{"action": "done"}]})
    model, mmproj = make_tiny_vlm(tmp_path / "pair", [answer], arch="qwen3vl")
    backend = create("llama", Settings(backend="llama", model=str(model), mmproj=str(mmproj),
                                       context=4096, threads=2))
    first = _turns(_shot((200, 30, 30)))
    first[0]["content"] = "You are a helpful assistant. " * 100  # more than one batch (512)
    again = [*first, {"role": "assistant", "content": answer}, {"role": "user", "content": "and?"}]
    try:
        for messages, stages in [(first, ["prompt", "image", "prompt", "answering"]),
                                 (again, ["prompt", "answering"])]:
            heard: list[CallProgress] = []
            with bounds.within(time.monotonic() + 120, None, "--timeout 120s", heard.append):
                completion = backend.complete(messages)
            assert completion.text == answer
            assert [stage for stage, _ in itertools.groupby(p.stage for p in heard)] == stages
            reading = [p for p in heard if p.stage != "answering"]
            assert reading[0] == CallProgress("prompt")  # before the prompt is tokenized
            total = reading[-1].total
            assert total > completion.prompt_tokens  # M-RoPE positions: fewer than its tokens
            assert all(p.total == total for p in reading[1:])
            read = [p.done for p in reading]
            assert read == sorted(read) and read[-1] == total
            if "image" in stages:  # the long system prompt is told batch by batch
                assert read[1:4] == [512, 1024, 1536], read
            answered = [p.done for p in heard if p.stage == "answering"]
            assert answered == list(range(1, completion.completion_tokens + 1))
            assert len(answered) > 3
    finally:
        backend.close()


# --- streaming, and what is retried --------------------------------------------------------------


def test_the_answer_is_streamed_with_its_reasoning_and_usage(chat_server: ChatServer) -> None:
    text = json.dumps(PLAN)
    chat_server.queue(Reply(text, {"reasoning_content": "The task is done already."}, piece=5))
    seen: list[str] = []
    completion = openai_backend(settings_for(chat_server)).complete(tracer1_messages(),
                                                                    on_text=seen.append)
    (body,) = chat_server.requests
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert completion.text == text
    assert completion.reasoning == "The task is done already."
    assert completion.finish_reason == "stop"
    assert (completion.prompt_tokens, completion.completion_tokens) == (100, len(text) // 4)
    assert seen and seen[-1] == text  # the answer so far, growing, on this thread
    assert all(text.startswith(part) for part in seen)


def test_a_streamed_call_tells_it_waits_then_how_many_tokens_came(chat_server: ChatServer) -> None:
    """What the panel shows during a server's call: waiting for the first token (the server
    reads the prompt meanwhile), then the count of streamed pieces so far, reasoning included,
    growing to all of them (a server streams about a token a piece)."""
    from tracer_cli.agent.backends import CallProgress, bounds

    text, reasoning = json.dumps(PLAN), "The task is done already."
    chat_server.queue(Reply(text, {"reasoning_content": reasoning}, piece=16, first_delay=0.3,
                            piece_delay=0.3))
    heard: list[CallProgress] = []
    with bounds.within(time.monotonic() + 60, None, "--timeout 60s", heard.append):
        completion = openai_backend(settings_for(chat_server)).complete(tracer1_messages())
    assert completion.text == text
    assert heard[0] == CallProgress("waiting")
    assert {p.stage for p in heard[1:]} == {"answering"}
    counts = [p.done for p in heard[1:]]
    assert counts == sorted(counts) and len(set(counts)) > 1  # it grew while the answer came
    assert counts[-1] == -(-len(text) // 16) + -(-len(reasoning) // 16)


def test_a_server_that_ignores_stream_is_read_whole(chat_server: ChatServer) -> None:
    chat_server.streaming = False
    chat_server.queue(Reply(json.dumps(PLAN), {"reasoning": "thought apart"}))
    completion = openai_backend(settings_for(chat_server)).complete(tracer1_messages())
    assert json.loads(completion.text) == PLAN
    assert completion.reasoning == "thought apart"


def test_429_with_retry_after_is_retried_after_that_wait(chat_server: ChatServer) -> None:
    chat_server.queue(("status", 429, "slow down", {"Retry-After": "1"}), PLAN)
    backend = openai_backend(settings_for(chat_server, request_retries=1))
    started = time.monotonic()
    assert json.loads(backend.complete(tracer1_messages()).text) == PLAN
    assert time.monotonic() - started >= 1
    assert len(chat_server.requests) == 2


def test_429_without_retry_after_is_not_retried(chat_server: ChatServer) -> None:
    """A quota used up: asking again at once would only be refused again."""
    chat_server.queue(("status", 429, "you exceeded your current quota"), PLAN)
    backend = openai_backend(settings_for(chat_server, request_retries=2))
    with pytest.raises(BackendError, match="answered 429: you exceeded your current quota"):
        backend.complete(tracer1_messages())
    assert len(chat_server.requests) == 1


def test_a_retry_that_would_outlast_the_run_is_not_made(chat_server: ChatServer) -> None:
    from tracer_cli.agent.backends import bounds

    chat_server.queue(("status", 503, "loading the model", {"Retry-After": "30"}), PLAN)
    backend = openai_backend(settings_for(chat_server, request_retries=2))
    started = time.monotonic()
    with bounds.within(time.monotonic() + 5, None, "--timeout 5s"), \
            pytest.raises(BackendError, match="answered 503: loading the model"):
        backend.complete(tracer1_messages())
    assert time.monotonic() - started < 2
    assert len(chat_server.requests) == 1


def test_a_hang_is_not_retried_and_ends_with_the_run(chat_server: ChatServer) -> None:
    from tracer_cli.agent.backends import bounds

    chat_server.queue(Hang(), PLAN)
    backend = openai_backend(settings_for(chat_server, request_retries=2, request_timeout=60))
    started = time.monotonic()
    with bounds.within(time.monotonic() + 1.5, None, "--timeout 9s"), \
            pytest.raises(bounds.OutOfTime) as info:
        backend.complete(tracer1_messages())
    assert 1.4 < time.monotonic() - started < 3
    assert info.value.message.startswith("reached --timeout 9s while waiting")
    assert len(chat_server.requests) == 1


def test_a_stop_ends_a_call_at_once(chat_server: ChatServer) -> None:
    import threading

    from tracer_cli.agent.backends import bounds
    from tracer_cli.errors import Interrupted

    chat_server.queue(Hang())
    backend = openai_backend(settings_for(chat_server, request_timeout=60))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with bounds.within(time.monotonic() + 60, stop, "--timeout 60s"), pytest.raises(Interrupted):
        backend.complete(tracer1_messages())
    assert time.monotonic() - started < 1.5


def test_the_local_model_is_stopped_between_two_tokens(tmp_path: Path) -> None:
    """The llama backend streams its tokens: a stop (or the run's deadline) ends the answer at
    the next token, and on_text heard the answer so far."""
    import threading

    from tests.tinyvlm import make_tiny_vlm
    from tracer_cli.agent.backends import bounds
    from tracer_cli.errors import Interrupted

    answer = json.dumps({"thought": "a long answer " * 8, "trajectory": [{"action": "done"}]})
    model, mmproj = make_tiny_vlm(tmp_path / "long", [answer], arch="qwen3vl")
    backend = create("llama", Settings(backend="llama", model=str(model), mmproj=str(mmproj),
                                       context=4096, threads=2))
    try:
        whole = backend.complete([{"role": "user", "content": "hi"}])
        assert whole.text == answer and whole.finish_reason == "stop"
        assert whole.prompt_tokens > 0 and whole.completion_tokens > 1
        stop, heard = threading.Event(), []

        def first_piece(text: str) -> None:
            heard.append(text)
            stop.set()

        with bounds.within(time.monotonic() + 60, stop, "--timeout 60s"), \
                pytest.raises(Interrupted):
            backend.complete([{"role": "user", "content": "hi"}], on_text=first_piece)
        assert len(heard) == 1 and answer.startswith(heard[0])
        with bounds.within(time.monotonic() - 1, None, "--timeout 5s"), \
                pytest.raises(bounds.OutOfTime, match="reached --timeout 5s"):
            backend.complete([{"role": "user", "content": "hi"}])
    finally:
        backend.close()


def test_the_same_prompt_again_gets_the_whole_answer_again(tmp_path: Path) -> None:
    """A prompt asked again word for word (an MCP client's second `plan` on an unchanged screen)
    is read from the cache, and the answer is decoded afresh: the tokens the cache held after the
    prompt last time (the last answer) are not taken as already read."""
    from tests.tinyvlm import make_tiny_vlm
    from tracer_cli.agent.backends.llama import load

    answer = json.dumps({"thought": "a long answer " * 8, "trajectory": [{"action": "done"}]})
    model, mmproj = make_tiny_vlm(tmp_path / "pair", [answer], arch="qwen3vl")
    llm = load(model, mmproj, use_gpu=False, verbose=False, n_ctx=4096, n_threads=2)
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": [{"type": "text", "text": "Click the orange box."},
                                             {"type": "image_url",
                                              "image_url": {"url": _shot((200, 30, 30))}}]}]
    try:
        for n in range(3):
            reply = llm.create_chat_completion(messages=messages, temperature=0, max_tokens=200)
            assert reply["choices"][0]["message"]["content"] == answer, n
            assert llm.reused_images == (1 if n else 0)  # the prompt came from the cache
    finally:
        llm.close()
