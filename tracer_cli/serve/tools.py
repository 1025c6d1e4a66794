"""The tools a client model calls to look and to run whole tasks: screenshot, plan, do,
run_macro, logs (the primitives are in primitives.py). Each runs tracer's own core (the agent,
the macro runner) in a worker thread, on the desk fixed at start, and leaves a run record.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image as McpImage
from pydantic import Field

from tracer_cli import paths
from tracer_cli.agent.runloop import Listener, RunResult, StepRecord
from tracer_cli.desktop.killswitch import StopRequest
from tracer_cli.desktop.screen import Screens
from tracer_cli.errors import TracerError
from tracer_cli.redact import redact, redact_data
from tracer_cli.serve import records
from tracer_cli.serve.safety import agent_confirm, cannot_ask, refusal

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from PIL import Image

    from tracer_cli.serve.desk import Desk


def png(image: Image.Image) -> McpImage:
    """A picture for the client, with any secret it shows painted over."""
    from tracer_cli.vision.secrets import hide_secrets

    buffer = io.BytesIO()
    hide_secrets(image).save(buffer, format="PNG")
    return McpImage(data=buffer.getvalue(), format="png")


def add_tool(server: MCPServer, fn: Any, name: str, title: str, *, read_only: bool,
             destructive: bool, idempotent: bool) -> None:
    """Register ``fn`` with a clean description (its docstring without the source's
    indentation) and the protocol's hints that clients use to decide what to confirm."""
    import inspect

    from mcp.types import ToolAnnotations

    server.add_tool(fn, name=name, title=title, description=inspect.cleandoc(fn.__doc__ or ""),
                    annotations=ToolAnnotations(title=title, read_only_hint=read_only,
                                                destructive_hint=destructive,
                                                idempotent_hint=idempotent, open_world_hint=False),
                    structured_output=False)


def as_text(data: Any) -> str:
    return json.dumps(redact_data(data), ensure_ascii=False, indent=1)


class Progress(Listener):
    """Sends a progress notification to the client after every step of a run (from the worker
    thread, through the event loop)."""

    def __init__(self, ctx: Context, total: int) -> None:
        self.ctx, self.total = ctx, total

    def on_step(self, record: StepRecord) -> None:
        what = record.action.describe() if record.action is not None else "observed"
        message = f"step {record.number}: {what} -> {record.outcome.text() or 'done'}"
        try:
            anyio.from_thread.run(self.ctx.report_progress, record.number, self.total, redact(message))
        except Exception:  # noqa: BLE001 - a client gone away must not stop the run
            pass


def _result(result: RunResult, run_dir: Path) -> dict[str, Any]:
    return {"status": result.status, "reason": result.reason, "answer": result.answer,
            "steps": result.steps, "run_id": run_dir.name, "model_calls": result.model_calls,
            "forecast_steps": result.forecast_steps}


def _tool_error(exc: TracerError) -> ToolError:
    return ToolError(redact(f"tracer: {exc}"))


def _refuse_unaskable(ctx: Context, policy: str) -> None:
    """--confirm always asks before every step: without anyone to ask, nothing could run."""
    why_not = cannot_ask(ctx)
    if policy == "always" and why_not:
        raise ToolError(f"tracer: {refusal(None, why_not)}")


async def in_thread(work: Any, stop: StopRequest | None = None) -> Any:
    """Run blocking work (input, capture, a model) in a worker thread; tracer's errors become
    tool errors the client model reads. A client that cancels the call stops the work through
    ``stop`` (between two keys, as the kill hotkey does)."""
    try:
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=stop is not None)
    except anyio.get_cancelled_exc_class():
        if stop is not None:
            stop.request("cancelled by the MCP client")
        raise
    except TracerError as exc:
        raise _tool_error(exc) from None


class Tools:
    """The tools, bound to one desk."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.settings = desk.settings

    def register(self, server: MCPServer) -> None:
        looks = {"read_only": True, "destructive": False, "idempotent": True}
        acts = {"read_only": False, "destructive": True, "idempotent": False}
        add_tool(server, self.screenshot, "screenshot", "Screenshot of the desktop", **looks)
        add_tool(server, self.plan, "plan", "Forecast without acting (dry run)", **looks)
        add_tool(server, self.do, "do", "Carry out a task on the desktop", **acts)
        add_tool(server, self.run_macro, "run_macro", "Run a desktop macro", **acts)
        add_tool(server, self.logs, "logs", "tracer's run records", **looks)

    # -- looking ---------------------------------------------------------------------------

    async def screenshot(self) -> list[Any]:
        """Capture the monitor tracer acts on, scaled as tracer sends it to a model. Points in
        this image map to the 0..1000 coordinates of click/scroll: x = 1000 * px / width."""

        def work() -> tuple[Image.Image, str]:
            from tracer_cli.agent.profiles import PROFILES
            from tracer_cli.desktop.screen import downscale

            with self.desk.looking() as screen:
                shot = screen.capture().image
                size = PROFILES.get(self.settings.profile)().geometry.size(
                    *shot.size, self.settings.max_pixels)
                image = downscale(shot, size)
                call = records.CallRecord("screenshot", self.settings, screen.geometry)
                call.step.image = image
                call.finish("done", f"{image.width}x{image.height} of monitor {self.settings.monitor}")
                return image, call.id

        image, run_id = await in_thread(work)
        info = {"width": image.width, "height": image.height, "monitor": self.settings.monitor,
                "coordinates": "click/scroll take 0..1000 of this image's width and height",
                "run_id": run_id}
        return [as_text(info), png(image)]

    async def plan(self, task: Annotated[str, Field(
            min_length=1, max_length=2000, description="What to do, in plain words.")]) -> list[Any]:
        """tracer's forecast for TASK on the current screen, without acting: the next steps
        with their 0..1000 points and screen pixels, and the screenshot with numbered markers
        where each step would act. Nothing is clicked or typed."""

        def work() -> tuple[dict[str, Any], Image.Image]:
            from tracer_cli.agent.loop import Agent

            with self.desk.looking(exclusive=True) as screen:
                planner, grounder = self.desk.models()
                log = records.open_log(self.settings, "plan", task)
                agent = Agent(screen, planner, None, self.settings, [log], grounder=grounder)
                record = agent.preview(task)
                assert record.forecast is not None and record.image is not None
                forecast = record.forecast.plan
                preview = self.desk.parts.annotate(record.image, forecast)
                log.save_image(preview, "preview.png")
                steps = []
                for step in forecast.trajectory:
                    pts = step.points()
                    steps.append({"step": step.describe(), "action": step.action,  # type: ignore[attr-defined]
                                  "points": [list(p) for p in pts],
                                  "screen": [list(screen.geometry.to_input(*p)) for p in pts]})
                data = {"thought": forecast.thought, "steps": steps, "run_id": log.dir.name}
                if forecast.subgoals:  # a hierarchical plan's checklist
                    data["subgoals"] = [g.model_dump() for g in forecast.subgoals]
                return data, preview

        data, preview = await in_thread(work)
        return [as_text(data), png(preview)]

    # -- acting: whole tasks -----------------------------------------------------------------

    async def do(self, ctx: Context, task: Annotated[str, Field(
            min_length=1, max_length=2000, description="What to do, in plain words.")],
                 max_steps: Annotated[int | None, Field(
                     ge=1, le=200, description="Give up after this many actions (default: the "
                     "server's, 30).")] = None) -> str:
        """Carry out TASK on the desktop with tracer's own planner and safety: forecast, act,
        look again, until done. A progress notification follows every step. Risky steps are
        confirmed by the person (elicitation) or skipped. The kill hotkey stops it. Returns the
        status (done, failed, gave_up, stuck, interrupted, error), the answer and the run id."""
        settings = self.settings.model_copy(update={"max_steps": max_steps or self.settings.max_steps})
        _refuse_unaskable(ctx, settings.confirm)
        confirm = agent_confirm(ctx, settings.confirm)
        stop = StopRequest()

        def work() -> dict[str, Any]:
            from tracer_cli.agent.loop import Agent
            from tracer_cli.desktop.elements import open_elements

            with self.desk.acting(stop) as hands:
                planner, grounder = self.desk.models()
                log = records.open_log(settings, "do", task)
                elements = open_elements(hands.platform)
                try:
                    agent = Agent(hands.screen, planner, hands.actuator, settings,
                                  [log, Progress(ctx, settings.max_steps)], confirm, hands.stop,
                                  grounder, elements)
                    return _result(agent.run(task), log.dir)
                finally:
                    elements.close()

        result = await in_thread(work, stop)
        why_not = cannot_ask(ctx)
        if settings.confirm != "never" and why_not:
            result["confirmation"] = f"risky steps are skipped: {why_not}"
        return as_text(result)

    async def run_macro(self, ctx: Context, path: Annotated[str, Field(
            min_length=1, description="The macro file (YAML), on the server's machine.")],
                        vars: Annotated[dict[str, str] | None, Field(
                            description="Values of the macro's variables, by name.")] = None,
                        dry_run: Annotated[bool, Field(
                            description="Only find every step's text and image on the current "
                            "screen and show where it would act; no input at all.")] = False) -> list[Any]:
        """Run a tracer macro file (see `tracer run`): clicks found by text and image, typing,
        waits and checks, `do:` steps run by the agent. With dry_run, nothing is executed: each
        step says where it would act, with an annotated screenshot."""
        from tracer_cli.macro.load import load, unroll

        try:
            macro = load(Path(path).expanduser())
            steps = unroll(macro, dict(vars or {}))
        except TracerError as exc:
            raise _tool_error(exc) from None
        if dry_run:
            return await self._dry_run(macro.name, steps)
        _refuse_unaskable(ctx, self.settings.confirm)
        confirm = agent_confirm(ctx, self.settings.confirm)
        stop = StopRequest()

        def work() -> dict[str, Any]:
            from tracer_cli.desktop.elements import open_elements
            from tracer_cli.macro.run import Finder, MacroLog, MacroRunner

            with self.desk.acting(stop) as hands:
                screens = Screens(hands.platform.open_screen, hands.actuator.size(), hands.screen)
                log = records.open_log(self.settings, "run", macro.name, MacroLog)
                elements = open_elements(hands.platform)
                runner = MacroRunner(steps, screens, hands.actuator,
                                     Finder(self.settings.ocr, elements), self.settings,
                                     [log, Progress(ctx, len(steps))], confirm, hands.stop,
                                     _SubTask(self.desk, hands, screens, confirm))
                try:
                    return _result(runner.run(macro.name), log.dir)
                finally:
                    elements.close()
                    screens.close()

        return [as_text(await in_thread(work, stop))]

    async def _dry_run(self, title: str, steps: list[Any]) -> list[Any]:
        def work() -> tuple[dict[str, Any], Image.Image | None]:
            from tracer_cli.macro.run import Finder, MacroRunner

            with self.desk.looking() as screen:
                screens = Screens(self.desk.desktop().open_screen, None, screen)
                runner = MacroRunner(steps, screens, None, Finder(self.settings.ocr), self.settings)
                planned, shots = runner.preview()
                screens.close()
            log = records.open_log(self.settings, "run", title)
            for p in planned:
                log.write_step({"step": p.number, "where": str(p.instance.where),
                                "describe": p.instance.describe(), "monitor": p.monitor,
                                "points": [list(x) for x in p.points], "outcome": p.status})
            found = sum(1 for p in planned if p.points)
            log.finish("planned", f"dry run: {found} of {sum(1 for p in planned if p.pointer)} "
                       "targets found on the current screen", steps=len(planned))
            shot = shots.get(self.settings.monitor)
            image = None
            if shot is not None:
                marks = [p.points if p.monitor == self.settings.monitor else [] for p in planned]
                legend = [f"{p.number}. {p.instance.describe()}" for p in planned if p.points]
                image = self.desk.parts.draw_marks(shot, marks, legend[:30])
                log.save_image(image, "preview.png")
            data = {"dry_run": True, "run_id": log.dir.name,
                    "steps": [{"step": p.number, "line": p.instance.where.line,
                               "describe": p.instance.describe(), "on_screen": p.status,
                               "pixels": [list(x) for x in p.points]} for p in planned]}
            return data, image

        data, image = await in_thread(work)
        return [as_text(data)] + ([png(image)] if image is not None else [])

    # -- records -----------------------------------------------------------------------------

    async def logs(self, run_id: Annotated[str, Field(
            description="One run's id (or a unique prefix, or 'last'): its steps. Empty: the "
            "latest runs.")] = "",
                   limit: Annotated[int, Field(
                       ge=1, le=200, description="How many recent runs.")] = 10) -> str:
        """tracer's run records: the latest runs (every tool call of this server makes one), or
        one run step by step. Reading them makes no record."""
        from tracer_cli.agent.runlog import find_run

        if not run_id:
            return as_text(records.recent(limit))
        try:
            return as_text(records.one(find_run(paths.runs_dir(), run_id)))
        except TracerError as exc:
            raise _tool_error(exc) from None


class _SubTask:
    """A macro's `do:` steps, run by the agent on the same hands, with the server's model."""

    def __init__(self, desk: Desk, hands: Any, screens: Screens, confirm: Any) -> None:
        self.desk, self.hands, self.screens, self.confirm = desk, hands, screens, confirm

    def __call__(self, task: str, max_steps: int) -> RunResult:
        from tracer_cli.agent.loop import Agent

        planner, grounder = self.desk.models()
        settings = self.desk.settings.model_copy(update={"max_steps": max_steps})
        log = records.open_log(settings, "do", task)
        agent = Agent(self.screens(settings.monitor), planner, self.hands.actuator, settings,
                      [log], self.confirm, self.hands.stop, grounder)
        return agent.run(task)
