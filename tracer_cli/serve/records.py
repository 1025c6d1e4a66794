"""A run record for every tool call. `do`, `plan` and `run_macro` make theirs as the command line
does (the agent's and the macro runner's own records); the other tools (screenshot and the
primitives) get a one-step record of kind ``mcp`` here. `tracer logs` lists them all."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracer_cli import paths
from tracer_cli.agent.outcome import Outcome
from tracer_cli.agent.runlog import RunLog, RunSummary, list_runs
from tracer_cli.agent.runloop import RunResult, StepRecord

if TYPE_CHECKING:
    from tracer_cli.config import Settings
    from tracer_cli.desktop.screen import Geometry

KIND = "mcp"


def open_log(settings: Settings, kind: str, task: str, cls: type[RunLog] = RunLog) -> RunLog:
    """A new run record (``cls``: RunLog or a subclass), after the runs_max_mb cap made room,
    as the command line does (what was freed goes to stderr, never to the protocol's stdout)."""
    if settings.runs_max_mb:
        from tracer_cli.agent.retention import prune

        pruned = prune(paths.runs_dir(), max_bytes=settings.runs_max_mb << 20)
        if pruned.removed:
            print(f"tracer mcp: run records over the {settings.runs_max_mb} MB cap (setting "
                  f"runs_max_mb): {pruned}", file=sys.stderr, flush=True)
    return cls(paths.runs_dir(), kind, task)


class CallRecord:
    """The record of one tool call: made when the call starts, finished however it ends."""

    def __init__(self, title: str, settings: Settings, geometry: Geometry | None) -> None:
        self.log = open_log(settings, KIND, title)
        self.title = title
        if geometry is not None:
            self.log.on_start(title, settings, geometry)
        self.step = StepRecord(1)

    @property
    def id(self) -> str:
        return self.log.dir.name

    def finish(self, status: str, reason: str = "", outcome: Outcome | None = None) -> None:
        self.step.outcome = outcome or Outcome("ok" if status == "done" else status, reason)
        self.log.on_step(self.step)
        self.log.on_end(RunResult(status, reason, steps=1))


def summary(run: RunSummary) -> dict[str, Any]:
    meta = run.meta
    return {"id": run.id, "kind": meta.get("kind"), "task": meta.get("task"),
            "status": run.status, "reason": meta.get("reason", ""),
            "answer": meta.get("answer", ""), "started": meta.get("started"),
            "steps": meta.get("steps", len(run.steps()))}


def recent(limit: int) -> list[dict[str, Any]]:
    return [summary(r) for r in list_runs(paths.runs_dir())[-limit:]][::-1]


def one(run: RunSummary) -> dict[str, Any]:
    """A run and its steps as JSON (screenshots named, not included)."""
    return {"run": {**run.meta, "status": run.status}, "steps": run.steps(),
            "directory": str(run.path)}
