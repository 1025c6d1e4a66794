"""The event stream for scripts: one JSON object per line for each event of a run (start, plan,
speculate, action, step, pause, end), with the fields of the run record, flushed line by line.

A listener of the run loop like the panel and the run record; ``tracer do --events jsonl``
writes it to stdout while the panel stays on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from tracer_cli.agent.runlog import end_fields, pause_fields, resume_fields, start_fields, step_line
from tracer_cli.agent.runloop import Listener, RunResult, StepRecord
from tracer_cli.plan import BaseStep, step_dict
from tracer_cli.redact import redact_data

if TYPE_CHECKING:
    from tracer_cli.agent.planner import Forecast
    from tracer_cli.agent.speculate import Verdict
    from tracer_cli.desktop.screen import Geometry

FORMATS = ("jsonl",)


def _action(step: Any) -> dict[str, Any]:
    """A plan step as the run record writes it; a macro step as its file says it."""
    if isinstance(step, BaseStep):
        return step_dict(step)
    inner = getattr(step, "step", None)
    out: dict[str, Any] = {"describe": step.describe()}
    if inner is not None and hasattr(inner, "model_dump"):
        out["macro"] = inner.model_dump(mode="json", by_alias=True, exclude_none=True,
                                        exclude_defaults=True)
    where = getattr(step, "where", None)
    if where is not None:
        out["where"] = str(where)
    return out


class EventStream(Listener):
    """Writes the run's events to ``stream`` as JSON lines. ``step_fields``: how a step record
    becomes the run record's line (the agent's or a macro's); ``run_dir``: where the run
    record is, so that screenshots are named by their full path."""

    def __init__(self, stream: TextIO, kind: str,
                 step_fields: Callable[[StepRecord], dict[str, Any]] = step_line,
                 run_dir: Path | None = None) -> None:
        self.stream = stream
        self.kind = kind
        self.step_fields = step_fields
        self.run_dir = run_dir
        self.closed = False  # the reader went away: stop writing, let the run go on

    def emit(self, event: str, **fields: Any) -> None:
        if self.closed:
            return
        line = {"event": event, "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                **fields}
        try:
            self.stream.write(json.dumps(redact_data(line), ensure_ascii=False, default=str) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # a closed pipe, or a closed file
            self.closed = True

    def on_start(self, task: str, settings: Any, geometry: Geometry) -> None:
        run = {"run": str(self.run_dir)} if self.run_dir is not None else {}
        self.emit("start", kind=self.kind, task=task, **run, **start_fields(settings, geometry))

    def on_plan(self, number: int, forecast: Forecast) -> None:
        fields: dict[str, Any] = {"step": number, "plan": forecast.plan.to_dict(),
                                  "seconds": round(forecast.seconds, 3),
                                  "attempts": len(forecast.attempts)}
        current = forecast.plan.current_subgoal
        if current is not None:  # a hierarchical plan: the sub-goal its forecast works on
            fields["subgoal"] = {"number": current + 1,
                                 "goal": forecast.plan.subgoals[current].goal}
        if forecast.revision is not None:
            fields["revision"] = {"steps": forecast.revision.steps,
                                  "reason": forecast.revision.reason}
        self.emit("plan", **fields)

    def on_speculate(self, number: int, step: BaseStep, verdict: Verdict) -> None:
        self.emit("speculate", step=number, action=_action(step),
                  check={"status": verdict.status, "reason": verdict.reason})

    def on_action(self, number: int, step: Any, points: list[tuple[int, int]]) -> None:
        self.emit("action", step=number, action=_action(step), points=[list(p) for p in points])

    def on_step(self, record: StepRecord) -> None:
        fields = self.step_fields(record)
        fields.pop("time", None)
        if "screenshot" in fields and self.run_dir is not None:
            fields["screenshot"] = str(self.run_dir / fields["screenshot"])
        self.emit("step", **fields)

    def on_pause(self, number: int, interrupted: str) -> None:
        fields = pause_fields(number, interrupted)
        fields.pop("time", None)
        self.emit("pause", state="paused", **fields)

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        self.emit("pause", state="resumed", step=number, **resume_fields(seconds, note))

    def on_end(self, result: RunResult) -> None:
        self.emit("end", status=result.status, reason=result.reason, exit_code=result.exit_code,
                  **end_fields(result))
