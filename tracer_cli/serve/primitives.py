"""The primitives, for clients that plan themselves: click, type, hotkey and scroll, in the plan
contract's 0..1000 coordinates of the chosen monitor (the screenshot tool's image).

Each becomes a plan step (tracer_cli/plan.py: the same validation as a model's step), is judged
by tracer's risk rules before anything happens, and runs on the desk's actuator. The question
to the person is asked by the SDK's resolver (``Resolve``): mid-call on the older protocol,
inside the tool's result on the 2026 one, so both confirm a risky primitive. A client without
elicitation gets a refusal that says why.

(No ``from __future__ import annotations`` here: the SDK reads the tools' annotations, which
name resolvers made in ``register``, when the tools are added.)
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import Field, ValidationError

from tracer_cli.agent.outcome import Outcome
from tracer_cli.agent.risk import assess, needs_asking
from tracer_cli.desktop.killswitch import Paused, StopRequest
from tracer_cli.errors import Interrupted, TracerError
from tracer_cli.plan import BaseStep, format_validation_error, parse_step
from tracer_cli.serve import records
from tracer_cli.serve.safety import Approval, question, refusal
from tracer_cli.serve.tools import add_tool, as_text, in_thread

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from tracer_cli.serve.desk import Desk

Coord = Annotated[float, Field(ge=0, le=1000, description="0..1000 of the monitor (the "
                                                       "screenshot's width or height)")]
Target = Annotated[str, Field(min_length=1, max_length=300, description=(
    "What is clicked, in words (the button's label, the field's name): tracer's risk rules "
    "read it."))]
Button = Annotated[Literal["left", "right", "double"], Field(description="left, right or double")]
Text = Annotated[str, Field(min_length=1, max_length=4000,
                            description="The text to type (a newline presses Enter).")]
Into = Annotated[str, Field(max_length=300, description=(
    "The field typed into, in words (default: the target of the last click): tracer's risk "
    "rules read it."))]
Keys = Annotated[list[str], Field(min_length=1, max_length=4,
                                  description='Keys pressed together, e.g. ["ctrl", "s"].')]
Amount = Annotated[int, Field(ge=-50, le=50, description="Wheel clicks: positive scrolls up, "
                                                         "negative down; not 0.")]
CLICKS = {"left": "click", "right": "right_click", "double": "double_click"}


@dataclass
class Decision:
    """What the resolver decided without asking: allowed (not risky, or --yes) or refused."""

    allowed: bool
    reason: str = ""


def step_of(fields: dict[str, Any]) -> BaseStep:
    """The plan step, validated as a model's step is; a bad one is a tool error naming the field."""
    try:
        return parse_step(fields)
    except ValidationError as exc:
        raise ToolError(f"tracer: {format_validation_error(exc)}") from None
    except TracerError as exc:
        raise ToolError(f"tracer: {exc}") from None


class Primitives:
    def __init__(self, desk: "Desk") -> None:
        self.desk = desk
        self.settings = desk.settings
        self.typing_into = ""  # the target of the last click: where typed text goes

    def approval(self, ctx: Context, step: BaseStep, typing_into: str = "") -> Any:
        """The resolver's answer: a Decision, or the question for the person."""
        risk = assess(step, typing_into)
        if not needs_asking(self.settings.confirm, risk):
            return Decision(True, risk or "")
        caps = ctx.client_capabilities
        if caps is None or caps.elicitation is None:
            return Decision(False, refusal(risk, "this MCP client does not support elicitation, "
                                           "so nobody can confirm it"))
        return Elicit(question(step.describe(), risk, []), Approval)

    async def run(self, step: BaseStep, answer: ElicitationResult[Any], typing_into: str = "") -> str:
        risk = assess(step, typing_into)
        verdict = answer.data if isinstance(answer, AcceptedElicitation) else None
        if isinstance(verdict, Decision):
            allowed, reason = verdict.allowed, verdict.reason
        else:
            allowed = isinstance(verdict, Approval) and verdict.run
            reason = "declined: the person did not confirm this step; it was not executed"
        if not allowed:
            await in_thread(lambda: self.refused(step, risk, reason))
            raise ToolError(f"tracer: {step.describe()}: {reason}")
        stop = StopRequest()
        return as_text(await in_thread(lambda: self.act(step, risk, stop), stop))

    def refused(self, step: BaseStep, risk: str | None, reason: str) -> None:
        call = records.CallRecord(step.describe(), self.settings, None)
        call.step.action, call.step.risk = step, risk
        call.finish("refused", reason, Outcome("skipped", reason))

    def act(self, step: BaseStep, risk: str | None, stop: StopRequest) -> dict[str, Any]:
        from tracer_cli.desktop.actuator import execute, target_points
        from tracer_cli.desktop.screen import wait_settled

        with self.desk.acting(stop) as hands:
            geometry = hands.screen.geometry
            call = records.CallRecord(step.describe(), self.settings, geometry)
            call.step.action, call.step.risk = step, risk
            try:
                points = target_points(step, geometry, hands.actuator)
                call.step.points = points
                execute(step, geometry, hands.actuator, points)
                _, settled = wait_settled(hands.screen, self.settings.settle_quiet,
                                          self.settings.settle_timeout)
            except Interrupted as exc:
                call.finish("interrupted", exc.message, Outcome("interrupted", exc.message))
                return {"status": "interrupted", "reason": exc.message, "run_id": call.id}
            except Paused as exc:  # the person has the mouse: nothing more is sent
                reason = (f"the person paused tracer with the pause hotkey {exc.progress()} and "
                          "has the mouse; call again once they hand back")
                call.finish("paused", reason, Outcome("interrupted", reason))
                return {"status": "paused", "reason": reason, "run_id": call.id}
            except TracerError as exc:
                call.finish("error", exc.message, Outcome("error", exc.message))
                raise
            call.finish("done", outcome=Outcome("ok", settled=settled))
            return {"status": "done", "step": step.describe(), "screen": [list(p) for p in points],
                    "settled": settled, "run_id": call.id}


def register(server: "MCPServer", desk: "Desk") -> None:
    """Add the four primitives to ``server``, each with the resolver that asks before it."""
    hands = Primitives(desk)

    def click_step(x: float, y: float, target: str, button: str) -> BaseStep:
        return step_of({"action": CLICKS[button], "x": x, "y": y, "target": target})

    def approve_click(ctx: Context, x: Coord, y: Coord, target: Target, button: Button = "left") -> Any:
        return hands.approval(ctx, click_step(x, y, target, button))

    async def click(x: Coord, y: Coord, target: Target,
                    answer: Annotated[ElicitationResult[Approval], Resolve(approve_click)],
                    button: Button = "left") -> str:
        """Click at (x, y) in 0..1000 coordinates of the monitor (the screenshot tool's image:
        x = 1000 * px / width). Clicking something that buys, pays, deletes, sends or closes
        without saving needs the person's confirmation."""
        result = await hands.run(click_step(x, y, target, button), answer)
        hands.typing_into = target
        return result

    def approve_type(ctx: Context, text: Text, into: Into = "") -> Any:
        return hands.approval(ctx, step_of({"action": "type", "text": text}), into or hands.typing_into)

    async def type_text(text: Text, answer: Annotated[ElicitationResult[Approval], Resolve(approve_type)],
                        into: Into = "") -> str:
        """Type TEXT with the keyboard where the focus is. Typing into password or payment
        fields, or commands that delete, needs the person's confirmation."""
        return await hands.run(step_of({"action": "type", "text": text}), answer,
                               into or hands.typing_into)

    def approve_hotkey(ctx: Context, keys: Keys) -> Any:
        return hands.approval(ctx, step_of({"action": "hotkey", "keys": keys}))

    async def hotkey(keys: Keys,
                     answer: Annotated[ElicitationResult[Approval], Resolve(approve_hotkey)]) -> str:
        """Press a key chord, e.g. ["ctrl", "s"] or ["enter"]. Chords that close, quit or delete
        (alt+f4, ctrl+w, ctrl+q, shift+delete) need the person's confirmation; the kill hotkey
        is never pressed."""
        return await hands.run(step_of({"action": "hotkey", "keys": keys}), answer)

    def scroll_step(x: float, y: float, amount: int) -> BaseStep:
        return step_of({"action": "scroll", "x": x, "y": y, "dy": amount})

    def approve_scroll(ctx: Context, x: Coord, y: Coord, amount: Amount) -> Any:
        return hands.approval(ctx, scroll_step(x, y, amount))

    async def scroll(x: Coord, y: Coord, amount: Amount,
                     answer: Annotated[ElicitationResult[Approval], Resolve(approve_scroll)]) -> str:
        """Turn the mouse wheel at (x, y) in 0..1000 coordinates of the monitor."""
        return await hands.run(scroll_step(x, y, amount), answer)

    acts = {"read_only": False, "destructive": True, "idempotent": False}
    add_tool(server, click, "click", "Click at a point", **acts)
    add_tool(server, type_text, "type", "Type text", **acts)
    add_tool(server, hotkey, "hotkey", "Press keys together", **acts)
    add_tool(server, scroll, "scroll", "Turn the mouse wheel", read_only=False, destructive=False,
             idempotent=False)
