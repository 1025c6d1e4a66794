"""The `tracer` command as a user runs it: exit codes, one-line errors, no stray imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Display, run_tracer
from tracer_cli import __version__


def no_display_env(**extra: str) -> dict[str, str]:
    """No desktop: the display variables set empty (absent, tracer would look for the user's
    session by its sockets, and find whichever one a test has running)."""
    env = {**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    env.update(extra)
    return env


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plans.jsonl"
    path.write_text(json.dumps({"thought": "nothing to do", "trajectory": [
        {"action": "done", "answer": "it is 42"}]}) + "\n", encoding="utf-8")
    return path


def test_help_without_display() -> None:
    proc = run_tracer("--help", env=no_display_env())
    assert proc.returncode == 0, proc.stderr
    for command in ("do", "plan", "logs", "config"):
        assert f" {command} " in proc.stdout
    assert proc.stderr == ""


def test_no_arguments_shows_help() -> None:
    proc = run_tracer(env=no_display_env())
    assert proc.returncode == 2
    assert "Usage" in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", ["do", "plan", "logs", "config"])
def test_command_help(command: str) -> None:
    proc = run_tracer(command, "--help", env=no_display_env())
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout


@pytest.mark.parametrize("command", ["do", "plan", "run"])
def test_command_help_fits_a_screen_in_panels(command: str) -> None:
    """At 100 columns `tracer do --help` and its siblings fit in 60 lines: the options are
    grouped into panels, each on one line where it can be."""
    proc = run_tracer(command, "--help", env={**no_display_env(), "COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.rstrip().splitlines()
    assert len(lines) <= 60, proc.stdout
    for panel in ("Model", "Screen", "Local model (llama)"):
        assert f"─ {panel} ─" in proc.stdout
    if command != "plan":
        assert "─ Safety ─" in proc.stdout


IMPORT_CHECK = """
import sys
from typer.testing import CliRunner
from tracer_cli.cli.app import app

runner = CliRunner()
for args in (["--help"], ["do", "--help"], ["plan", "--help"], ["config", "--json"], ["logs"],
             ["--version"], ["mcp", "--help"]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
print(sorted(m for m in ("mss", "pyautogui", "llama_cpp", "openai", "pynput", "mcp", "uvicorn",
                         "starlette", "jeepney", "pywayland") if m in sys.modules))
"""


def test_cli_imports_no_heavy_module() -> None:
    proc = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True,
                          timeout=60, env=no_display_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_version() -> None:
    proc = run_tracer("--version", env=no_display_env())
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"tracer {__version__}"


@pytest.mark.parametrize("command", ["do", "plan"])
def test_no_display_is_one_line_exit_2(command: str, plan_file: Path) -> None:
    proc = run_tracer(command, "x", "--yes" if command == "do" else "--json", "-b", "script",
                      "--script", str(plan_file), env=no_display_env(COLUMNS="40"))
    assert proc.returncode == 2
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "DISPLAY" in proc.stderr
    assert proc.stderr.startswith("tracer: error: no display")
    assert proc.stdout == ""


def test_do_without_display_default_backend() -> None:
    proc = run_tracer("do", "x", env=no_display_env())
    assert proc.returncode == 2
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "DISPLAY" in proc.stderr


def test_debug_shows_the_traceback() -> None:
    proc = run_tracer("--debug", "do", "x", env=no_display_env())
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "DisplayError" in proc.stderr


def test_bad_horizon_is_a_usage_error(plan_file: Path) -> None:
    proc = run_tracer("do", "x", "--horizon", "0", "-b", "script", "--script", str(plan_file),
                      env=no_display_env())
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "horizon=0" in proc.stderr
    assert "greater than or equal to 1" in proc.stderr


def test_non_number_flag_is_a_usage_error() -> None:
    proc = run_tracer("do", "x", "--max-steps", "many", env=no_display_env())
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--max-steps" in proc.stderr


def test_bad_environment_value_is_a_usage_error() -> None:
    proc = run_tracer("do", "x", env=no_display_env(TRACER_HORIZON="abc"))
    assert proc.returncode == 2
    assert "TRACER_HORIZON='abc'" in proc.stderr
    assert len(lines(proc.stderr)) == 1, proc.stderr


@pytest.mark.display
@pytest.mark.parametrize("command", ["do", "plan"])
def test_unknown_backend(display: Display, command: str) -> None:
    proc = run_tracer(command, "x", "--yes" if command == "do" else "--json", "-b", "nosuch")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "unknown backend 'nosuch'" in proc.stderr
    assert "openai" in proc.stderr and "script" in proc.stderr


@pytest.mark.display
def test_missing_monitor(display: Display, plan_file: Path) -> None:
    proc = run_tracer("plan", "x", "--monitor", "7", "-b", "script", "--script", str(plan_file))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "monitor 7 does not exist" in proc.stderr
    assert "1: 1280x800+0+0" in proc.stderr


@pytest.mark.display
def test_confirm_always_needs_a_terminal(display: Display, plan_file: Path,
                                         tracer_home: Path) -> None:
    proc = run_tracer("do", "x", "-b", "script", "--script", str(plan_file), "--confirm", "always",
                      input="y\n")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "standard input is not a terminal" in proc.stderr
    assert "--yes" in proc.stderr
    assert not (tracer_home / "runs").exists() or not any((tracer_home / "runs").iterdir())


@pytest.mark.display
def test_do_with_a_script_to_done(display: Display, plan_file: Path, tracer_home: Path) -> None:
    proc = run_tracer("do", "what is the answer", "--yes", "-b", "script", "--script",
                      str(plan_file), env={**os.environ, "TRACER_SETTLE_QUIET": "0"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "it is 42"
    (run_dir,) = (tracer_home / "runs").iterdir()
    assert f"run record: {run_dir}" in proc.stderr
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "done" and meta["answer"] == "it is 42"

    logs = run_tracer("logs", "last", "--json")
    assert logs.returncode == 0, logs.stderr
    data = json.loads(logs.stdout)
    assert data["run"]["status"] == "done"
    assert data["steps"][0]["action"] == {"action": "done", "answer": "it is 42"}

    listing = run_tracer("logs", "--json")
    assert [r["id"] for r in json.loads(listing.stdout)] == [run_dir.name]
    path = run_tracer("logs", run_dir.name[:15], "--path")
    assert path.stdout.strip() == str(run_dir)


@pytest.mark.display
def test_do_that_fails_exits_1(display: Display, tmp_path: Path) -> None:
    plans = tmp_path / "fail.jsonl"
    plans.write_text(json.dumps({"trajectory": [{"action": "fail", "reason": "no browser"}]}) + "\n",
                     encoding="utf-8")
    proc = run_tracer("do", "x", "--yes", "-b", "script", "--script", str(plans))
    assert proc.returncode == 1, proc.stderr
    *_, failed, record, report = lines(proc.stderr)
    assert failed == "tracer: failed: no browser"
    assert record.startswith("run record: ") and report.startswith("report: tracer logs report ")


@pytest.mark.display
def test_plan_json_and_preview(display: Display, tmp_path: Path, tracer_home: Path) -> None:
    plans = tmp_path / "plan.jsonl"
    plan = {"thought": "the menu", "trajectory": [
        {"action": "click", "x": 100, "y": 50, "target": "Menu"},
        {"action": "type", "text": "hi"}]}
    plans.write_text(json.dumps(plan) + "\n", encoding="utf-8")
    out = tmp_path / "preview.png"
    proc = run_tracer("plan", "open the menu", "--json", "-b", "script", "--script", str(plans),
                      "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == plan
    assert out.read_bytes().startswith(b"\x89PNG")
    (run_dir,) = (tracer_home / "runs").iterdir()
    assert (run_dir / "preview.png").exists()
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["status"] == "planned"


def test_logs_unknown_run() -> None:
    proc = run_tracer("logs", "nosuchrun", env=no_display_env())
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(lines(proc.stderr)) == 1, proc.stderr
    assert "no runs recorded" in proc.stderr


def test_logs_unknown_run_among_others(tracer_home: Path) -> None:
    run = tracer_home / "runs" / "20260101-000000-do-x"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"id": run.name, "status": "done", "task": "x"}),
                                  encoding="utf-8")
    proc = run_tracer("logs", "nosuchrun", env=no_display_env())
    assert proc.returncode == 2
    assert "no run 'nosuchrun'" in proc.stderr
    listing = run_tracer("logs", env=no_display_env(COLUMNS="200"))
    assert listing.returncode == 0
    assert run.name in listing.stdout and "done" in listing.stdout


def test_logs_without_runs() -> None:
    proc = run_tracer("logs", env=no_display_env())
    assert proc.returncode == 0
    assert "no runs yet" in proc.stderr


def test_logs_lists_newest_first_with_whole_ids_at_80_columns(tracer_home: Path) -> None:
    """What a user copies is the id: whole at 80 columns; newest first, with when it started and
    how long it took; the MCP server's one-call records are left out unless asked for."""
    runs = tracer_home / "runs"
    made = []
    for n, kind in enumerate(["do", "mcp", "run", "do", "mcp"]):
        run = runs / f"2026120{n + 1}-101500-{kind}-fill-in-the-long-registration-form-of-the"
        run.mkdir(parents=True)
        (run / "run.json").write_text(json.dumps({
            "id": run.name, "kind": kind, "status": "done", "task": "fill in the long form " * 5,
            "started": f"2026-12-0{n + 1}T10:15:00+00:00", "seconds": 75.5, "steps": 3}),
            encoding="utf-8")
        made.append(run.name)
    listing = run_tracer("logs", env=no_display_env(COLUMNS="80"))
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines() if line.startswith(" 2026")]
    ids = [row.split()[0] for row in rows]
    assert ids == [made[3], made[2], made[0]]  # newest first, MCP calls left out
    assert all(len(row) <= 80 for row in listing.stdout.splitlines())
    assert all(len(row) <= 80 for row in rows)  # ids of 60 characters and more, whole
    assert "2 MCP tool calls (--kind mcp)" in listing.stderr

    limited = run_tracer("logs", "--limit", "1", env=no_display_env(COLUMNS="80"))
    assert [line.split()[0] for line in limited.stdout.splitlines()
            if line.startswith(" 2026")] == [made[3]]
    assert "2 older (--limit 0 shows all)" in limited.stderr
    mcp = run_tracer("logs", "--kind", "mcp", "--json", env=no_display_env())
    assert [r["id"] for r in json.loads(mcp.stdout)] == [made[4], made[1]]


HELP_WALK = """
import contextlib, io, json, sys
import typer
from tracer_cli.cli.app import _tidy_help, app

root = typer.main.get_command(app)
_tidy_help(root)
pages = {}

def walk(command, path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        root.main([*path, "--help"], prog_name="tracer")
    pages[" ".join(["tracer", *path])] = out.getvalue()
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            walk(sub, [*path, name])

walk(root, [])
print(json.dumps(pages))
"""


def test_every_help_page_reads_as_the_user_types_it() -> None:
    """Every command's --help at 80 columns: its usage line names required arguments as they
    are typed (TASK, not typer's {task}), and no flag shows a <bool> value it does not take
    (--help included)."""
    proc = subprocess.run([sys.executable, "-c", HELP_WALK], capture_output=True, text=True,
                          env={**no_display_env(), "COLUMNS": "80"}, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    pages = json.loads(proc.stdout)
    assert len(pages) > 30 and "tracer do" in pages and "tracer logs export-macro" in pages
    assert "Usage: tracer do [OPTIONS] TASK" in pages["tracer do"]
    for name, page in pages.items():
        usage = next(line for line in page.splitlines() if "Usage:" in line)
        assert "{" not in usage, (name, usage)
        assert "<bool>" not in page, name
        assert all(len(line) <= 80 for line in page.splitlines()), name
