"""Stopping a run: Ctrl-C (SIGINT) mid-step, --timeout, and the corner fail-safe; each ends with
its exit code and the run record saying how the run ended."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import (
    ClickLog,
    click,
    done,
    last_run,
    move_pointer,
    park_pointer,
    plan,
    tracer_env,
    wait_until,
)

pytestmark = pytest.mark.display


def wait_step(seconds: float) -> dict[str, Any]:
    return {"action": "wait", "seconds": seconds}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_a_long_wait_ends_as_interrupted(display: Display, chat_server: Any,
                                                      background_tracer: Any,
                                                      signum: signal.Signals) -> None:
    chat_server.queue(plan(wait_step(30), done("never")))
    env = tracer_env(display)
    proc = background_tracer("do", "wait for the download", "--yes", "-b", "openai",
                             "--base-url", chat_server.base_url, env=env)
    wait_until(lambda: len(chat_server.requests) >= 1, 30, "tracer to ask the model")
    time.sleep(1.5)  # well inside the 30 s wait step
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=20)

    assert time.monotonic() - sent < 5, "tracer did not stop at once"
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "tracer: stopped: " in stderr
    assert stdout == ""
    record = last_run(env)
    assert record["run"]["status"] == "interrupted"
    assert record["run"]["steps"] == 1
    assert record["steps"][0]["action"] == {"action": "wait", "seconds": 30.0}


def test_timeout_gives_up(display: Display, chat_server: Any) -> None:
    chat_server.queue(*[plan(wait_step(0.4), done("never")) for _ in range(20)])
    env = tracer_env(display)
    started = time.monotonic()
    result = run_tracer("do", "wait for the download", "--yes", "--timeout", "1", "-b", "openai",
                        "--base-url", chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 15
    assert "gave up" in result.stderr
    assert "Traceback" not in result.stderr
    assert 1 <= len(chat_server.requests) < 10
    record = last_run(env)
    assert record["run"]["status"] == "gave_up"
    assert "timeout" in record["run"]["reason"]


def test_pointer_in_a_corner_stops_the_run(display: Display, clicklog: ClickLog,
                                           chat_server: Any, background_tracer: Any) -> None:
    """The user's fail-safe: README says moving the mouse into a corner stops a run, like Ctrl-C,
    and the run record says how it ended."""
    chat_server.queue(plan(wait_step(1.5), click(500, 500, "OK")),
                      plan(click(500, 500, "OK"), done("pressed")),
                      plan(done("pressed")))
    env = tracer_env(display)
    proc = background_tracer("do", "press OK", "--yes", "-b", "openai",
                             "--base-url", chat_server.base_url, env=env)
    wait_until(lambda: len(chat_server.requests) >= 1, 30, "tracer to ask the model")
    move_pointer(display, 0, 0)  # during the wait step
    try:
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        park_pointer(display)  # out of the corner for the tests that follow

    assert clicklog.presses() == []
    assert "Traceback" not in stderr, stderr
    assert proc.returncode == 130, stderr
    assert stdout == ""
    record = last_run(env)
    assert record["run"]["status"] == "interrupted"
    assert "fail-safe" in record["run"]["reason"]


def test_sigint_while_a_run_starts_stops_it_even_when_started_with_sigint_ignored(
        tmp_path: Any) -> None:
    """A script's `tracer do ... &` starts with SIGINT ignored (bash does that), and the run's
    own handler comes only once the run begins: a SIGINT while its sandbox started was lost,
    and the run went on to its end. Now tracer takes SIGINT from its first instant: exit 130
    at once, and the sandbox it was starting is gone."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.e2e.conftest import group_members, sandbox_records, stderr_until

    waits = tmp_path / "waits.jsonl"
    waits.write_text((json.dumps(plan(wait_step(1))) + "\n") * 60, encoding="utf-8")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(TRACER_HOME=str(home), TRACER_SETTLE_QUIET="0.1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracer_cli", "do", "wait a lot", "--sandbox", "--app", "xterm",
         "--backend", "script", "--script", str(waits), "--yes"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        seen = stderr_until(proc, "working in sandbox")  # the run has not begun
        groups = [r["pgid"] for r in sandbox_records(home)]
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Traceback" not in rest
    assert "step 5/" not in rest  # it did not go on waiting step after step
    for pgid in groups:
        wait_until(lambda pgid=pgid: group_members(pgid) == [], 10, "the sandbox's processes")
    assert sandbox_records(home) == []
