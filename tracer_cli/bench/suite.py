"""The bench suite as batch tasks, and its scores: success, model calls and seconds per task and
per step, and the grounding error (pixels from each press to the centre of the widget the task
needed pressed then, as the program measured it)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracer_cli.batch.tasks import BatchTask
from tracer_cli.errors import ConfigError

APP = "{python} -m tracer_cli.bench.programs %s --state {dir}/state.json"
CHECK = "{python} -m tracer_cli.bench.check {dir}/state.json"


def catalogue() -> dict[str, str]:
    """Each program's name and task."""
    from tracer_cli.bench.programs import PROGRAMS

    return {name: cls.task for name, cls in PROGRAMS.items()}


def tasks(names: Sequence[str] | None = None, repeat: int = 1, max_steps: int = 12,
          size: str = "1280x800") -> list[BatchTask]:
    known = catalogue()
    chosen = list(names) if names else list(known)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ConfigError(f"no bench task {unknown[0]!r}",
                          f"choose from: {', '.join(known)} (tracer bench --list)")
    found = []
    for n in range(1, repeat + 1):
        for name in chosen:
            ident = name if repeat == 1 else f"{name}.{n}"
            found.append(BatchTask(ident, known[name], [APP % name], CHECK, max_steps, {}, size))
    return found


def _state(folder: str) -> dict[str, Any]:
    try:
        return json.loads((Path(folder) / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def score(results: Sequence[Any]) -> dict[str, Any]:
    """The bench's numbers from the batch's task results (TaskResult objects)."""
    rows = []
    errors: list[float] = []
    for r in results:
        if r.status == "skipped":
            continue
        state = _state(r.folder)
        presses = state.get("presses", [])
        measured = [p["error"] for p in presses if p.get("error") is not None]
        errors += measured
        rows.append({"task": r.id, "program": state.get("name", r.id.split(".")[0]),
                     "success": r.success, "steps": r.steps, "model_calls": r.model_calls,
                     "seconds": r.seconds, "run_seconds": r.run_seconds,
                     "seconds_per_step": round(r.run_seconds / r.steps, 3) if r.steps else None,
                     "presses": len(presses), "measured_presses": len(measured),
                     "grounding_error_mean": round(statistics.fmean(measured), 1) if measured else None,
                     "grounding_error_max": max(measured) if measured else None})
    n = len(rows)
    steps = sum(r["steps"] for r in rows)
    return {
        "tasks_run": n,
        "success_rate": round(sum(r["success"] for r in rows) / n, 4) if n else 0.0,
        "model_calls_per_task": round(sum(r["model_calls"] for r in rows) / n, 2) if n else 0.0,
        "seconds_per_task": round(sum(r["seconds"] for r in rows) / n, 2) if n else 0.0,
        "run_seconds_per_step": round(sum(r["run_seconds"] for r in rows) / steps, 3) if steps else None,
        "model_calls_per_step": round(sum(r["model_calls"] for r in rows) / steps, 3) if steps else None,
        "grounding_error": _spread(errors),
        "per_task": rows,
    }


def _spread(errors: list[float]) -> dict[str, Any]:
    if not errors:
        return {"presses": 0}
    ordered = sorted(errors)
    return {"presses": len(ordered), "mean": round(statistics.fmean(ordered), 1),
            "median": round(statistics.median(ordered), 1),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
            "max": round(ordered[-1], 1),
            "within_5px": round(sum(e <= 5 for e in ordered) / len(ordered), 3),
            "within_20px": round(sum(e <= 20 for e in ordered) / len(ordered), 3)}
