"""`tracer mcp` end to end: the real command as a subprocess, talked to with the MCP SDK's own
client over stdio and over streamable HTTP (where a request without the bearer token is
refused), acting on real Tk programs on Xvfb, with the OpenAI-compatible test server as the
model. The programs' own state says what happened, not tracer's report."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from PIL import Image

from tests.conftest import ROOT, Display, run_tracer
from tests.e2e.conftest import ClickLog, Notes, click, done, plan, tracer_env, wait_until, xdotool
from tests.e2e.test_kill_switch import CHORD, REASON, TEXT, assert_nothing_held, typed, typing_plan

pytestmark = pytest.mark.display

# examples/notes_app.py at its default geometry (640x420+100+80) on the 1280x800 display.
NAME_FIELD = (313, 141)  # (400, 113) px
SAVE = (141, 374)  # (180, 299) px
DELETE = (431, 374)  # (552, 299) px
TOOLS = {"screenshot", "plan", "do", "run_macro", "click", "type", "hotkey", "scroll", "logs"}


def model(chat_server: Any) -> list[str]:
    return ["-b", "openai", "--base-url", chat_server.base_url]


@asynccontextmanager
async def stdio(env: dict[str, str], errlog: Path, *args: str, **client: Any):  # type: ignore[no-untyped-def]
    """The SDK's client on `tracer mcp ARGS` started as a subprocess (its stderr to ERRLOG)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "tracer_cli", "mcp", *args],
                                   env=env, cwd=str(ROOT))
    with errlog.open("a", encoding="utf-8") as log:
        async with Client(stdio_client(params, errlog=log), **client) as session:
            yield session


def run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test)


def text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def data(result: types.CallToolResult) -> Any:
    assert not result.is_error, text(result)
    return json.loads(text(result))


def model_image_size() -> tuple[int, int]:
    """What a 1280x800 screen is sent as with the server's settings (no model options: the
    default catalogue model, whose budget is smaller when it runs on a CPU)."""
    from tracer_cli.agent.defaults import effective
    from tracer_cli.agent.profiles.geometry import QWEN3_VL

    size = QWEN3_VL.size(1280, 800, effective({}).max_pixels)
    assert size in ((1312, 832), (896, 544))  # the grounding minimum, or 512 tokens on a CPU
    return size


def image(result: types.CallToolResult) -> Image.Image:
    import base64

    shots = [c for c in result.content if isinstance(c, types.ImageContent)]
    assert len(shots) == 1 and shots[0].mime_type == "image/png"
    return Image.open(io.BytesIO(base64.b64decode(shots[0].data)))


def logged_runs(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every run record, the MCP server's calls too, oldest first."""
    listed = run_tracer("logs", "--json", "--kind", "all", "--limit", "0", env=env)
    assert listed.returncode == 0, listed.stderr
    return list(reversed(json.loads(listed.stdout)))


def accept(answer: bool = True) -> tuple[list[str], Callable[..., Awaitable[types.ElicitResult]]]:
    """An elicitation callback that answers every question (run: ANSWER) and keeps them."""
    asked: list[str] = []

    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"run": answer})

    return asked, callback


def test_stdio_lists_the_tools_and_takes_a_screenshot(display: Display, tmp_path: Path) -> None:
    env = tracer_env(display)

    async def test() -> None:
        async with stdio(env, tmp_path / "server.log") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == TOOLS
            for tool in tools.values():
                assert tool.description and len(tool.description) > 40, tool.name
                assert "\n    " not in tool.description, tool.name  # no source indentation
                assert tool.input_schema["type"] == "object"
                hints = tool.annotations
                assert hints is not None and hints.title, tool.name
                looks = tool.name in ("screenshot", "plan", "logs")
                assert hints.read_only_hint is looks, tool.name
                assert hints.destructive_hint is (not looks and tool.name != "scroll"), tool.name
                assert hints.open_world_hint is False
            click_schema = tools["click"].input_schema
            assert set(click_schema["required"]) == {"x", "y", "target"}
            assert click_schema["properties"]["x"]["maximum"] == 1000
            shot = await client.call_tool("screenshot", {})
            info = data(shot)
            seconds = []
            for _ in range(5):
                started = time.monotonic()
                assert not (await client.call_tool("screenshot", {})).is_error
                seconds.append(time.monotonic() - started)
            size = model_image_size()
            print(f"\nscreenshot through MCP (stdio, 1280x800 -> {size[0]}x{size[1]} PNG): median "
                  f"{sorted(seconds)[2] * 1000:.0f} ms a call")
            picture = image(shot)
            # 1280x800 scaled as for the default model (tracer1, Qwen3-VL): sides multiples of 32.
            assert picture.size == (info["width"], info["height"]) == size
            templates = await client.list_resource_templates()
            assert [t.uri_template for t in templates.resource_templates] == ["tracer://runs/{run_id}"]
            record = await client.read_resource(f"tracer://runs/{info['run_id']}")
            assert json.loads(record.contents[0].text)["run"]["kind"] == "mcp"  # type: ignore[union-attr]
            catalogue = await client.read_resource("tracer://models")
            names = [m["name"] for m in json.loads(catalogue.contents[0].text)]  # type: ignore[union-attr]
            assert "qwen3-vl-4b-instruct" in names

    run(test)
    runs = logged_runs(env)
    assert [(r["kind"], r["task"], r["status"]) for r in runs] == [("mcp", "screenshot", "done")] * 6
    assert "MCP server on stdio" in (tmp_path / "server.log").read_text()


def test_stdout_carries_only_the_protocol(display: Display, tmp_path: Path) -> None:
    """Raw JSON-RPC over the pipes: every line on stdout is a protocol message, also while a
    tool runs; tracer's own messages are on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "mcp"], env=tracer_env(display),
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    call = {"jsonrpc": "2.0", "method": "tools/call"}
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {**call, "id": 2, "params": {"name": "screenshot", "arguments": {}}},
        {**call, "id": 3, "params": {"name": "scroll", "arguments": {}}},
    ]
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    lines: list[str] = []
    try:
        while len(lines) < 3:  # the replies to 1, 2 and 3 (pytest's timeout guards the wait)
            line = proc.stdout.readline()
            assert line, f"the server ended: {proc.communicate(timeout=10)[1]}"
            lines.append(line)
        stdout, stderr = proc.communicate("", timeout=30)  # end of input ends the server
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stdout == ""
    replies = [json.loads(line) for line in lines]  # fails on anything that is not JSON
    assert all(r["jsonrpc"] == "2.0" for r in replies)
    assert sorted(r.get("id") for r in replies) == [1, 2, 3]
    by_id = {r["id"]: r for r in replies}
    assert by_id[2]["result"]["content"][1]["type"] == "image"
    assert by_id[3]["result"]["isError"] is True
    assert "kill switch armed" in stderr


def test_http_needs_the_bearer_token(display: Display, background_tracer: Any) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    # The display named on the command line, not the environment's (which has none here).
    env = {k: v for k, v in tracer_env(display).items() if k != "DISPLAY"}
    proc = background_tracer("mcp", "--http", "--port", "0", "--display", display.name, env=env)
    lines: list[str] = []
    while not any("bearer token" in line for line in lines):
        line = proc.stderr.readline()
        assert line, f"tracer mcp --http ended: {''.join(lines)}{proc.stderr.read()}"
        lines.append(line)
    url = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", "".join(lines)).group(1)  # type: ignore[union-attr]
    token = lines[-1].rsplit(" ", 1)[1].strip()
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept_both = {"Accept": "application/json, text/event-stream"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        refused = httpx2.post(url, json=initialize, headers={**accept_both, **headers}, timeout=10)
        assert refused.status_code == 401, (headers, refused.text)
        assert "bearer token" in refused.json()["error"]

    async def test() -> None:
        auth = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        async with auth, Client(streamable_http_client(url, http_client=auth)) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            assert image(await client.call_tool("screenshot", {})).size == model_image_size()

    run(test)
    assert proc.poll() is None  # still serving


def test_a_port_in_use_is_one_clear_line(display: Display) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        ran = run_tracer("mcp", "--http", "--port", str(port), env=tracer_env(display), timeout=30)
    assert ran.returncode == 2
    assert ran.stdout == ""
    assert f"port {port} on 127.0.0.1 is in use" in ran.stderr and "--port" in ran.stderr
    assert "Traceback" not in ran.stderr and len(ran.stderr.strip().splitlines()) == 1


def test_plan_then_do_fill_in_the_notes_window(display: Display, start_notes: Callable[..., Notes],
                                              chat_server: Any, tmp_path: Path) -> None:
    notes = start_notes(display)
    env = tracer_env(display)
    chat_server.queue(plan(click(*SAVE, "Save button"), done()),  # the plan tool's forecast
                      plan(click(*NAME_FIELD, "Name field")),
                      plan({"action": "type", "text": "Ada Lovelace"}),
                      plan(click(*SAVE, "Save button")),
                      plan(done("saved for Ada")))
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done_: float, total: float | None, message: str | None) -> None:
        progress.append((done_, total, message))

    async def test() -> tuple[Any, Any]:
        async with stdio(env, tmp_path / "server.log", *model(chat_server), "--replan", "always") as client:
            forecast = await client.call_tool("plan", {"task": "save the note"})
            assert notes.state()["clicks"] == []  # a plan never acts
            finished = await client.call_tool("do", {"task": "save a note for Ada Lovelace"},
                                              progress_callback=on_progress)
            return forecast, finished

    forecast, finished = anyio.run(test)
    planned = data(forecast)
    assert planned["steps"][0]["points"] == [[141, 374]] and planned["steps"][0]["screen"] == [[180, 299]]
    assert planned["steps"][1]["action"] == "done"
    assert image(forecast).size == (1312, 832)

    state = notes.wait_state(lambda s: len(s.get("saved", [])) == 1)
    assert state["saved"] == [["Ada Lovelace", ""]] and state["clicks"] == ["Save"]
    result = data(finished)
    assert (result["status"], result["answer"], result["steps"]) == ("done", "saved for Ada", 4)
    assert [int(p[0]) for p in progress] == [1, 2, 3, 4]
    assert "click (313,141) 'Name field'" in (progress[0][2] or "")
    assert "type 'Ada Lovelace'" in (progress[1][2] or "")

    runs = {r["id"]: r for r in logged_runs(env)}
    assert runs[result["run_id"]]["kind"] == "do" and runs[result["run_id"]]["status"] == "done"
    assert runs[planned["run_id"]]["kind"] == "plan"


def test_a_risky_click_needs_an_accepted_elicitation(display: Display, start_notes: Callable[..., Notes],
                                                     tmp_path: Path) -> None:
    """Clicking Delete: refused when the client cannot ask, not done when the person says no,
    done once they say yes, on the older protocol (asked mid-call) and the 2026 one (asked in
    the tool's result) alike. The notes window's state shows which clicks arrived."""
    notes = start_notes(display)
    save = {"x": SAVE[0], "y": SAVE[1], "target": "Save"}
    delete = {"x": DELETE[0], "y": DELETE[1], "target": "Delete"}
    env = tracer_env(display)
    log = tmp_path / "server.log"
    asked, yes = accept()
    _, no = accept(False)

    async def test() -> list[types.CallToolResult]:
        results = []
        async with stdio(env, log) as client:  # no elicitation at all
            results.append(await client.call_tool("click", save))
            results.append(await client.call_tool("click", delete))
        async with stdio(env, log, elicitation_callback=no, mode="legacy") as client:
            results.append(await client.call_tool("click", delete))
            results.append(await client.call_tool("click", save))  # not risky: not asked
        async with stdio(env, log, elicitation_callback=yes, mode="legacy") as client:
            results.append(await client.call_tool("click", delete))
        async with stdio(env, log, elicitation_callback=yes) as client:  # the 2026 protocol
            results.append(await client.call_tool("click", delete))
        return results

    saved, refused, declined, saved_again, legacy, modern = anyio.run(test)
    assert data(saved)["status"] == "done" and data(saved)["screen"] == [[180, 299]]
    assert refused.is_error and "refused: it is risky (clicks 'Delete'" in text(refused)
    assert "does not support elicitation" in text(refused)
    assert declined.is_error and "declined" in text(declined)
    assert data(saved_again)["status"] == "done"
    assert data(legacy)["status"] == "done" and data(modern)["status"] == "done"
    assert len(asked) == 2 and all("RISKY: clicks 'Delete'" in q for q in asked)

    state = notes.wait_state(lambda s: s["clicks"].count("Delete") == 2)
    assert state["clicks"] == ["Save", "Save", "Delete", "Delete"]
    assert state["status"] == "Deleted all notes"
    statuses = [(r["task"], r["status"]) for r in logged_runs(env)]
    assert statuses.count(("click (431,374) 'Delete'", "refused")) == 2
    assert statuses.count(("click (431,374) 'Delete'", "done")) == 2


def test_malformed_arguments_name_the_field(display: Display, tmp_path: Path) -> None:
    async def test() -> None:
        async with stdio(tracer_env(display), tmp_path / "server.log") as client:
            assert not (await client.call_tool("screenshot", {})).is_error  # a run to look past
            cases = [("click", {"x": 5000, "y": 10, "target": "OK"}, "x"),
                     ("click", {"x": 10, "y": 10}, "target"),
                     ("scroll", {"x": 10, "y": 10, "amount": "lots"}, "amount"),
                     ("hotkey", {"keys": ["ctrl", "nosuchkey"]}, "keys"),
                     ("type", {"text": "a\x07b"}, "text"),
                     ("do", {}, "task"),
                     ("run_macro", {"path": str(tmp_path / "missing.yaml")}, "missing.yaml"),
                     ("logs", {"run_id": "nosuchrun"}, "nosuchrun")]
            for name, arguments, field in cases:
                result = await client.call_tool(name, arguments)
                assert result.is_error, (name, arguments)
                assert field in text(result), (name, text(result))
                assert "\n" not in text(result) and "pydantic" not in text(result), text(result)
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS  # still serving

    run(test)


def test_the_kill_hotkey_stops_a_do_called_through_mcp(display: Display, clicklog: ClickLog,
                                                       chat_server: Any, tmp_path: Path) -> None:
    chat_server.queue(typing_plan(), plan(done("typed")))
    env = tracer_env(display)

    async def test() -> tuple[Any, float, Any]:
        async with stdio(env, tmp_path / "server.log", *model(chat_server), "--yes") as client:
            outcome: dict[str, Any] = {}

            async def do() -> None:
                outcome["do"] = await client.call_tool("do", {"task": "type the text"})

            async with anyio.create_task_group() as group:
                group.start_soon(do)
                await anyio.to_thread.run_sync(lambda: wait_until(
                    lambda: len(typed(clicklog)) >= 10, 30, "tracer to start typing"))
                sent = time.monotonic()
                await anyio.to_thread.run_sync(lambda: xdotool(display, "key", CHORD))
            ended = time.monotonic() - sent
            after = await client.call_tool("screenshot", {})  # the server lives on, re-armed
            return outcome["do"], ended, after

    result, seconds, after = anyio.run(test)
    stopped = data(result)
    assert stopped["status"] == "interrupted" and stopped["reason"] == REASON
    assert len(typed(clicklog)) < len(TEXT) // 2
    assert seconds < 3
    assert_nothing_held(display)
    assert not after.is_error
    print(f"\nkill switch through MCP: {len(typed(clicklog))} of {len(TEXT)} characters typed; the "
          f"do call returned {seconds:.2f} s after xdotool was started")



def test_do_skips_a_risky_step_nobody_can_confirm(display: Display, start_notes: Callable[..., Notes],
                                                  chat_server: Any, tmp_path: Path) -> None:
    """The model plans a click on Delete: through a client without elicitation the agent skips it
    (and the model is told); through one that asks, the person's yes lets it run."""
    notes = start_notes(display)
    env = tracer_env(display)
    chat_server.queue(plan(click(*DELETE, "Delete button")), plan(done("could not delete")),
                      plan(click(*DELETE, "Delete button")), plan(done("deleted")))
    asked, yes = accept()
    args = (*model(chat_server), "--replan", "always")

    async def test() -> tuple[Any, Any]:
        async with stdio(env, tmp_path / "server.log", *args) as client:
            skipped = await client.call_tool("do", {"task": "delete all notes"})
        async with stdio(env, tmp_path / "server.log", *args, elicitation_callback=yes,
                         mode="legacy") as client:
            confirmed = await client.call_tool("do", {"task": "delete all notes"})
        return skipped, confirmed

    skipped, confirmed = anyio.run(test)
    first = data(skipped)
    assert first["status"] == "done" and "does not support elicitation" in first["confirmation"]
    told = json.dumps(chat_server.requests[1])
    assert "skipped: risky (clicks 'Delete button'" in told
    assert data(confirmed)["answer"] == "deleted"
    assert len(asked) == 1 and "RISKY: clicks 'Delete button'" in asked[0]
    state = notes.wait_state(lambda s: "Delete" in s["clicks"])
    assert state["clicks"] == ["Delete"]


def test_run_macro_dry_run_then_with_vars(display: Display, start_notes: Callable[..., Notes],
                                          tmp_path: Path) -> None:
    notes = start_notes(display)
    macro = str(ROOT / "examples" / "macros" / "notes_save.yaml")
    progress: list[str] = []

    async def on_progress(done_: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async def test() -> tuple[Any, Any]:
        async with stdio(tracer_env(display), tmp_path / "server.log", "--yes") as client:
            preview = await client.call_tool("run_macro", {"path": macro, "dry_run": True})
            assert notes.state()["clicks"] == []  # a dry run never acts
            ran = await client.call_tool("run_macro", {
                "path": macro, "vars": {"name": "Grace Hopper", "note": "COBOL"}},
                progress_callback=on_progress)
            return preview, ran

    preview, ran = anyio.run(test)
    planned = data(preview)
    assert planned["dry_run"] and len(planned["steps"]) == 7
    assert planned["steps"][0]["describe"] == "click text 'Clear'"
    (x, y), = planned["steps"][0]["pixels"]  # the Clear button, found by its text
    assert abs(x - 304) <= 30 and abs(y - 299) <= 10
    assert image(preview).size == (1280, 800)
    result = data(ran)
    assert result["status"] == "done" and result["steps"] == 7
    state = notes.wait_state(lambda s: len(s.get("saved", [])) == 1)
    assert state["saved"] == [["Grace Hopper", "COBOL"]]
    assert len(progress) == 7 and progress[-1].startswith("step 7: ")


def test_no_desktop_starts_anyway_and_each_tool_call_says_what_to_set(tmp_path: Path) -> None:
    """A client's launcher may pass no DISPLAY at all: the server starts, lists its tools, and
    every tool call that needs the desktop answers with the one line that says what to set."""
    env = {k: v for k, v in tracer_env(Display(":0", 1, 1, 0)).items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TRACER_DISPLAY"] = ":4091"  # a display nobody serves: no guessing which one is meant

    async def test() -> None:
        async with stdio(env, tmp_path / "server.log") as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            for name, args in (("screenshot", {}), ("click", {"x": 1, "y": 1, "target": "x"})):
                result = await client.call_tool(name, args)
                assert result.is_error
                assert "cannot" in text(result) and ":4091" in text(result), text(result)

    run(test)
    log = (tmp_path / "server.log").read_text(encoding="utf-8")
    assert "Traceback" not in log


def test_a_client_that_cancels_a_do_stops_it(display: Display, clicklog: ClickLog, chat_server: Any,
                                            tmp_path: Path) -> None:
    """The client gives up on the call (the SDK sends notifications/cancelled): the typing stops
    between two keys as for the kill hotkey, and the run record says why."""
    chat_server.queue(typing_plan(), plan(done("typed")))
    env = tracer_env(display)

    def record_ended() -> bool:
        return any(r["kind"] == "do" and r["status"] != "running" for r in logged_runs(env))

    async def test() -> Any:
        async with stdio(env, tmp_path / "server.log", *model(chat_server), "--yes") as client:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "do", {"task": "type the text"})
                await anyio.to_thread.run_sync(lambda: wait_until(
                    lambda: len(typed(clicklog)) >= 10, 30, "tracer to start typing"))
                group.cancel_scope.cancel()
            await anyio.to_thread.run_sync(lambda: wait_until(record_ended, 10, "the run to end"))
            return await client.call_tool("screenshot", {})

    after = anyio.run(test)
    assert not after.is_error  # the server goes on
    run = next(r for r in logged_runs(env) if r["kind"] == "do")
    assert (run["status"], run["reason"]) == ("interrupted", "cancelled by the MCP client")
    assert len(typed(clicklog)) < len(TEXT) // 2
    assert_nothing_held(display)


def test_confirm_always_without_elicitation_refuses_to_act(display: Display, clicklog: ClickLog,
                                                           tmp_path: Path) -> None:
    async def test() -> list[types.CallToolResult]:
        async with stdio(tracer_env(display), tmp_path / "server.log", "--confirm", "always") as client:
            return [await client.call_tool("do", {"task": "anything"}),
                    await client.call_tool("click", {"x": 500, "y": 500, "target": "canvas"})]

    for result in anyio.run(test):
        assert result.is_error
        assert "refused: the server asks before every step (--confirm always)" in text(result)
    assert clicklog.presses() == []


def test_the_pause_hotkey_pauses_a_typing_primitive_called_through_mcp(
        display: Display, clicklog: ClickLog, tmp_path: Path) -> None:
    """A primitive stops at the next key when the person presses the pause hotkey and returns
    "paused" (the client calls again once the person hands back); nothing stays held."""
    from tests.e2e.test_pause import CHORD as PAUSE
    from tests.e2e.test_pause import TEXT as LONG
    from tests.e2e.test_pause import typed as typed_by_tracer

    env = tracer_env(display)

    async def test() -> tuple[Any, Any]:
        async with stdio(env, tmp_path / "server.log", "--yes") as client:
            outcome: dict[str, Any] = {}

            async def type_it() -> None:
                outcome["type"] = await client.call_tool("type", {"text": LONG})

            async with anyio.create_task_group() as group:
                group.start_soon(type_it)
                await anyio.to_thread.run_sync(lambda: wait_until(
                    lambda: len(typed_by_tracer(clicklog)) >= 10, 30, "tracer to start typing"))
                await anyio.to_thread.run_sync(lambda: xdotool(display, "key", PAUSE))
            paused_count = len(typed_by_tracer(clicklog))
            again = await client.call_tool("type", {"text": "abc"})  # still paused
            await anyio.to_thread.run_sync(lambda: xdotool(display, "key", PAUSE))  # hand back
            return outcome["type"], again, paused_count

    first, again, count = anyio.run(test)
    paused = data(first)
    assert paused["status"] == "paused"
    assert f"after typing {count} of {len(LONG)} characters" in paused["reason"]
    assert "call again once they hand back" in paused["reason"]
    assert data(again)["status"] == "paused" and "before the action was sent" in data(again)["reason"]
    assert len(typed_by_tracer(clicklog)) == count
    assert_nothing_held(display)


def test_an_action_while_a_run_holds_the_desktop_is_refused_naming_the_run(
        display: Display, clicklog: ClickLog, chat_server: Any, background_tracer: Any,
        tmp_path: Path) -> None:
    """Two users of one desktop would interleave their keys: while `tracer do` types, the MCP
    server's click is refused with the line that names the run (looking is still allowed); once
    `tracer stop` ended the run, the click goes through."""
    from tests.e2e.test_kill_switch import start_typing

    proc, env = start_typing(display, chat_server, background_tracer, clicklog)

    async def test() -> None:
        async with stdio(env, tmp_path / "server.log") as client:
            refused = await client.call_tool("click", {"x": 500, "y": 500, "target": "the canvas"})
            assert refused.is_error
            assert f"x11 {display.name} is in use by tracer do 'type the text' (pid {proc.pid}" in \
                text(refused)
            assert not (await client.call_tool("screenshot", {})).is_error
            stopped = run_tracer("stop", env=env)
            assert stopped.returncode == 0 and f"{proc.pid}: stopped" in stopped.stdout
            proc.communicate(timeout=15)
            presses = len(clicklog.presses())
            done_click = data(await client.call_tool("click", {"x": 500, "y": 500,
                                                              "target": "the canvas"}))
            assert done_click["status"] == "done"
            assert len(clicklog.wait_presses(presses + 1)) == presses + 1

    run(test)
    assert proc.returncode == 130
    assert last_run_reason(env) == "stopped by tracer stop"
    assert_nothing_held(display)


def last_run_reason(env: dict[str, str]) -> str:
    """The reason of the last `tracer do` run (not the MCP server's own records)."""
    runs = [r for r in logged_runs(env) if r.get("kind") == "do"]
    return str(runs[-1]["reason"])
