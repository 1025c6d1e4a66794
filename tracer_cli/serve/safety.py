"""Safety is tracer's, not the client's: tracer's own risk rules (agent/risk.py) judge every step,
the client's planned primitives as much as the agent's, and a step that needs confirmation is
confirmed by the person through MCP elicitation. A client that cannot ask gets a refusal with
the reason; nothing a client or a model says makes a risky step safe.

The policy is set when the server starts: ``--confirm risky`` (the default), ``always`` or
``never`` (``--yes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from tracer_cli.agent.runloop import Confirm

# The first protocol revision in which a server cannot send requests in the middle of a tool
# call (elicitation rides the tool's result instead, and a running task cannot wait for it).
NO_MIDCALL_REQUESTS = "2026-07-28"

Answer = Literal["yes", "skip", "stop"]


class Approval(BaseModel):
    """The form the person answers."""

    run: bool = Field(description="Run this step on your desktop?")


def cannot_ask(ctx: Any) -> str | None:
    """Why this client cannot confirm a step through elicitation (None: it can)."""
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return "this MCP client does not support elicitation, so nobody can confirm it"
    version = ctx.protocol_version or ""
    if version >= NO_MIDCALL_REQUESTS:
        return (f"this connection's protocol ({version}) cannot ask in the middle of a tool "
                "call, so nobody can confirm it")
    return None


def question(step: str, risk: str | None, points: list[tuple[int, int]]) -> str:
    where = " at " + ", ".join(f"({x},{y})" for x, y in points) if points else ""
    why = f"RISKY: {risk}. " if risk else ""
    return f"tracer: {why}{step}{where}. Run it?"


async def ask(ctx: Any, message: str) -> Answer:
    """Ask the person: "yes" (accepted with run=true), "skip" (declined, or run=false) or
    "stop" (cancelled, or the client failed to answer)."""
    try:
        result = await ctx.elicit(message, Approval)
    except Exception:  # noqa: BLE001 - an answer that never came confirms nothing
        return "stop"
    if result.action == "accept":
        return "yes" if result.data.run else "skip"
    return "skip" if result.action == "decline" else "stop"


def refusal(risk: str | None, why_not: str) -> str:
    what = f"it is risky ({risk})" if risk else "the server asks before every step (--confirm always)"
    return (f"refused: {what} and needs the person's confirmation, but {why_not}. Ask the person "
            "to do it themselves, use a client that supports elicitation, or restart the server "
            "with --yes if they trust it")


def agent_confirm(ctx: Any, policy: str) -> Confirm | None:
    """The confirmation callback for the agent and the macro runner, which run in a worker
    thread: each question goes to the client through the event loop. None when the client
    cannot ask (risky steps are then skipped by the agent, and stop a macro)."""
    if policy == "never" or cannot_ask(ctx) is not None:
        return None
    import anyio.from_thread

    def confirm(number: int, step: Any, points: list[tuple[int, int]], risk: str | None) -> str:
        return anyio.from_thread.run(ask, ctx, question(f"step {number}: {step.describe()}",
                                                        risk, points))

    return confirm
