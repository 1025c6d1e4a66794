"""Faults, end to end: the real `tracer` on Xvfb while the disk under its run records fills up
or goes away. Each ends with one line, exit code 1, no input event after the failure, and a
record that stays readable and says why the run ended."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import ClickLog, click, done, plan, tracer_env, wait_until

pytestmark = pytest.mark.display


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A real file system of a given size (tmpfs) mounted for the test, unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tracer-test", str(where)],
                       check=True)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> None:
    """Write into ``folder`` until its disk is full, to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError:
                continue
    finally:
        os.close(fd)


def one_line_error(stderr: str) -> str:
    """The one error line of a run's stderr (said once, no traceback)."""
    errors = [line for line in stderr.splitlines() if line.startswith("tracer: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    reason = errors[0].removeprefix("tracer: error: ")
    assert stderr.count(reason) == 1, stderr  # not repeated by another line
    return errors[0]


def test_a_full_disk_before_the_run_is_one_line_and_leaves_no_empty_record(
        display: Display, clicklog: ClickLog, chat_server: Any, small_disk: Callable[[str], Path]) -> None:
    home = small_disk("96k")  # less than a run record needs to start
    chat_server.queue(plan(click(400, 300, "the canvas"), done("clicked")))
    env = tracer_env(display, TRACER_HOME=str(home))

    result = run_tracer("do", "click the canvas", "--yes", "-b", "openai", "--base-url",
                        chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 1, result.stderr
    line = one_line_error(result.stderr)
    assert "No space left on device" in line and "free some space" in line
    assert list((home / "runs").iterdir()) == []  # no empty run folder left behind
    assert clicklog.presses() == []  # nothing was done


def _long_run(chat_server: Any) -> None:
    """A click, a 3 s wait (the window in which the disk goes), then a second click."""
    chat_server.queue(plan(click(400, 300, "the canvas"), {"action": "wait", "seconds": 3},
                           click(600, 300, "the canvas"), done("clicked twice")))


def _first_step_recorded(home: Path) -> Path:
    runs = home / "runs"
    wait_until(lambda: runs.is_dir() and any((d / "steps.jsonl").is_file() and
                                             (d / "steps.jsonl").read_text()
                                             for d in runs.iterdir()), 30, "the first step's record")
    [run] = list(runs.iterdir())
    return run


def test_a_disk_that_fills_up_mid_run_stops_it_before_the_next_input_event(
        display: Display, clicklog: ClickLog, chat_server: Any, small_disk: Callable[[str], Path],
        background_tracer: Callable[..., subprocess.Popen[str]]) -> None:
    home = small_disk("16m")
    _long_run(chat_server)
    env = tracer_env(display, TRACER_HOME=str(home))
    proc = background_tracer("do", "click twice", "--yes", "-b", "openai", "--base-url",
                             chat_server.base_url, env=env)
    run = _first_step_recorded(home)
    fill(home)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 1, stderr
    line = one_line_error(stderr)
    assert "No space left on device" in line
    assert len(clicklog.wait_presses(1)) == 1  # the second click never happened
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "error" and "No space left on device" in meta["reason"]
    lines = (run / "steps.jsonl").read_text().splitlines()
    assert [json.loads(text)["step"] for text in lines] == [1]  # whole lines only
    with Image.open(run / "step-001.png") as shot:
        shot.verify()  # what was written before stays readable
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert not (run / ".reserve").exists()

    logs = run_tracer("logs", "last", env=env)  # and tracer itself reads it back
    assert logs.returncode == 0, logs.stderr
    assert "No space left on device" in logs.stdout


def test_a_record_folder_that_vanishes_mid_run_stops_it_with_one_line(
        display: Display, clicklog: ClickLog, chat_server: Any, tmp_path: Path,
        background_tracer: Callable[..., subprocess.Popen[str]]) -> None:
    home = tmp_path / "home"
    _long_run(chat_server)
    env = tracer_env(display, TRACER_HOME=str(home))
    proc = background_tracer("do", "click twice", "--yes", "-b", "openai", "--base-url",
                             chat_server.base_url, env=env)
    run = _first_step_recorded(home)
    shutil.rmtree(run)
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 1, stderr
    line = one_line_error(stderr)
    assert "No such file or directory" in line and "folder is gone" in line
    assert len(clicklog.wait_presses(1)) == 1


def test_the_display_going_away_mid_run_is_one_line(chat_server: Any, tmp_path: Path,
                                                     background_tracer: Callable[..., subprocess.Popen[str]]
                                                     ) -> None:
    """The X server ends while a step runs: every connection to it breaks at once (the
    capture's, the input's, the kill switch's listeners'): one line, exit 1, no traceback."""
    from tests.conftest import start_xvfb
    from tests.e2e.test_events import Lines

    xvfb, name = start_xvfb(1024, 768)
    try:
        chat_server.queue(plan({"action": "wait", "seconds": 20}, done()))
        env = {**os.environ, "DISPLAY": name, "TRACER_HOME": str(tmp_path / "home")}
        proc = background_tracer("do", "wait", "--yes", "--events", "jsonl", "-b", "openai",
                                 "--base-url", chat_server.base_url, env=env)
        lines = Lines(proc)
        lines.until(lambda e: e["event"] == "action")
        xvfb.terminate()
        xvfb.wait(timeout=10)
        end = lines.until(lambda e: e["event"] == "end", timeout=20)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if xvfb.poll() is None:
            xvfb.kill()
            xvfb.wait()

    assert proc.returncode == 1 and end["exit_code"] == 1, stderr
    assert end["status"] == "error" and f"the X display {name} went away" in end["reason"]
    line = one_line_error(stderr)
    assert f"the X display {name} went away" in line
    meta = json.loads(next((tmp_path / "home" / "runs").glob("*/run.json")).read_text())
    assert meta["status"] == "error" and "went away" in meta["reason"]


def test_a_second_run_on_the_same_display_is_refused_or_waits(
        display: Display, clicklog: ClickLog, chat_server: Any,
        background_tracer: Callable[..., subprocess.Popen[str]]) -> None:
    """Two runs typing into one field interleaved their keys (aBaB...). The second is refused
    with one line naming the first; with --wait it starts when the first ends, and the keys
    arrive one run after the other."""
    import threading

    from tests.chat_server import Reply
    from tests.e2e.test_kill_switch import typed, wait_until

    first_text, second_text = "a" * 60, "b" * 20
    release = threading.Event()  # the first run's last answer waits until the second was refused
    last = Reply(json.dumps(plan(done("first"))), hold_after=0, hold=release)
    chat_server.queue(plan({"action": "type", "text": first_text}, done("first")), last,
                      plan({"action": "type", "text": second_text}, done("second")),
                      plan(done("second")))
    env = tracer_env(display)
    first = background_tracer("do", "type a", "--yes", "-b", "openai", "--base-url",
                              chat_server.base_url, env=env)
    wait_until(lambda: len(typed(clicklog)) >= 5 or first.poll() is not None, 30, "the first run")
    assert first.poll() is None

    refused = run_tracer("do", "type b", "--yes", "-b", "openai", "--base-url",
                         chat_server.base_url, env=env, timeout=30)
    assert refused.returncode == 1, refused.stderr
    line = one_line_error(refused.stderr)
    assert f"x11 {display.name} is in use by tracer do 'type a' (pid {first.pid}, since" in line
    assert "--wait" in line
    wait_until(lambda: last.held, 30, "the first run's last model call")  # alive till here
    release.set()

    second = background_tracer("do", "type b", "--yes", "--wait", "-b", "openai", "--base-url",
                               chat_server.base_url, env=env)
    first.communicate(timeout=60)
    _, stderr = second.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0, stderr
    keys = "".join(e["char"] for e in typed(clicklog))
    assert keys == first_text + second_text  # one after the other, never interleaved
