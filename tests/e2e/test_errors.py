"""Errors a user can act on: one line, the right exit code, no traceback."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import tracer_env

pytestmark = pytest.mark.display


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["do", "plan"])
def test_unreachable_server_is_one_clear_line(display: Display, command: str) -> None:
    url = closed_port_url()
    args = [command, "open the settings", "--base-url", url]
    if command == "do":
        args.append("--yes")
    result = run_tracer(*args, env=tracer_env(display), timeout=60)

    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert url in result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    assert lines(result.stderr)[0].startswith("tracer: error:")


@pytest.mark.parametrize("command", ["do", "plan"])
def test_missing_monitor_is_a_usage_error(display: Display, chat_server: Any,
                                          command: str) -> None:
    args = [command, "open the settings", "--base-url", chat_server.base_url, "--monitor", "9"]
    if command == "do":
        args.append("--yes")
    result = run_tracer(*args, env=tracer_env(display), timeout=60)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines(result.stderr)) == 1, result.stderr
    assert "monitor 9" in result.stderr
    assert f"{display.width}x{display.height}" in result.stderr  # the monitors there are
    assert chat_server.requests == []  # no model call before the screen is known


def test_a_run_with_no_valid_plan_ends_with_one_status_line(display: Display,
                                                            chat_server: Any) -> None:
    """A failed `do` says how it ended and why on one line however long, followed only by where
    its record is and the command that shows it."""
    chat_server.queue("no plan here", "still none", '{"thought": "", "trajectory": []}')
    result = run_tracer("do", "open the settings", "--yes", "--base-url", chat_server.base_url,
                        env=tracer_env(display), timeout=60)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    *_, last, record, report = lines(result.stderr)
    assert record.startswith("run record: ") and report.startswith("report: tracer logs report ")
    assert last.startswith("tracer: error: the model gave no valid plan in 3 attempts"), \
        result.stderr
    assert last.endswith("List should have at least 1 item after validation, not 0"), result.stderr


@pytest.mark.parametrize("command", ["do", "plan"])
def test_a_bad_grounder_is_one_line_and_leaves_no_run_record(display: Display, command: str,
                                                             tmp_path: Any) -> None:
    """The grounder is made before the run record: a grounder that cannot load leaves no run
    behind that looks "cut off"."""
    script = tmp_path / "plan.jsonl"
    script.write_text('{"thought": "t", "trajectory": [{"action": "done"}]}\n', encoding="utf-8")
    env = tracer_env(display)
    args = [command, "press OK", "-b", "script", "--script", str(script),
            "--grounder", str(tmp_path / "missing.gguf"), "--grounder-mmproj", str(tmp_path / "mm.gguf")]
    result = run_tracer(*args, *(["--yes"] if command == "do" else []), env=env, timeout=60)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in lines(result.stderr) if line.startswith("tracer: error:")] == [
        lines(result.stderr)[-1]]
    assert "missing.gguf" in result.stderr
    listed = run_tracer("logs", "--json", env=env, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []  # no run recorded
