"""The MCP server's parts without a display: who can be asked, what a primitive needs before it
runs, the bearer token check, the port on 127.0.0.1. (tests/e2e/test_mcp.py runs the real
server.)"""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver.resolve import Elicit

from tracer_cli.agent.defaults import effective
from tracer_cli.errors import ConfigError
from tracer_cli.plan import parse_step
from tracer_cli.serve.desk import Desk
from tracer_cli.serve.primitives import Decision, Primitives
from tracer_cli.serve.safety import cannot_ask
from tracer_cli.serve.server import BearerAuth, bind

DELETE = parse_step({"action": "click", "x": 431, "y": 374, "target": "Delete"})
SAVE = parse_step({"action": "click", "x": 141, "y": 374, "target": "Save"})


def ctx(elicitation: bool, version: str = "2025-11-25") -> Any:
    caps = SimpleNamespace(elicitation=object() if elicitation else None)
    return SimpleNamespace(client_capabilities=caps, protocol_version=version)


def primitives(confirm: str) -> Primitives:
    return Primitives(Desk(effective({"confirm": confirm}), parts=None))  # type: ignore[arg-type]


def test_who_can_be_asked_in_the_middle_of_a_call() -> None:
    assert cannot_ask(ctx(True)) is None
    assert "does not support elicitation" in (cannot_ask(ctx(False)) or "")
    assert "cannot ask in the middle" in (cannot_ask(ctx(True, "2026-07-28")) or "")


def test_a_primitive_is_judged_by_tracers_rules_not_the_client() -> None:
    risky = primitives("risky")
    assert risky.approval(ctx(False), SAVE) == Decision(True, "")
    asked = risky.approval(ctx(True, "2026-07-28"), DELETE)  # the resolver asks on any protocol
    assert isinstance(asked, Elicit) and "RISKY: clicks 'Delete'" in asked.message
    refused = risky.approval(ctx(False), DELETE)
    assert isinstance(refused, Decision) and not refused.allowed
    assert refused.reason.startswith("refused: it is risky (clicks 'Delete'")
    password = parse_step({"action": "type", "text": "hunter2"})
    assert isinstance(risky.approval(ctx(True), password, "Password field"), Elicit)
    assert risky.approval(ctx(True), password, "Name field") == Decision(True, "")
    assert primitives("never").approval(ctx(False), DELETE).allowed
    assert isinstance(primitives("always").approval(ctx(True), SAVE), Elicit)


def test_http_requests_need_the_bearer_token() -> None:
    reached: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    async def call(headers: list[tuple[bytes, bytes]], kind: str = "http") -> int | None:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await BearerAuth(app, "s3cret")({"type": kind, "headers": headers}, None, send)
        return sent[0]["status"] if sent else None

    async def test() -> None:
        assert await call([]) == 401
        assert await call([(b"authorization", b"Bearer wrong")]) == 401
        assert await call([(b"authorization", b"s3cret")]) == 401
        assert await call([(b"authorization", b"Bearer s3cret")]) is None
        assert await call([], "lifespan") is None  # the app's start-up is not a request

    anyio.run(test)
    assert reached == ["http", "lifespan"]


def test_the_port_is_on_127_0_0_1_and_a_taken_one_says_so() -> None:
    sock = bind(0)
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is in use") as info:
            bind(port)
        assert "--port" in str(info.value)
    finally:
        sock.close()
    with socket.socket() as probe:  # closed again: free
        probe.bind(("127.0.0.1", port))


def test_a_tool_calls_record_makes_room_under_the_size_cap(tracer_home: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The server's records obey runs_max_mb as the command line's do, and say so on stderr."""
    from datetime import datetime, timedelta, timezone

    from tests.test_retention import fake_run
    from tracer_cli import paths
    from tracer_cli.config import Settings
    from tracer_cli.serve.records import open_log

    old = datetime.now(timezone.utc) - timedelta(days=2)
    first = fake_run(paths.runs_dir(), "old-1", old, 3 << 20)
    second = fake_run(paths.runs_dir(), "old-2", old + timedelta(hours=1), 3 << 20)
    log = open_log(Settings(runs_max_mb=4), "mcp", "screenshot")
    log.finish("done")

    assert not first.exists() and second.exists() and log.dir.is_dir()
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout is the protocol's
    assert "runs_max_mb" in captured.err and "old-1" not in str(list(paths.runs_dir().iterdir()))
