"""`tracer mcp`: tracer as an MCP server for other agents (the server is tracer_cli/serve/).
Thin: parses the flags, hands the server the wiring it shares with `tracer do`, reports errors."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from tracer_cli.cli import options as opt  # typer reads the opt.* annotations here
from tracer_cli.cli import wiring
from tracer_cli.cli.console import err, guard, stdout_restored
from tracer_cli.errors import ConfigError


@opt.model_options
def mcp_server(
    http: Annotated[bool, typer.Option(
        "--http", help="Serve streamable HTTP on 127.0.0.1 instead of stdio, with a bearer "
        "token printed at start.")] = False,
    port: Annotated[int, typer.Option(
        "--port", help="With --http: the port on 127.0.0.1 (0: a free one).", min=0,
        max=65535)] = 8765,
    yes: opt.Yes = False, confirm: opt.Confirm = None, max_steps: opt.MaxSteps = None,
    timeout: opt.Timeout = None, kill_hotkey: opt.KillHotkey = None,
    pause_hotkey: opt.PauseHotkey = None, ocr: opt.Ocr = None,
    replan: opt.Replan = None, speculative_steps: opt.SpeculativeSteps = None,
    model_flags: dict[str, Any] | None = None,
) -> None:
    """Serve tracer's tools over the Model Context Protocol: screenshot, plan, do, run_macro,
    click, type, hotkey, scroll and logs, for clients such as Claude Desktop, Claude Code,
    VS Code or Cursor.

    It acts only on the display and monitor chosen here (--display, --monitor), with tracer's
    safety: the kill and pause hotkeys stay armed, risky steps are confirmed by the person through the
    client (MCP elicitation) or refused, and every tool call leaves a run record.
    """
    with guard():
        settings = wiring.settings_from({
            **(model_flags or {}), "confirm": "never" if yes else confirm, "max_steps": max_steps,
            "timeout": timeout, "kill_hotkey": kill_hotkey, "pause_hotkey": pause_hotkey,
            "ocr": ocr, "replan": replan,
            "speculative_steps": speculative_steps})
        from tracer_cli.cli.preview import annotate, draw_marks

        try:
            from tracer_cli.serve import server
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] not in ("mcp", "mcp_types", "uvicorn"):
                raise
            raise ConfigError(f"the MCP SDK is not installed ({exc.name} is missing)",
                              "pip install 'mcp>=2.3' into tracer's environment") from None
        from tracer_cli.serve.desk import Desk, Parts

        desk = Desk(settings, Parts(wiring.make_models, wiring.close_models, annotate, draw_marks))

        def ready(message: str) -> None:
            err.print(escape(message), soft_wrap=True)
            if desk.switch is not None:
                err.print(f"tracer: kill switch armed: press {escape(desk.switch.label)} to stop "
                          "what the server is doing")
                if desk.switch.warning:
                    err.print(f"tracer: warning: {escape(desk.switch.warning)}")
            where = desk.platform.describe() if desk.platform is not None else \
                f"no desktop ({desk.unusable}): every tool call will say so"
            err.print(f"tracer: {escape(where)}, monitor {settings.monitor}, confirm "
                      f"{settings.confirm}")

        if http:
            server.serve_http(desk, port, ready)
        else:
            with stdout_restored():  # the SDK's transport claims stdout for the protocol itself
                server.serve_stdio(desk, ready)
