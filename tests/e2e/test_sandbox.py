"""Sandbox desktops on Xvfb: tracer acts in a private display while the user's display (another
Xvfb) keeps its pointer and gets no input; --watch shows it with Xephyr; a sandbox that dies
ends the run with one line; no process is left behind (checked by PID)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import APPS, Display, run_tracer
from tests.e2e.conftest import (
    ClickLog,
    alive,
    group_members,
    pointer,
    sandbox_records,
    start_tracer,
    tracer_env,
    wait_until,
)

pytestmark = pytest.mark.display


def _script(path: Path, *plans: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in plans))
    return path


def test_a_run_in_a_sandbox_leaves_the_users_display_alone(
        display: Display, clicklog: ClickLog, tmp_path: Path, tracer_home: Path) -> None:
    before = pointer(display)
    inside = tmp_path / "inside.jsonl"
    click = {"action": "click", "x": 250, "y": 500, "target": "left"}
    script = _script(tmp_path / "plans.jsonl", {"thought": "", "trajectory": [click]},
                     {"thought": "", "trajectory": [{"action": "type", "text": "hi"}]},
                     {"thought": "", "trajectory": [{"action": "done", "answer": "clicked"}]})
    env = tracer_env(display)
    result = run_tracer("do", "click the left side", "--sandbox", "--app",
                        f"{sys.executable} {APPS / 'clicklog.py'} {inside}", "--backend", "script",
                        "--script", str(script), "--yes", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clicked"
    assert "kill switch armed" in result.stderr  # listening on the user's display
    assert "xauthority" not in (result.stdout + result.stderr).lower()
    # the program in the sandbox got the click (at 25% of 1280x800) and the keys
    events = [json.loads(line) for line in inside.read_text().splitlines()]
    presses = [e for e in events if e["event"] == "press"]
    assert [(p["x"], p["y"]) for p in presses] == [(320, 400)]
    assert "".join(e["char"] for e in events if e["event"] == "key") == "hi"
    # the user's display: the pointer did not move, its program got nothing
    assert pointer(display) == before
    assert clicklog.presses() == [] and clicklog.keys() == []
    # the sandbox is gone with all its processes
    assert sandbox_records(tracer_home) == []
    xvfb = [int(line.split()[0]) for line in subprocess.run(
        ["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines()
        if str(inside) in line]
    assert xvfb == []  # the program that ran in it has ended


def test_a_sandbox_that_dies_ends_the_run_with_one_line(
        display: Display, tmp_path: Path, tracer_home: Path) -> None:
    waits = [{"thought": "", "trajectory": [{"action": "wait", "seconds": 1}]}] * 60
    script = _script(tmp_path / "plans.jsonl", *waits)
    env = tracer_env(display)
    proc = start_tracer("do", "wait a lot", "--sandbox", "--app", "xterm", "--backend", "script",
                        "--script", str(script), "--yes", env=env)
    try:
        wait_until(lambda: len(sandbox_records(tracer_home)) == 1 and
                   (Path(env["TRACER_HOME"]) / "runs").is_dir(), 120, "the sandbox and the run")
        record = sandbox_records(tracer_home)[0]
        members = group_members(record["pgid"])
        assert len(members) >= 3  # Xvfb, openbox, xterm
        os.kill(record["pgid"], signal.SIGKILL)  # the X server dies
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "Xlib" not in stderr
    ended = f"the sandbox {record['name']} ({record['display']}) ended"
    assert [line for line in stderr.splitlines() if "ended" in line or "rror" in line] == [
        f"tracer: error: {ended}"] or [f"tracer: stopped: {ended}"]
    wait_until(lambda: not group_members(record["pgid"]), 15, "the sandbox's programs to end")
    assert not any(alive(pid) for pid in members)
    assert sandbox_records(tracer_home) == []


def test_sandbox_commands_start_list_exec_stop(display: Display, tracer_home: Path) -> None:
    env = tracer_env(display)
    started = run_tracer("sandbox", "start", "--size", "800x600", "--app", "xterm -T one",
                         "--json", env=env, timeout=120)
    assert started.returncode == 0, started.stderr
    box = json.loads(started.stdout)
    try:
        listed = json.loads(run_tracer("sandbox", "list", "--json", env=env).stdout)
        assert [(b["name"], b["display"], b["size"]) for b in listed] == [
            (box["name"], box["display"], "800x600")]
        pgid = listed[0]["pid"]
        groups = listed[0]["groups"]  # a named sandbox has its own session: the apps' groups too
        assert groups[0] == pgid and len(groups) == 3  # Xvfb; openbox; xterm
        ran = run_tracer("sandbox", "exec", box["name"], "--", "xdotool", "search", "--name",
                         "^one$", env=env)
        assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr
        missing = run_tracer("sandbox", "exec", box["name"], "xdotool", "search", "--name",
                             "^nothing$", env=env)
        assert missing.returncode == 1  # its exit code passes through
        # the sandbox is private: without its cookie a client is refused
        refused = subprocess.run(["xdotool", "getmouselocation"], capture_output=True, text=True,
                                 env={**os.environ, "DISPLAY": box["display"], "XAUTHORITY": "/nonexistent"})
        assert refused.returncode != 0
    finally:
        stopped = run_tracer("sandbox", "stop", box["name"], env=env)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: not any(group_members(g) for g in groups), 15, "the sandbox to end")
    assert json.loads(run_tracer("sandbox", "list", "--json", env=env).stdout) == []
    bad = run_tracer("sandbox", "stop", "nope", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no sandbox named" in bad.stderr
    size = run_tracer("sandbox", "start", "--size", "big", env=env)
    assert size.returncode == 2 and "--size 1280x800" in size.stderr


def test_watch_shows_the_sandbox_in_a_window_on_the_users_display(
        display: Display, clicklog: ClickLog, tmp_path: Path, tracer_home: Path) -> None:
    env = tracer_env(display)
    before = pointer(display)
    inside = tmp_path / "inside.jsonl"
    started = run_tracer("sandbox", "start", "--watch", "--size", "640x400", "--app",
                         f"{sys.executable} {APPS / 'clicklog.py'} {inside}", "--json", env=env,
                         timeout=120)
    assert started.returncode == 0, started.stderr
    box = json.loads(started.stdout)
    try:
        # the Xephyr window is on the user's display, the program inside the sandbox only
        wait_until(lambda: subprocess.run(
            ["xdotool", "search", "--name", f"tracer sandbox {box['name']}"], env=display.env(),
            capture_output=True).returncode == 0, 30, "the Xephyr window")
        assert subprocess.run(["xdotool", "search", "--name", "^clicklog$"], env=display.env(),
                              capture_output=True).returncode == 0  # the user's own clicklog
        wait_until(lambda: inside.exists() and "ready" in inside.read_text(), 30,
                   "the program in the sandbox")
        # tracer acts in it by its display (the sandbox's cookie is found by itself)
        click = {"action": "click", "x": 250, "y": 500, "target": "left"}
        script = _script(tmp_path / "plans.jsonl", {"thought": "", "trajectory": [click]},
                         {"thought": "", "trajectory": [{"action": "done", "answer": "ok"}]})
        ran = run_tracer("do", "click", "--display", box["display"], "--backend", "script",
                         "--script", str(script), "--yes", env=env, timeout=120)
        assert ran.returncode == 0, ran.stderr
        assert "kill switch armed" in ran.stderr  # on the user's display
        presses = [json.loads(line) for line in inside.read_text().splitlines()]
        assert [(p["x"], p["y"]) for p in presses if p["event"] == "press"] == [(160, 200)]
        assert pointer(display) == before
        assert clicklog.presses() == [] and clicklog.keys() == []
    finally:
        assert run_tracer("sandbox", "stop", box["name"], env=env).returncode == 0
    assert subprocess.run(["xdotool", "search", "--name", f"tracer sandbox {box['name']}"],
                          env=display.env(), capture_output=True).returncode == 1


def test_the_kill_hotkey_on_the_users_display_stops_a_run_in_a_sandbox(
        display: Display, tmp_path: Path, tracer_home: Path) -> None:
    waits = [{"thought": "", "trajectory": [{"action": "wait", "seconds": 1}]}] * 60
    script = _script(tmp_path / "plans.jsonl", *waits)
    env = tracer_env(display)
    proc = start_tracer("do", "wait a lot", "--sandbox", "--backend", "script", "--script",
                        str(script), "--yes", env=env)
    try:
        wait_until(lambda: (tracer_home / "runs").is_dir() and any(
            (p / "steps.jsonl").is_file() and (p / "steps.jsonl").read_text().strip()
            for p in (tracer_home / "runs").iterdir()), 120, "the run's first step")
        record = sandbox_records(tracer_home)[0]
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+k"], env=display.env(), check=True,
                       timeout=10)  # on the user's display, not the sandbox's
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "stopped by the kill switch (ctrl+alt+shift+k)" in stderr
    wait_until(lambda: not group_members(record["pgid"]), 15, "the sandbox to end")
    assert sandbox_records(tracer_home) == []


def test_bad_sandbox_runs_are_one_line_errors(display: Display, tracer_home: Path) -> None:
    env = tracer_env(display)
    missing = run_tracer("do", "x", "--app", "no-such-program --flag", "--backend", "script",
                         "--script", "x.jsonl", env=env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "program 'no-such-program' not found" in missing.stderr
    both = run_tracer("do", "x", "--sandbox", "--display", display.name, "--backend", "script",
                      "--script", "x.jsonl", env=env)
    assert both.returncode == 2 and "--sandbox and --display" in both.stderr
    quoting = run_tracer("do", "x", "--app", "xterm -T 'open", env=env)
    assert quoting.returncode == 2 and "cannot read the command" in quoting.stderr
    assert sandbox_records(tracer_home) == []


def test_a_sandboxed_run_needs_no_display_of_the_users(tmp_path: Path, tracer_home: Path) -> None:
    script = _script(tmp_path / "plans.jsonl", {"thought": "", "trajectory": [
        {"action": "done", "answer": "fine"}]})
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = run_tracer("do", "nothing", "--sandbox", "--backend", "script", "--script",
                        str(script), "--yes", env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fine"
    assert "Ctrl-C stops the run" in result.stderr


def test_a_temporary_sandbox_dies_with_a_tracer_killed_outright(
        display: Display, tmp_path: Path, tracer_home: Path) -> None:
    waits = [{"thought": "", "trajectory": [{"action": "wait", "seconds": 1}]}] * 60
    script = _script(tmp_path / "plans.jsonl", *waits)
    proc = start_tracer("do", "wait a lot", "--sandbox", "--app", "xterm", "--backend", "script",
                        "--script", str(script), "--yes", env=tracer_env(display))
    try:
        wait_until(lambda: len(sandbox_records(tracer_home)) == 1 and
                   (tracer_home / "runs").is_dir(), 120, "the sandbox and the run")
        record = sandbox_records(tracer_home)[0]
        members = group_members(record["pgid"])
        assert len(members) >= 3
        proc.kill()  # SIGKILL: no clean-up code of tracer's runs
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    wait_until(lambda: not any(alive(pid) for pid in members), 30, "the sandbox's processes to end")
    listed = run_tracer("sandbox", "list", "--json", env=tracer_env(display))
    assert json.loads(listed.stdout) == []  # its stale record is cleared
    assert sandbox_records(tracer_home) == []
