"""One run at a time per desktop: the lock, with real processes holding it, dying with it, and
a second one waiting for it; and the control socket that `tracer stop` and `tracer pause` use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tracer_cli.desktop import control
from tracer_cli.desktop.lock import DesktopBusy, DesktopLock, private_folder
from tracer_cli.errors import ConfigError, Interrupted

HOLD = """
import sys, time
from tracer_cli.desktop.lock import DesktopLock
lock = DesktopLock("x11 :55", "tracer do 'fill the form'")
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture(autouse=True)
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "runtime"
    monkeypatch.setenv("TRACER_RUNTIME_DIR", str(folder))
    return folder


def holder() -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_is_refused_naming_the_holder() -> None:
    proc = holder()
    try:
        with pytest.raises(DesktopBusy) as info:
            DesktopLock("x11 :55", "tracer run 'x'").acquire()
        message = str(info.value)
        assert "x11 :55 is in use by tracer do 'fill the form'" in message
        assert f"pid {proc.pid}" in message and "--wait" in message
        DesktopLock("x11 :56", "tracer run 'x'").acquire()  # another desktop is free
    finally:
        proc.kill()
        proc.communicate()


def test_a_lock_whose_owner_was_killed_is_free() -> None:
    proc = holder()
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    lock = DesktopLock("x11 :55", "tracer do 'next'")
    lock.acquire()  # taken over: the kernel let go of it with the process
    assert lock.holder()["pid"] == os.getpid()
    lock.release()
    assert lock.holder() == {}


@pytest.mark.parametrize("damaged", ['["a", "list"]', '{"pid": 7, "since": 12}', "{not json"])
def test_a_damaged_holder_file_still_gives_the_one_line_refusal(runtime: Path, damaged: str) -> None:
    proc = holder()
    try:
        (runtime / "locks" / "x11_55.holder.json").write_text(damaged)
        with pytest.raises(DesktopBusy) as info:
            DesktopLock("x11 :55", "tracer run 'x'").acquire()
        assert str(info.value).startswith("x11 :55 is in use by ")
    finally:
        proc.kill()
        proc.communicate()


def test_wait_starts_when_the_holder_ends_and_can_be_stopped() -> None:
    proc = holder()
    threading.Timer(0.5, proc.kill).start()
    started = time.monotonic()
    lock = DesktopLock("x11 :55", "tracer do 'after'")
    lock.acquire(wait=True)
    assert 0.4 < time.monotonic() - started < 10
    lock.release()
    proc.communicate()

    other = holder()
    try:
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        with pytest.raises(Interrupted):
            DesktopLock("x11 :55", "tracer do 'stopped while waiting'").acquire(wait=True, stop=stop)
    finally:
        other.kill()
        other.communicate()


def test_the_runtime_folder_must_be_the_users_own(runtime: Path) -> None:
    folder = private_folder("locks")
    assert folder.stat().st_mode & 0o777 == 0o700
    if os.geteuid() == 0:  # only root can hand a folder to another user
        os.chown(runtime, 65534, 65534)
        with pytest.raises(ConfigError, match="is not a folder of this user's"):
            private_folder("locks")


def test_the_control_socket_answers_stop_pause_and_status() -> None:
    calls: list[str] = []
    sock = control.ControlSocket(lambda: calls.append("stop"), lambda: "paused", {"what": "test"})
    sock.start()
    try:
        assert oct(sock.path.stat().st_mode & 0o777) == "0o600"
        assert control.send("pause") == [(os.getpid(), "paused")]
        assert control.send("stop", pid=os.getpid()) == [(os.getpid(), "stopped")]
        assert calls == ["stop"]
        [(pid, status)] = control.send("status")
        assert pid == os.getpid() and '"what": "test"' in status
        assert control.send("stop", pid=1) == []  # no run of that pid
    finally:
        sock.close()
    assert not sock.path.exists()
    assert control.send("stop") == []


def test_a_socket_left_by_a_killed_run_is_cleared() -> None:
    stale = control.folder() / "999999.sock"
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))  # bound, never listened on: as a run killed with -9 leaves it
    assert control.send("stop") == []
    assert not stale.exists()
