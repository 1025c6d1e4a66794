"""Run records: written as the run goes, read back by `tracer logs`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fakes import DONE, click, make_agent, make_settings, script
from tracer_cli.agent.runlog import RunLog, RunSummary, find_run, list_runs
from tracer_cli.agent.runloop import Listener
from tracer_cli.errors import ConfigError


def run_with_log(tmp_path: Path, root: Path, *answers: Any, task: str = "Press OK!",
                 **settings: Any) -> tuple[RunLog, Any]:
    agent, actuator, _ = make_agent(script(tmp_path, *answers), make_settings(**settings))
    log = RunLog(root, "do", task)
    agent.listeners.append(log)
    return log, agent.run(task)


def test_a_run_writes_its_record(tmp_path: Path, tracer_home: Path) -> None:
    root = tracer_home / "runs"
    log, result = run_with_log(tmp_path, root, "oops", click(250, 500), DONE)
    assert result.status == "done"
    assert log.dir.parent == root
    assert log.dir.name.endswith("-do-press-ok")

    meta = json.loads((log.dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "done"
    assert meta["task"] == "Press OK!"
    assert meta["kind"] == "do"
    assert meta["steps"] == 2
    assert meta["answer"] == "all set"
    assert meta["pid"] == os.getpid()
    assert meta["settings"]["max_steps"] == 10
    assert meta["monitor"] == {"index": 2, "left": 1920, "top": 0, "width": 1280, "height": 800,
                               "input_scale": [1.0, 1.0]}
    assert "ended" in meta and "started" in meta

    lines = (log.dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["step"] == 1
    assert first["plan"]["trajectory"][0] == {"action": "click", "x": 250, "y": 500, "target": "OK"}
    assert first["action"] == {"action": "click", "x": 250, "y": 500, "target": "OK"}
    assert first["points"] == [[1920 + 320, 400]]
    assert first["outcome"] == "ok (no visible effect)"  # the fake screen never changes
    # the text is made from fields, which the record keeps (readers use them, never the text)
    assert (first["status"], first["settled"], first["visible"]) == ("ok", True, False)
    assert first["effect"] == {"overall": 0.0, "near": 0.0, "pixels": 0}
    assert set(first["timings"]) == {"capture", "model", "act", "settle", "check"}
    assert [a["answer"] for a in first["attempts"]] == ["oops", json.dumps(click(250, 500))]
    assert "no JSON object" in first["attempts"][0]["error"]
    assert first["attempts"][1]["error"] == ""
    assert first["screenshot"] == "step-001.png"
    assert first["image_size"] == [1312, 832]  # 1280x800 raised to the grounding minimum (1066 tokens)
    assert second["action"] == {"action": "done", "answer": "all set"}
    assert second["outcome"] == "done"
    assert "points" in second and second["points"] == []

    for name in ("step-001.png", "step-002.png"):
        with Image.open(log.dir / name) as image:
            assert image.size == (1312, 832)
            assert image.getpixel((10, 10)) == (30, 60, 90)


def test_a_failed_forecast_is_recorded(tmp_path: Path, tracer_home: Path) -> None:
    log, result = run_with_log(tmp_path, tracer_home / "runs", "a", "b", "c")
    assert result.status == "error"
    meta = json.loads((log.dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "error"
    assert "no valid plan in 3 attempts" in meta["reason"]
    (line,) = (log.dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    step = json.loads(line)
    assert "plan" not in step and "action" not in step
    assert [a["answer"] for a in step["attempts"]] == ["a", "b", "c"]
    assert (log.dir / "step-001.png").exists()


def test_run_json_is_written_at_the_start(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "runs", "plan", "find the [red] button")
    meta = json.loads((log.dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "running"
    assert meta["task"] == "find the [red] button"
    assert log.dir.name.endswith("-plan-find-the-red-button")
    assert (log.dir / "steps.jsonl").exists()
    summary = list_runs(tmp_path / "runs")[0]
    assert summary.status == "running"  # this process is alive
    log.finish("planned", "dry run")
    assert list_runs(tmp_path / "runs")[0].status == "planned"


def test_two_runs_in_the_same_second_get_two_directories(tmp_path: Path) -> None:
    first = RunLog(tmp_path, "do", "same task")
    second = RunLog(tmp_path, "do", "same task")
    assert first.dir != second.dir
    assert second.dir.name.startswith(first.dir.name)
    first.finish("done")
    second.finish("done")


def test_unwritable_root_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot create the run directory"):
        RunLog(blocker / "runs", "do", "task")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_run(root: Path, name: str, **meta: Any) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"id": name, **meta}), encoding="utf-8")
    return path


def test_running_with_a_dead_pid_reads_as_cut_off(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-000000-do-a", status="running", pid=dead_pid())
    write_run(tmp_path, "20260101-000001-do-b", status="running", pid=os.getpid())
    write_run(tmp_path, "20260101-000002-do-c", status="running")
    write_run(tmp_path, "20260101-000003-do-d", status="done", pid=dead_pid())
    assert [r.status for r in list_runs(tmp_path)] == ["cut off", "running", "cut off", "done"]


def test_list_runs_skips_non_runs_and_marks_unreadable(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "missing") == []
    write_run(tmp_path, "20260101-000000-do-a", status="done")
    (tmp_path / "stray-dir").mkdir()
    (tmp_path / "stray-file.txt").write_text("x", encoding="utf-8")
    broken = tmp_path / "20260101-000001-do-b"
    broken.mkdir()
    (broken / "run.json").write_text('{"status": "runn', encoding="utf-8")
    runs = list_runs(tmp_path)
    assert [r.id for r in runs] == ["20260101-000000-do-a", "20260101-000001-do-b"]
    assert runs[1].status == "unreadable"


@pytest.fixture
def three_runs(tmp_path: Path) -> Path:
    for name in ("20260101-090000-do-open-mail", "20260101-100000-do-open-files",
                 "20260102-080000-plan-open-files"):
        write_run(tmp_path, name, status="done")
    return tmp_path


def test_find_run_by_full_id_and_prefix(three_runs: Path) -> None:
    assert find_run(three_runs, "20260101-090000-do-open-mail").id == "20260101-090000-do-open-mail"
    assert find_run(three_runs, "20260102").id == "20260102-080000-plan-open-files"
    assert find_run(three_runs, "20260101-10").path == three_runs / "20260101-100000-do-open-files"


@pytest.mark.parametrize("ref", ["last", "latest"])
def test_find_run_last(three_runs: Path, ref: str) -> None:
    assert find_run(three_runs, ref).id == "20260102-080000-plan-open-files"


def test_find_run_exact_id_wins_over_prefix(tmp_path: Path) -> None:
    write_run(tmp_path, "20260101-090000-do-x", status="done")
    write_run(tmp_path, "20260101-090000-do-x-1", status="done")
    assert find_run(tmp_path, "20260101-090000-do-x").id == "20260101-090000-do-x"


def test_find_run_ambiguous(three_runs: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_run(three_runs, "20260101")
    assert "2 runs start with '20260101'" in info.value.message
    assert info.value.exit_code == 2


def test_find_run_unknown(three_runs: Path) -> None:
    with pytest.raises(ConfigError, match="no run 'nosuch'"):
        find_run(three_runs, "nosuch")


def test_find_run_without_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no runs recorded"):
        find_run(tmp_path / "runs", "last")


def test_truncated_last_line_is_skipped(tmp_path: Path) -> None:
    path = write_run(tmp_path, "20260101-000000-do-a", status="running")
    good = [{"step": 1, "outcome": "ok"}, {"step": 2, "outcome": "ok"}]
    text = "".join(json.dumps(s) + "\n" for s in good) + '{"step": 3, "outcome": "o'
    (path / "steps.jsonl").write_text(text, encoding="utf-8")
    assert RunSummary(path.name, path, {}).steps() == good


def test_steps_of_a_run_without_steps_file(tmp_path: Path) -> None:
    path = write_run(tmp_path, "20260101-000000-do-a", status="running")
    assert RunSummary(path.name, path, {}).steps() == []


def test_the_record_survives_a_run_cut_short(tmp_path: Path, tracer_home: Path) -> None:
    # Each step line is on disk as soon as the step ends, before the run does.
    agent, _, _ = make_agent(script(tmp_path, click(), click(), DONE), make_settings())
    log = RunLog(tracer_home / "runs", "do", "task")
    seen: list[int] = []

    class Peek(Listener):
        def on_step(self, record: Any) -> None:
            seen.append(len(RunSummary(log.dir.name, log.dir, {}).steps()))

    agent.listeners += [log, Peek()]
    agent.run("task")
    assert seen == [1, 2, 3]
