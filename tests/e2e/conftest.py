"""Helpers for the end-to-end tests: programs started on an Xvfb display (and always stopped by
their PID), the pointer read and placed with xdotool, the real `tracer` started in the
background, and the run records read back."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.chat_server import request_text  # noqa: F401  (the e2e tests import it from here)
from tests.conftest import APPS, EXAMPLES, ROOT, Display, Program
from tests.programs import wait_until as wait_until  # the e2e tests import it from here

CLICKLOG = APPS / "clicklog.py"
DEMO_FORM = EXAMPLES / "demo_form.py"
MARKER_RED = (0xE6, 0x19, 0x4B)  # the first marker's colour in a preview


def tracer_env(display: Display, **extra: str) -> dict[str, str]:
    """The environment for a tracer run on ``display``: short settle waits unless overridden."""
    env = display.env()
    env.setdefault("TRACER_SETTLE_QUIET", "0.1")
    env.setdefault("TRACER_SETTLE_TIMEOUT", "2")
    env.update(extra)
    return env


def xdotool(display: Display, *args: str, timeout: float = 10) -> str:
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=timeout,
                          env=display.env(), check=True)
    return done.stdout


def pointer(display: Display) -> tuple[int, int]:
    """Where the pointer is now (root coordinates)."""
    found = re.search(r"x:(\d+) y:(\d+)", xdotool(display, "getmouselocation"))
    assert found, "xdotool getmouselocation gave no position"
    return int(found.group(1)), int(found.group(2))


def move_pointer(display: Display, x: int, y: int) -> None:
    """Move the pointer and wait until the server has it there (`mousemove --sync` would wait
    forever when the pointer is there already)."""
    xdotool(display, "mousemove", str(x), str(y))
    wait_until(lambda: pointer(display) == (x, y), 5, f"the pointer to reach ({x},{y})")


def park_pointer(display: Display) -> tuple[int, int]:
    """Put the pointer at an odd spot away from every corner (pyautogui's fail-safe points) and
    away from any point a test clicks, so a later move is visible."""
    x, y = display.width // 3 + 7, display.height // 3 + 5
    move_pointer(display, x, y)
    assert pointer(display) == (x, y)
    return x, y


class ClickLog(Program):
    """tests/apps/clicklog.py: a full-screen window logging presses and keys to a JSONL file."""

    def __init__(self, proc: subprocess.Popen[bytes], display: Display, log: Path) -> None:
        super().__init__(proc, display, "clicklog")
        self.log = log

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def presses(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event"] == "press"]

    def keys(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event"] == "key"]

    def wait_presses(self, count: int, timeout: float = 5, since: int = 0) -> list[dict[str, Any]]:
        """The presses logged after the first ``since``, once there are ``count`` of them
        (events reach the file a moment late)."""
        deadline = time.monotonic() + timeout
        while len(self.presses()) < since + count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.presses()[since:]


def wait_for_window(program: Program, title: str, timeout: float = 15) -> str:
    """The id of the visible window titled ``title`` (a regex) of ``program``, once mapped."""
    display = program.display
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not program.alive():
            raise AssertionError(f"{program.name} (pid {program.pid}) exited with "
                                 f"{program.proc.returncode} before its window showed")
        done = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                              capture_output=True, text=True, env=display.env(), timeout=10)
        ids = done.stdout.split()
        if ids:
            return ids[-1]
        time.sleep(0.1)
    raise AssertionError(f"no window {title!r} appeared on {display.name} in {timeout}s")


def launch_clicklog(display: Display, programs: Callable[..., Program], folder: Path) -> ClickLog:
    """clicklog filling ``display``, ready (its canvas drawn), with nothing logged yet."""
    park_pointer(display)
    log = folder / f"clicklog-{display.width}x{display.height}-{display.name.lstrip(':')}.jsonl"
    program = programs(display, [sys.executable, str(CLICKLOG), str(log)], "clicklog")
    app = ClickLog(program.proc, display, log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if any(e["event"] == "ready" for e in app.events()):
            break
        assert app.alive(), "clicklog exited before it was ready"
        time.sleep(0.05)
    else:
        raise AssertionError("clicklog wrote no ready line in 15 s")
    wait_for_window(app, "^clicklog$")
    wait_drawn(display, lambda image: image.convert("RGB").getpixel((5, 60)) == (255, 255, 255),
               what="clicklog's white canvas")
    assert app.presses() == [] and app.keys() == []
    return app


@pytest.fixture
def start_clicklog(programs: Callable[..., Program], tmp_path: Path) -> Callable[[Display], ClickLog]:
    def start(display: Display) -> ClickLog:
        return launch_clicklog(display, programs, tmp_path)

    return start


@pytest.fixture(scope="module")
def clicklogs(module_programs: Callable[..., Program], tmp_path_factory: pytest.TempPathFactory
              ) -> Callable[[Display], ClickLog]:
    """One clicklog per screen for a whole module of many short cases (starting one takes
    about as long as a case): each case reads only the presses that came after it began
    (``wait_presses(..., since=len(app.presses()))``)."""
    apps: dict[tuple[str, int], ClickLog] = {}  # by display and its server's pid
    folder = tmp_path_factory.mktemp("clicklogs")

    def get(display: Display) -> ClickLog:
        key = (display.name, display.pid)
        if key not in apps:
            apps[key] = launch_clicklog(display, module_programs, folder)
        app = apps[key]
        assert app.alive(), "clicklog exited"
        park_pointer(display)
        return app

    return get


@pytest.fixture
def clicklog(display: Display, start_clicklog: Callable[[Display], ClickLog]) -> ClickLog:
    """clicklog filling the 1280x800 display."""
    return start_clicklog(display)


def grab(display: Display) -> Image.Image:
    """The first monitor of ``display`` once it has stopped changing (a frame being drawn
    would make a flaky picture)."""
    from tracer_cli.desktop.platforms.x11 import X11Platform
    from tracer_cli.desktop.screen import wait_settled

    screen = X11Platform(display.name).open_screen(1)
    try:
        wait_settled(screen, quiet=0.3, timeout=5)
        return screen.capture().image
    finally:
        screen.close()


def show_in_xterm(programs: Callable[..., Program], display: Display, folder: Path, title: str,
                  geometry: str, lines: list[str]) -> str:
    """An xterm (6x13 font, no blinking cursor) titled ``title`` at ``geometry`` showing
    ``lines``; returns its window id once they are on the screen."""
    quoted = " ".join("'" + line.replace("'", "'\\''") + "'" for line in lines)
    (folder / "show.sh").write_text(f"clear; printf '%s\\n' {quoted}; touch ready; sleep 120\n")
    program = programs(display, ["xterm", "-T", title, "-geometry", geometry, "-xrm",
                                 "*cursorBlink: false", "-e", "sh", "-c", f"cd {folder} && sh show.sh"],
                       "xterm")
    window = wait_for_window(program, f"^{title}$")
    wait_until(lambda: (folder / "ready").exists(), 10, "the xterm to show its text")
    return window


class Notes(Program):
    """examples/notes_app.py: a small movable window with a form; its state is read from a file."""

    def __init__(self, proc: subprocess.Popen[bytes], display: Display, state: Path) -> None:
        super().__init__(proc, display, "notes")
        self.state_file = state
        self.window = ""

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}

    def wait_state(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5,
                   what: str = "the notes window's state") -> dict[str, Any]:
        wait_until(lambda: predicate(self.state()), timeout, what)
        return self.state()

    def move(self, x: int, y: int) -> None:
        """Move the window (its top-left corner) and wait until it has been redrawn there."""
        xdotool(self.display, "windowmove", "--sync", self.window, str(x), str(y))
        wait_drawn(self.display)


@pytest.fixture
def start_notes(tmp_path: Path) -> Iterator[Callable[..., Notes]]:
    """Start examples/notes_app.py at GEOMETRY on a display and wait until it is drawn; each one
    started is stopped by its PID after the test."""
    started: list[Notes] = []

    def start(display: Display, geometry: str = "640x420+100+80", load_delay: float = 2.0) -> Notes:
        park_pointer(display)
        state = tmp_path / f"notes-{display.width}-{len(list(tmp_path.glob('notes-*')))}.json"
        argv = [sys.executable, str(EXAMPLES / "notes_app.py"), "--state", str(state),
                "--geometry", geometry, "--load-delay", str(load_delay)]
        proc = subprocess.Popen(argv, env=display.env(), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        app = Notes(proc, display, state)
        started.append(app)
        app.wait_state(lambda s: s.get("ready", False), 15, "the notes window to start")
        app.window = wait_for_window(app, "^Notes$")
        wait_drawn(display)
        return app

    yield start
    for app in reversed(started):
        app.stop()


def stderr_until(proc: subprocess.Popen[str], text: str) -> list[str]:
    """Read a running process's stderr line by line up to the first line holding ``text``;
    the lines read. The test fails, with them, if the process ends before."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return seen
    pytest.fail(f"it ended before saying {text!r}:\n" + "".join(seen))


def start_tracer(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """The real `tracer` command in the background (same command line as run_tracer)."""
    return subprocess.Popen([sys.executable, "-m", "tracer_cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def background_tracer() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `tracer` in the background; any still running at the end is killed by its PID."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
        proc = start_tracer(*args, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)


def desktop_ended_mid_run(background_tracer: Callable[..., subprocess.Popen[str]],
                          env: dict[str, str], end: Callable[[], None]) -> tuple[int, str, float]:
    """Start `tracer do` on ``env`` with a model that never answers; once it has its hands and
    waits for the model, ``end()`` its desktop. Its exit code, its stderr, and the seconds it
    took to end after the desktop did."""
    from tests.chat_server import SilentModel

    with SilentModel() as model:
        proc = background_tracer("do", "anything", "--yes", "-b", "openai", "--base-url",
                                 model.url, "--model", "test-vlm", env=env)
        with model.reached():
            end()
            ended = time.monotonic()
            _, stderr = proc.communicate(timeout=15)
            return proc.returncode, stderr, time.monotonic() - ended


def wait_drawn(display: Display, looks_right: Callable[[Image.Image], bool] | None = None,
               timeout: float = 10, what: str = "the window to be drawn") -> Image.Image:
    """Wait until the screen has stopped changing (and, when given, shows what ``looks_right``
    expects) instead of sleeping a fixed time; returns that picture."""
    deadline = time.monotonic() + timeout
    while True:
        image = grab(display)
        if looks_right is None or looks_right(image):
            return image
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def plan(*steps: dict[str, Any], thought: str = "") -> dict[str, Any]:
    return {"thought": thought, "trajectory": list(steps)}


def click(x: int, y: int, target: str = "point", action: str = "click") -> dict[str, Any]:
    return {"action": action, "x": x, "y": y, "target": target}


def done(answer: str = "") -> dict[str, Any]:
    return {"action": "done", "answer": answer} if answer else {"action": "done"}


def request_image(body: dict[str, Any]) -> tuple[str, bytes]:
    """The (data URL prefix, decoded bytes) of the screenshot in a chat request body."""
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    prefix, _, data = url.partition(",")
                    return prefix, base64.b64decode(data)
    raise AssertionError("the request carries no image")


def request_image_size(body: dict[str, Any]) -> tuple[int, int]:
    from PIL import Image

    _, raw = request_image(body)
    with Image.open(io.BytesIO(raw)) as image:
        return image.size


def _runs(env: dict[str, str]) -> Path:
    home = env.get("TRACER_HOME")
    assert home, "the tests' tracer runs always have a TRACER_HOME"
    return Path(home) / "runs"


def last_run(env: dict[str, str]) -> dict[str, Any]:
    """The last run's record as `tracer logs last --json` gives it, read in this process (the
    command itself is tested in test_cli.py and test_logs)."""
    from tracer_cli.agent.runlog import find_run

    summary = find_run(_runs(env), "last")
    return {"run": {**summary.meta, "status": summary.status}, "steps": summary.steps()}


def run_dir(env: dict[str, str]) -> Path:
    """The directory of the last run (as `tracer logs last --path` prints it)."""
    from tracer_cli.agent.runlog import find_run

    return find_run(_runs(env), "last").path


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group (from /proc), to check none is left behind."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def sandbox_records(home: Path) -> list[dict[str, Any]]:
    """The sandbox records written so far (a name being claimed has an empty one)."""
    folder = home / "sandboxes"
    texts = [p.read_text() for p in folder.glob("*.json")] if folder.is_dir() else []
    return [json.loads(text) for text in texts if text.strip()]


# -- wlroots: one headless sway for the whole session (tests/e2e/sway.py) -----------------------


@pytest.fixture(scope="session")
def sway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless sway (one 1280x800 output at first), started once, as an unprivileged uid;
    everything it ran is stopped by PID and uid at the end. Skipped only where sway is not
    installed."""
    import shutil

    if not shutil.which("sway"):
        pytest.skip("sway is not installed: bash examples/install.sh --test installs it")
    from tests.e2e.sway import SwayDesktop

    desk = SwayDesktop.start(tmp_path_factory.mktemp("sway"))
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A control-socket and lock folder of the test's own (short: a socket path has a limit),
    so that `tracer stop` reaches only the test's runs."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tr-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- GNOME on Wayland: headless sessions, each started once per test session ---------------------


@pytest.fixture(scope="session")
def gnome_mutter_session() -> Iterator[Any]:
    """mutter alone (fast: no shell, no IBus), 1280x800, with Xwayland."""
    from tests.gnome_session import running

    yield from running(shell=False, x11=True, monitors=[(1280, 800)])


@pytest.fixture(scope="session")
def gnome_shell_session() -> Iterator[Any]:
    """gnome-shell with gsd-media-keys (custom shortcuts) and IBus, 1280x800."""
    from tests.gnome_session import running

    yield from running(shell=True, x11=False, media_keys=True, monitors=[(1280, 800)])


@pytest.fixture
def gnome_mutter(gnome_mutter_session: Any) -> Iterator[Any]:
    """The mutter session; the programs a test starts on it are stopped after the test."""
    yield gnome_mutter_session
    gnome_mutter_session.stop_programs()


@pytest.fixture
def gnome_shell(gnome_shell_session: Any) -> Iterator[Any]:
    yield gnome_shell_session
    gnome_shell_session.stop_programs()


# -- KDE Plasma: one headless KWin for the whole session (tests/e2e/kde.py) ---------------------


@pytest.fixture(scope="session")
def kde(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless KWin (one 1280x800 output), started once, with tracer authorised on it by the
    real `tracer setup kde`; everything it ran is stopped by PID at the end. Skipped only where
    kwin-wayland is not installed."""
    from tests.kwin import KWIN

    if not os.path.exists(KWIN):
        pytest.skip("kwin-wayland is not installed: bash examples/install.sh --test installs it")
    from tests.e2e.kde import KdeDesktop

    desk = KdeDesktop.start(tmp_path_factory.mktemp("kde"))
    try:
        yield desk
    finally:
        desk.stop()


@pytest.fixture(scope="module")
def a11y_screen() -> Iterator[Display]:
    """A 1280x800 Xvfb of the module's own, for programs with an accessibility bus."""
    from tests.conftest import start_xvfb

    proc, name = start_xvfb(1280, 800)
    try:
        yield Display(name, 1280, 800, proc.pid)
    finally:
        from tests.programs import stop_program

        stop_program(proc)


@pytest.fixture(scope="module")
def a11y_bus(a11y_screen: Display) -> Iterator[Any]:
    """A session D-Bus and the AT-SPI bus launcher for ``a11y_screen`` (tests/a11y.py)."""
    from tests.a11y import start_a11y_bus

    bus = start_a11y_bus(a11y_screen)
    yield bus
    bus.stop()
