"""A test-only expert planner for the bench: it reads the state each bench program reports (the
step that moves its task on, with the true pixel centre of the widget) and answers that step as
a plan in the tracer1 profile's 0-1000 coordinates. Served over the OpenAI API by ChatServer.

It finds the task by its text in the request; each task's state file is
OUT/<task id>/state.json (the batch's --out folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.chat_server import request_text


class Expert:
    def __init__(self, out: Path, tasks: dict[str, str]) -> None:
        self.out = out
        self.tasks = tasks  # task text -> task id (each text once)
        self.calls: dict[str, int] = {}

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        text = request_text(body)
        found = [(len(t), i) for t, i in self.tasks.items() if t in text]
        if not found:
            return {"thought": "", "trajectory": [{"action": "fail", "reason": "unknown task"}]}
        ident = max(found)[1]
        self.calls[ident] = self.calls.get(ident, 0) + 1
        try:
            state = json.loads((self.folder(ident) / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {"thought": "", "trajectory": [{"action": "wait", "seconds": 0.5}]}
        if state.get("done"):
            return {"thought": "", "trajectory": [{"action": "done", "answer": "done"}]}
        step = state.get("next")
        if not step:
            return {"thought": "", "trajectory": [{"action": "wait", "seconds": 0.5}]}
        return {"thought": "", "trajectory": [to_model(self.aim(ident, step), state["screen"])]}

    def aim(self, ident: str, step: dict[str, Any]) -> dict[str, Any]:
        """The step as this expert answers it (exactly: a benchmark's planner may point off)."""
        return step

    def folder(self, ident: str) -> Path:
        """Where the task's program writes its state (on a cluster, a node's own folder)."""
        return self.out / ident


def to_model(step: dict[str, Any], screen: list[int]) -> dict[str, Any]:
    """A step in screen pixels -> the same in 0-1000 coordinates of the screen."""
    width, height = screen

    def mx(x: float) -> float:
        return round(x * 1000 / width, 2)

    def my(y: float) -> float:
        return round(y * 1000 / height, 2)

    step = dict(step)
    step.pop("size", None)  # the widget's size, for a planner that points off its centre
    if step["action"] in ("drag", "scroll"):
        step.pop("target", None)
    for key, scale in (("x", mx), ("x2", mx), ("y", my), ("y2", my)):
        if key in step:
            step[key] = scale(step[key])
    return step
