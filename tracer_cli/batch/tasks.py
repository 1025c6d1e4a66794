"""The batch file: JSON Lines, one task per line.

    {"task": "tick the box", "apps": ["{python} -m tracer_cli.bench.apps checkbox --state {dir}/state.json"],
     "check": "{python} -m tracer_cli.bench.check {dir}/state.json", "max_steps": 10,
     "options": {"model": "qwen3-vl-4b", "replan": "always"}, "id": "checkbox", "size": "1280x800"}

``task`` is required. ``apps`` are started in the task's sandbox first; ``check`` runs in it after
the run, and the task succeeded when it exits 0 (without one: when tracer exited 0).
``options`` are `tracer do` options by name (without the dashes). In ``apps`` and ``check``,
``{dir}`` is the task's own folder in the batch's output and ``{python}`` this Python.
``resources`` are what the task needs of a cluster node besides a display (``--ray`` only).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracer_cli.errors import ConfigError

KEYS = {"id", "task", "apps", "check", "max_steps", "options", "resources", "size", "timeout"}
FIX = "see the batch file format in the README (`tracer batch --help`)"


@dataclass
class BatchTask:
    id: str
    task: str
    apps: list[str] = field(default_factory=list)
    check: str | None = None
    max_steps: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    size: str = "1280x800"
    timeout: float | None = None
    # What the task needs of a cluster node besides a display slot (`tracer batch --ray`), as
    # Ray custom resources: {"gpu-box": 1}. A batch on this machine has no use for them.
    resources: dict[str, float] = field(default_factory=dict)


def load(path: Path, allowed_options: Iterable[str]) -> list[BatchTask]:
    """Read and check a batch file; errors say file:line and what to fix."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the batch file {path}: {exc.strerror or exc}",
                          "give a JSON Lines file, one task per line") from None
    allowed = set(allowed_options)
    tasks: list[BatchTask] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not JSON: {exc.msg}", FIX) from None
        tasks.append(parse(data, where, allowed, default_id=f"task{len(tasks) + 1}"))
    if not tasks:
        raise ConfigError(f"{path} holds no tasks", "write one JSON object per line, e.g. "
                          '{"task": "open the settings"}')
    ids = [t.id for t in tasks]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ConfigError(f"{path}: task id {twice[0]!r} is used twice", "give each task its own id")
    return tasks


def parse(data: Any, where: str, allowed: set[str], default_id: str) -> BatchTask:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a task is a JSON object", FIX)
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}", f"the keys are {', '.join(sorted(KEYS))}")
    task = data.get("task")
    if not isinstance(task, str) or not task.strip():
        raise ConfigError(f"{where}: \"task\" must be the task's text", FIX)
    apps = data.get("apps", [])
    if isinstance(apps, str):
        apps = [apps]
    if not isinstance(apps, list) or not all(isinstance(a, str) and a.strip() for a in apps):
        raise ConfigError(f"{where}: \"apps\" must be a list of command lines", FIX)
    check = data.get("check")
    if check is not None and (not isinstance(check, str) or not check.strip()):
        raise ConfigError(f"{where}: \"check\" must be a command line", FIX)
    max_steps = data.get("max_steps")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool)
                                  or max_steps < 1):
        raise ConfigError(f"{where}: \"max_steps\" must be a whole number from 1", FIX)
    timeout = data.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise ConfigError(f"{where}: \"timeout\" must be seconds above 0", FIX)
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: \"options\" must be an object of tracer do options", FIX)
    for name, value in options.items():
        if name.replace("-", "_") not in allowed:
            raise ConfigError(f"{where}: unknown option {name!r}",
                              f"the options are {', '.join(sorted(allowed))}")
        if not isinstance(value, str | int | float | bool) or value is None:
            raise ConfigError(f"{where}: option {name!r} must be a string, number or boolean", FIX)
    ident = data.get("id", default_id)
    if not isinstance(ident, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", ident):
        raise ConfigError(f"{where}: \"id\" must be letters, digits, '.', '_' or '-'", FIX)
    size = data.get("size", "1280x800")
    if not isinstance(size, str) or not re.fullmatch(r"\d+x\d+", size):
        raise ConfigError(f"{where}: \"size\" must be WIDTHxHEIGHT, like 1280x800", FIX)
    resources = data.get("resources", {})
    if not isinstance(resources, dict) or not all(
            isinstance(k, str) and k and isinstance(v, int | float) and not isinstance(v, bool)
            and v > 0 for k, v in resources.items()):
        raise ConfigError(f"{where}: \"resources\" must be an object of names and amounts above 0, "
                          'like {"gpu-box": 1}', FIX)
    return BatchTask(ident, task, list(apps), check, max_steps,
                     {k.replace("-", "_"): v for k, v in options.items()}, size,
                     float(timeout) if timeout is not None else None,
                     {k: float(v) for k, v in resources.items()})


def option_args(options: dict[str, Any]) -> list[str]:
    """`tracer do` arguments for options by name: {"max_tokens": 64, "grammar": False} ->
    ["--max-tokens", "64", "--no-grammar"]."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{name.replace('_', '-')}")
        else:
            args += [flag, str(value)]
    return args
