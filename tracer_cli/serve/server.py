"""The MCP server: tracer's tools and read-only resources on the official MCP SDK's MCPServer,
over stdio (what desktop clients launch) or streamable HTTP on 127.0.0.1 with a bearer token.

In stdio mode stdout carries the protocol only: the SDK's transport moves the process's own
stdout to stderr while it runs, so a stray print (or llama.cpp's C-level logging) cannot
corrupt the stream; tracer's own messages go to stderr."""

from __future__ import annotations

import errno
import hmac
import json
import secrets
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer_cli import __version__, paths
from tracer_cli.errors import ConfigError
from tracer_cli.serve import primitives, records
from tracer_cli.serve.tools import Tools

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from tracer_cli.serve.desk import Desk

INSTRUCTIONS = """tracer gives you hands on the person's desktop, with tracer's safety.
Look first (screenshot, or plan for tracer's own forecast), then act: `do` runs a whole task with
tracer's planner; click/type/hotkey/scroll act once at 0..1000 coordinates of the screenshot.
Risky steps (buying, deleting, sending, passwords, closing without saving) need the person's
confirmation and are refused when it cannot be asked; the person can stop everything with the
kill hotkey. Every call leaves a run record (logs, tracer://runs/ID)."""


def argument_error(tool: str, errors: list[dict[str, Any]]) -> str:
    """One line for arguments that fail a tool's schema: each field and what it must be, without
    the values given (pydantic's own text spans lines and links its documentation)."""
    said = []
    for error in errors:
        field = ".".join(str(part) for part in error.get("loc", ())) or "arguments"
        said.append(f"{field}: {str(error.get('msg', 'invalid')).rstrip('.')}")
    return f"{tool}: bad arguments: {'; '.join(said)} (fix them and call again)"


def build(desk: Desk) -> MCPServer:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import ValidationError

    class Server(MCPServer):
        async def call_tool(self, name: str, arguments: dict[str, Any],
                            context: Any = None) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                if isinstance(exc.__cause__, ValidationError):
                    raise ToolError(argument_error(name, exc.__cause__.errors())) from exc.__cause__
                raise

    server: MCPServer = Server("tracer", version=__version__, instructions=INSTRUCTIONS,
                               log_level="WARNING")
    Tools(desk).register(server)
    primitives.register(server, desk)

    @server.resource("tracer://runs/{run_id}", mime_type="application/json",
                     description="One run record of tracer: how it ended and every step.")
    def run_record(run_id: str) -> str:
        from mcp.server.mcpserver.exceptions import ResourceError

        from tracer_cli.agent.runlog import find_run

        try:
            return json.dumps(records.one(find_run(paths.runs_dir(), run_id)), ensure_ascii=False)
        except ConfigError as exc:
            raise ResourceError(str(exc)) from None

    @server.resource("tracer://models", mime_type="application/json",
                     description="The model catalogue and registered models, and which are installed.")
    def model_catalogue() -> str:
        from tracer_cli.models import known

        return json.dumps([{"name": s.name, "profile": s.profile, "repo": s.repo,
                            "description": s.description, "source": s.source,
                            "installed": s.installed(), "size": s.size()}
                           for s in known().values()], ensure_ascii=False)

    return server


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (never another interface). Port 0: a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on 127.0.0.1 is in use (another server, or a tracer "
                              "mcp already running)",
                              "choose another with --port N, or --port 0 for a free one") from None
        raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                          "choose another port with --port N") from None
    sock.listen(64)
    return sock


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "unauthorized: send the bearer token tracer printed "
                                   "at start (Authorization: Bearer ...)"}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def serve_stdio(desk: Desk, ready: Callable[[str], None]) -> None:
    import anyio

    server = build(desk)
    desk.open()
    try:
        ready("tracer: MCP server on stdio")
        anyio.run(server.run_stdio_async)
    finally:
        desk.close()


def serve_http(desk: Desk, port: int, ready: Callable[[str], None]) -> None:
    import anyio
    import uvicorn

    sock = bind(port)
    try:
        token = secrets.token_urlsafe(32)
        app = BearerAuth(build(desk).streamable_http_app(host="127.0.0.1"), token)
        web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        desk.open()
        try:
            ready(f"tracer: MCP server on http://127.0.0.1:{sock.getsockname()[1]}/mcp\n"
                  f"tracer: bearer token (send it as 'Authorization: Bearer <token>'; it changes "
                  f"at every start): {token}")
            anyio.run(lambda: web.serve(sockets=[sock]))
        finally:
            desk.close()
    finally:
        sock.close()
