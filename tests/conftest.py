"""Shared fixtures: an isolated tracer home, real Xvfb displays, a real chat server, and a way
to run the real `tracer` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.chat_server import ChatServer

# Hypothesis: "ci" (the default) runs each property test's full count; "dev" a tenth of it
# (tests/fakes.examples), for a quick local run: HYPOTHESIS_PROFILE=dev .venv/bin/python -m pytest
hypothesis_settings.register_profile("ci", database=None)
hypothesis_settings.register_profile("dev", database=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
APPS = Path(__file__).resolve().parent / "apps"

# -- on every core, when asked: pytest -n auto --dist loadfile (pytest-xdist; README "Development") --
# Each worker is a pytest session of its own: a session fixture (a headless sway, KWin or GNOME
# session) starts once in each worker that needs it; a test module runs whole, in its order, on
# one worker, so its module fixtures start once.
MAX_WORKERS = 4  # each worker may start displays, compositors and a browser


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def no_secrets() -> Iterator[None]:
    """Secrets a test's macro registered (redact.py) are forgotten after it."""
    from tracer_cli import redact

    yield
    redact.clear()


@pytest.fixture(autouse=True)
def tracer_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config and run directory, and no stray settings."""
    for name in list(os.environ):
        if name.startswith("TRACER_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    home = tmp_path / "tracer-home"
    monkeypatch.setenv("TRACER_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def tracer_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own folder for desktop locks and control sockets (short: a socket's
    path has a length limit), so `tracer stop` reaches only the test's own runs."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tr-"))
    monkeypatch.setenv("TRACER_RUNTIME_DIR", str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Display:
    name: str  # e.g. ":93"
    width: int
    height: int
    pid: int

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}


def start_xvfb(width: int, height: int, *extra: str) -> tuple[subprocess.Popen, str]:
    """An Xvfb on a free display number (``extra``: more of its flags). -noreset: without it,
    the server resets when its last client leaves, and a client connecting meanwhile is cut
    off ("Broken pipe"), which happens under load between two of a test's programs."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is not installed: apt-get install -y xvfb xdotool xterm")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-noreset", *extra],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        number = reader.readline().strip()
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    return proc, f":{number}"


def _display(width: int, height: int) -> Iterator[Display]:
    proc, name = start_xvfb(width, height)
    try:
        yield Display(name, width, height, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def display_1280() -> Iterator[Display]:
    yield from _display(1280, 800)


@pytest.fixture(scope="session")
def display_1920() -> Iterator[Display]:
    yield from _display(1920, 1080)


@pytest.fixture(scope="session")
def display_1366() -> Iterator[Display]:
    yield from _display(1366, 768)


@pytest.fixture(scope="session")
def display_2560() -> Iterator[Display]:
    yield from _display(2560, 1440)


@pytest.fixture
def display(display_1280: Display, monkeypatch: pytest.MonkeyPatch) -> Display:
    """The 1280x800 display, set as DISPLAY for this test (in-process code and subprocesses)."""
    monkeypatch.setenv("DISPLAY", display_1280.name)
    return display_1280


class Program:
    """A program running on a test display. Stopped by its PID at the end of the test."""

    def __init__(self, proc: subprocess.Popen[bytes], display: Display, name: str) -> None:
        self.proc = proc
        self.display = display
        self.name = name

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        from tests.programs import stop_program

        stop_program(self.proc)


@pytest.fixture
def programs() -> Iterator[Callable[..., Program]]:
    """Start programs on a display; every one started is stopped by its PID after the test."""
    yield from _programs()


@pytest.fixture(scope="module")
def module_programs() -> Iterator[Callable[..., Program]]:
    """``programs`` for a whole test module: stopped after its last test."""
    yield from _programs()


def _programs() -> Iterator[Callable[..., Program]]:
    started: list[Program] = []

    def start(display: Display, argv: list[str], name: str, cwd: Path | None = None) -> Program:
        proc = subprocess.Popen(argv, env=display.env(), cwd=cwd or ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        program = Program(proc, display, name)
        started.append(program)
        return program

    yield start
    for program in reversed(started):
        program.stop()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    server = ChatServer().start()
    try:
        yield server
    finally:
        server.stop()


def run_tracer(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `tracer` command (this interpreter's install of it) and capture its output."""
    return subprocess.run([sys.executable, "-m", "tracer_cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env or dict(os.environ), input=input,
                          cwd=ROOT)
