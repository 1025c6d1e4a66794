"""`tracer batch` and `tracer bench` on real sandboxes (Xvfb + openbox) with the real bench
programs, driven over the OpenAI API by a test-only expert planner (tests/expert.py) that reads
where each program's next widget is; and `tracer bench` with the tiny test GGUF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat_server import ChatServer
from tests.conftest import ROOT, Display, run_tracer
from tests.e2e.conftest import group_members, sandbox_records, stderr_until, wait_until
from tests.expert import Expert
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.bench import suite

pytestmark = pytest.mark.display

EIGHT = ["button", "checkbox", "radio", "entry", "menu", "dialog", "list", "toggle"]


def batch_env(tracer_home: Path) -> dict[str, str]:
    """No DISPLAY at all: batch and bench need only their sandboxes."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return {**env, "TRACER_HOME": str(tracer_home), "TRACER_SETTLE_QUIET": "0.1",
            "TRACER_SETTLE_TIMEOUT": "2"}


@pytest.fixture
def expert(tmp_path: Path) -> Iterator[tuple[ChatServer, Path]]:
    """The expert over the OpenAI API, for the batch written to the folder it returns."""
    server = ChatServer().start()
    out = tmp_path / "out"
    server.responder = Expert(out, {t.task: t.id for t in suite.tasks()})
    try:
        yield server, out
    finally:
        server.stop()


def expert_args(server: ChatServer) -> list[str]:
    return ["--backend", "openai", "--base-url", server.base_url, "--model", "test-vlm",
            "--replan", "always"]


def write_batch(path: Path, names: list[str], **extra: Any) -> Path:
    lines = []
    for task in suite.tasks(names):
        lines.append(json.dumps({"id": task.id, "task": task.task, "apps": task.apps,
                                 "check": task.check, "max_steps": task.max_steps, **extra}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eight_tasks_four_at_a_time_all_succeed(
        expert: tuple[ChatServer, Path], tmp_path: Path, tracer_home: Path) -> None:
    """(Wall times are a benchmark's figures: tests/benchmarks/batch_ray.py.)"""
    server, out = expert
    tasks = write_batch(tmp_path / "tasks.jsonl", EIGHT)
    result = run_tracer("batch", str(tasks), "--parallel", "4", "--out", str(out), "--json",
                        *expert_args(server), env=batch_env(tracer_home), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    rows = summary["tasks"]
    assert [r["id"] for r in rows] == EIGHT
    assert all(r["success"] and r["exit_code"] == 0 and r["check_exit_code"] == 0 for r in rows), rows
    for r in rows:
        assert r["steps"] >= 1 and r["model_calls"] == r["steps"]  # --replan always
        assert Path(r["run_record"], "run.json").is_file()
        record = json.loads(Path(r["run_record"], "run.json").read_text())
        assert record["status"] == "done" and record["task"] == r["task"]
    assert "xauthority" not in (result.stdout + result.stderr).lower()
    assert sandbox_records(tracer_home) == []  # every sandbox is gone
    print(f"\nbatch of 8 bench tasks, --parallel 4: {summary['seconds']:.1f}s")


def test_ctrl_c_stops_the_runs_keeps_what_finished_and_leaves_no_process(
        expert: tuple[ChatServer, Path], tmp_path: Path, tracer_home: Path) -> None:
    server, out = expert
    waits = tmp_path / "waits.jsonl"
    wait = json.dumps({"thought": "", "trajectory": [{"action": "wait", "seconds": 1}]})
    waits.write_text((wait + "\n") * 200)
    tasks = tmp_path / "tasks.jsonl"
    button = suite.tasks(["button"])[0]
    slow = {"task": "wait for ever", "apps": ["xterm"], "max_steps": 100,
            "options": {"backend": "script", "script": str(waits)}}
    tasks.write_text("\n".join([
        json.dumps({"id": "button", "task": button.task, "apps": button.apps, "check": button.check,
                    "options": {"backend": "openai", "base_url": server.base_url,
                                "model": "test-vlm", "replan": "always"}}),
        *(json.dumps({**slow, "id": ident}) for ident in ("slow1", "slow2", "slow3", "later"))]) + "\n")
    env = batch_env(tracer_home)
    # Started as a script's `tracer batch ... &` starts it, with SIGINT ignored: a SIGINT sent to
    # it must stop it all the same, as it stops a `tracer do`.
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "batch", str(tasks), "-j", "3",
                             "--out", str(out)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        seen = stderr_until(proc, "button: success")  # the quick task has finished
        deadline = time.monotonic() + 60
        runs = tracer_home / "runs"
        while (len(sandbox_records(tracer_home)) < 3  # the three slow ones' runs have begun
               or len(list(runs.glob("*wait-for-ever*"))) < 3) and time.monotonic() < deadline:
            time.sleep(0.1)
        groups = [r["pgid"] for r in sandbox_records(tracer_home)]
        assert len(groups) == 3  # three slow ones are running; "later" waits its turn
        proc.send_signal(signal.SIGINT)
        stdout, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, "".join(seen) + rest
    summary = json.loads((out / "summary.json").read_text())
    by_id = {t["id"]: t for t in summary["tasks"]}
    assert summary["interrupted"] is True
    assert by_id["button"]["success"] is True and by_id["button"]["exit_code"] == 0
    for ident in ("slow1", "slow2", "slow3"):
        assert by_id[ident]["exit_code"] == 130 and by_id[ident]["status"] == "stopped", \
            (by_id[ident], (out / ident / "stderr.txt").read_text(errors="replace")
             if (out / ident / "stderr.txt").is_file() else sorted(p.name for p in (out / ident).iterdir()))
        assert not by_id[ident]["success"]
        if by_id[ident]["run_record"]:  # (the last may be stopped before its run began)
            assert by_id[ident]["run_status"] == "interrupted"
    assert by_id["slow1"]["run_record"]
    assert by_id["later"]["status"] == "skipped"
    assert "Traceback" not in rest
    for pgid in groups:
        assert group_members(pgid) == []
    assert sandbox_records(tracer_home) == []


def test_bench_with_the_expert_scores_near_perfect(
        expert: tuple[ChatServer, Path], tracer_home: Path) -> None:
    server, out = expert
    result = run_tracer("bench", "--parallel", "3", "--out", str(out), *expert_args(server),
                        env={**batch_env(tracer_home), "COLUMNS": "120"}, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    print("\n" + result.stdout)
    summary = json.loads((out / "summary.json").read_text())
    bench = summary["bench"]
    assert bench["tasks_run"] == len(suite.catalogue()) >= 20
    assert bench["success_rate"] >= 0.98, [r for r in bench["per_task"] if not r["success"]]
    spread = bench["grounding_error"]
    assert spread["presses"] >= 30 and spread["max"] <= 2.0  # the expert clicks centres exactly
    assert "Grounding error" in result.stdout and "success: " in result.stdout
    assert "xauthority" not in (result.stdout + result.stderr).lower()


def test_bench_with_the_tiny_gguf_runs_to_the_end_and_scores_honestly(
        tmp_path: Path, tracer_home: Path) -> None:
    model, mmproj = make_tiny_vlm(tmp_path / "tiny", None, arch="qwen3vl")  # random weights
    out = tmp_path / "out"
    result = run_tracer("bench", "--tasks", "button,checkbox,hotkey,drag", "--max-steps", "3",
                        "--parallel", "2", "--out", str(out), "--json", "--backend", "llama",
                        "--model", str(model), "--mmproj", str(mmproj), "--context", "4096",
                        "--profile", "tracer1", env=batch_env(tracer_home), timeout=1200)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    bench = summary["bench"]
    print(f"\ntiny GGUF bench: {json.dumps({k: v for k, v in bench.items() if k != 'per_task'})}")
    assert bench["tasks_run"] == 4
    assert bench["success_rate"] <= 0.25  # random weights: a success would be luck
    assert all(r["model_calls"] >= 1 for r in bench["per_task"]), summary["tasks"]  # the model ran
    assert all(t["run_record"] for t in summary["tasks"])


def test_the_kill_hotkey_on_the_users_display_stops_a_batch(
        display: Display, tmp_path: Path, tracer_home: Path) -> None:
    waits = tmp_path / "waits.jsonl"
    waits.write_text((json.dumps({"thought": "", "trajectory": [{"action": "wait", "seconds": 1}]})
                      + "\n") * 100)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"task": "wait", "max_steps": 100, "options": {
        "backend": "script", "script": str(waits)}}) + "\n")
    env = {**batch_env(tracer_home), "DISPLAY": display.name}
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "batch", str(tasks), "--out",
                             str(tmp_path / "out")], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(sandbox_records(tracer_home)) == 1 and (tracer_home / "runs").is_dir(),
                   120, "the task's sandbox and run")
        group = sandbox_records(tracer_home)[0]["pgid"]
        subprocess.run(["xdotool", "key", "ctrl+alt+shift+k"], env=display.env(), check=True,
                       timeout=10)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "kill switch armed: press ctrl+alt+shift+k to stop the batch" in stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["interrupted"] and summary["tasks"][0]["exit_code"] == 130
    assert group_members(group) == [] and sandbox_records(tracer_home) == []
