"""A machine that runs batch tasks for a Ray cluster (`tracer node start`): what it needs to run
sandboxes, and the `ray start` command that joins it to a cluster advertising its display slots
(the custom resource tasks ask for, one a sandbox). tracer itself is checked task by task: a
node whose tracer is not the driver's version fails the task with one line."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tracer_cli import __version__
from tracer_cli.batch.cluster import DISPLAY, INSTALL, import_ray
from tracer_cli.desktop import sandbox
from tracer_cli.errors import ConfigError


def check() -> str:
    """What a node needs to run sandboxes, or a one-line error with the fix; the version of
    tracer it runs tasks with."""
    for program in ("Xvfb", "openbox"):
        if not shutil.which(program):
            raise ConfigError(f"this machine cannot run sandboxes: {program} is not installed",
                              f"install it: {sandbox.INSTALL}")
    import_ray()
    return __version__


def ray_program() -> str:
    """The `ray` command of the Python tracer runs on (the one whose workers run the tasks)."""
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.is_file() else shutil.which("ray")
    if not found:
        raise ConfigError("the ray command is not installed beside tracer", f"install it: {INSTALL}")
    return found


def parse_resources(text: str | None) -> dict[str, float]:
    """--resources '{"gpu-box": 1}': more custom resources the node advertises."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--resources is not JSON: {exc.msg}",
                          'give an object, like --resources \'{"gpu-box": 1}\'') from None
    if not isinstance(data, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in data.values()):
        raise ConfigError("--resources must be an object of names and amounts above 0",
                          'like --resources \'{"gpu-box": 1}\'')
    if DISPLAY in data:
        raise ConfigError(f"--resources cannot set {DISPLAY!r}", "give the slots with --displays N")
    return {str(k): float(v) for k, v in data.items()}


def start_argv(displays: int, address: str | None, resources: dict[str, float], *,
               name: str | None = None, port: int | None = None, cpus: int | None = None,
               block: bool = False) -> list[str]:
    """`ray start` for this node: a head when no address is given, else joining the cluster
    there; no dashboard, no usage statistics, no log monitor (it sends workers' output to
    drivers, and a batch's driver reads none: each task's output is in its folder)."""
    argv = [ray_program(), "start"]
    if address:
        argv += ["--address", address]
    else:
        argv += ["--head", "--include-dashboard", "false"]
        if port:
            argv += ["--port", str(port)]
    argv += ["--resources", json.dumps({DISPLAY: displays, **resources}),
             "--disable-usage-stats", "--include-log-monitor", "false"]
    if cpus is not None:
        argv += ["--num-cpus", str(cpus)]
    if name:
        argv += ["--node-name", name]
    if block:
        argv.append("--block")
    return argv
