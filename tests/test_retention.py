"""Run records are private to their owner (another Unix user cannot read them) and bounded:
`tracer logs prune` by count, age and size, and the size cap applied around every run."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Display, run_tracer
from tests.fakes import DONE, click, make_agent, make_settings, script
from tracer_cli.agent.retention import parse_age, prune
from tracer_cli.agent.runlog import RunLog, list_runs
from tracer_cli.errors import ConfigError

OTHER_USER = "tracer-other"


def recorded_run(tmp_path: Path, root: Path, task: str = "press OK") -> RunLog:
    """A real agent run (scripted planner, fake screen) written by the real RunLog."""
    agent, _, _ = make_agent(script(tmp_path, click(250, 500), DONE), make_settings())
    log = RunLog(root, "do", task)
    agent.listeners.append(log)
    agent.run(task)
    return log


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask there is: whatever tracer makes private, it made so itself."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_run_record_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    log = recorded_run(tmp_path, tmp_path / "runs")
    assert mode(tmp_path / "runs") == 0o700
    assert mode(log.dir) == 0o700
    files = sorted(p.name for p in log.dir.iterdir())
    assert {"run.json", "steps.jsonl", "step-001.png"} <= set(files)
    assert {p.name: mode(p) for p in log.dir.iterdir()} == dict.fromkeys(files, 0o600)


def test_exported_macro_images_are_private(tmp_path: Path, open_umask: None) -> None:
    from tracer_cli.macro.write import assets_dir, write_macro

    macro = tmp_path / "m.yaml"
    write_macro(macro, [{"click": {"image": Image.new("RGB", (20, 20), "red")}}])
    folder = assets_dir(macro)
    assert mode(folder) == 0o700
    assert [mode(p) for p in folder.iterdir()] == [0o600]


def _other_user() -> str:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second Unix user (useradd) and act as it (runuser); "
                    "the modes themselves are checked by the tests above")
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("useradd and runuser (Debian packages passwd, util-linux) are not installed")
    exists = subprocess.run(["id", OTHER_USER], capture_output=True).returncode == 0
    if not exists:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                       check=True, capture_output=True)
    return OTHER_USER


def as_other(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True,
                          timeout=30)


def test_another_user_cannot_read_a_run_record(tmp_path: Path, open_umask: None) -> None:
    user = _other_user()
    # A place the other user can reach (pytest's own temporary directories are 0700), so that
    # only the record's own modes can keep them out.
    shared = Path(tempfile.mkdtemp(prefix="tracer-perm-"))
    try:
        os.chmod(shared, 0o755)
        control = shared / "control.txt"
        control.write_text("readable\n")
        os.chmod(control, 0o644)
        assert as_other(user, "cat", str(control)).stdout == "readable\n"  # the test can fail

        log = recorded_run(tmp_path, shared / "runs")
        for target in (log.dir / "step-001.png", log.dir / "steps.jsonl", log.dir / "run.json"):
            denied = as_other(user, "cat", str(target))
            assert denied.returncode != 0 and "Permission denied" in denied.stderr
        listing = as_other(user, "ls", str(log.dir))
        assert listing.returncode != 0 and "Permission denied" in listing.stderr
        # Even with the directories opened up, the files themselves stay closed.
        os.chmod(shared / "runs", 0o755)
        os.chmod(log.dir, 0o755)
        denied = as_other(user, "cat", str(log.dir / "steps.jsonl"))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
    finally:
        shutil.rmtree(shared)


# -- prune -----------------------------------------------------------------------------------

def fake_run(root: Path, name: str, started: datetime, size: int, status: str = "done",
             pid: int | None = None) -> Path:
    path = root / name
    path.mkdir(parents=True)
    meta: dict[str, Any] = {"id": name, "status": status, "started": started.isoformat()}
    if pid is not None:
        meta["pid"] = pid
    (path / "run.json").write_text(json.dumps(meta))
    (path / "step-001.png").write_bytes(b"\0" * (size - 4096))  # with run.json: under size
    return path


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
MB = 1 << 20


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for day in range(1, 6):  # five runs, one a day, 1 MB each, the newest on day 5
        fake_run(root, f"2026120{day}-120000-do-task", NOW - timedelta(days=6 - day), MB)
    return root


def ids(root: Path) -> list[str]:
    return [r.id[:8] for r in list_runs(root)]


def test_prune_keeps_the_newest(runs: Path) -> None:
    pruned = prune(runs, keep=2, now=NOW)
    assert ids(runs) == ["20261204", "20261205"]
    assert [rid[:8] for rid, _ in pruned.removed] == ["20261201", "20261202", "20261203"]
    assert pruned.freed == sum(size for _, size in pruned.removed) > 2.9 * MB and pruned.kept == 2


def test_prune_by_age(runs: Path) -> None:
    prune(runs, older_than=parse_age("3d"), now=NOW)  # started 5, 4, 3, 2, 1 days ago
    assert ids(runs) == ["20261203", "20261204", "20261205"]


def test_prune_by_size_removes_the_oldest_first(runs: Path) -> None:
    pruned = prune(runs, max_bytes=int(2.5 * MB), now=NOW)
    assert ids(runs) == ["20261204", "20261205"]
    assert pruned.kept_bytes <= 2.5 * MB


def test_prune_spares_a_run_still_going_and_the_current_one(runs: Path) -> None:
    fake_run(runs, "20261130-120000-do-live", NOW - timedelta(days=7), MB, status="running",
             pid=os.getpid())
    current = runs / "20261201-120000-do-task"
    prune(runs, keep=0, spare=frozenset({current}), now=NOW)
    assert ids(runs) == ["20261130", "20261201"]


def test_a_dead_runs_running_status_does_not_protect_it(runs: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    fake_run(runs, "20261130-120000-do-cut", NOW - timedelta(days=7), MB, status="running",
             pid=dead.pid)
    prune(runs, keep=5, now=NOW)
    assert "20261130" not in ids(runs)


@pytest.mark.parametrize("text", ["30", "3 days", "d", "-1d", ""])
def test_a_bad_age_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="30d, 12h"):
        parse_age(text)


def test_logs_prune_command(runs: Path, tracer_home: Path) -> None:
    shutil.move(str(runs), str(tracer_home / "runs"))
    result = run_tracer("logs", "prune", "--keep", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("removed 2 runs, freed 2.0 MB; 3 kept (3.0 MB)")
    assert "removed 20261201-120000-do-task (1020.1 KB)" in result.stderr
    assert len(list_runs(tracer_home / "runs")) == 3

    bad = run_tracer("logs", "prune", "--older-than", "soon")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "cannot read the age 'soon'" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2


def test_logs_prune_without_options_applies_the_configured_cap(runs: Path, tracer_home: Path) -> None:
    shutil.move(str(runs), str(tracer_home / "runs"))
    env = {**os.environ, "TRACER_RUNS_MAX_MB": "2"}
    result = run_tracer("logs", "prune", env=env)
    assert result.returncode == 0, result.stderr
    assert ids(tracer_home / "runs") == ["20261204", "20261205"]


@pytest.mark.display
def test_the_size_cap_is_applied_when_a_run_starts_and_ends(runs: Path, tracer_home: Path,
                                                             tmp_path: Path, display: Display) -> None:
    shutil.move(str(runs), str(tracer_home / "runs"))
    plans = tmp_path / "plans.jsonl"
    plans.write_text(json.dumps(DONE) + "\n")
    env = {**display.env(), "TRACER_RUNS_MAX_MB": "2"}
    result = run_tracer("plan", "anything", "--backend", "script", "--script", str(plans), env=env)
    assert result.returncode == 0, result.stderr
    left = ids(tracer_home / "runs")
    assert len(left) <= 3 and "20261205" in left  # the newest old run and this plan's own
    assert "run records over the 2 MB cap (setting runs_max_mb): removed" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("report: tracer logs report ")
