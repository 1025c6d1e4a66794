"""tracer on other GNOME desktops than the common one, each a headless mutter of its own: two
monitors (clicks on the second land on the exact pixel), scale 2 (the exact physical pixel,
odd ones too), and the user's session found from its sockets when an MCP client's launcher
strips the environment."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import done, plan
from tests.e2e.test_gnome import check_pixel_matrix
from tests.gnome_session import Gnome, running

pytestmark = pytest.mark.display


@pytest.fixture(scope="module")
def two_monitors() -> Iterator[Gnome]:
    yield from running(shell=False, x11=False, monitors=[(1280, 800), (1024, 768)])


@pytest.fixture(scope="module")
def scale_2() -> Iterator[Gnome]:
    yield from running(shell=False, x11=False, monitors=[(1920, 1200)], scale=2.0)


def test_clicks_on_the_second_monitor_land_on_the_exact_pixel(two_monitors: Gnome,
                                                              chat_server: Any) -> None:
    try:
        check_pixel_matrix(two_monitors, chat_server, monitor=2, left=1280)
    finally:
        two_monitors.stop_programs()


def test_clicks_at_scale_2_land_on_the_exact_physical_pixel(scale_2: Gnome,
                                                            chat_server: Any) -> None:
    try:
        check_pixel_matrix(scale_2, chat_server, monitor=1, scale=2)
    finally:
        scale_2.stop_programs()


@pytest.fixture
def user_session() -> Iterator[Gnome]:
    """A mutter session where a logged-in user's is: its runtime folder is /run/user/UID, with
    wayland-0 and the session bus in it (created here, removed after; a lock keeps two test
    runs of this machine from wanting it at once)."""
    folder = Path(f"/run/user/{os.getuid()}")
    with open(f"/tmp/tracer-test-run-user-{os.getuid()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if folder.exists():
            pytest.fail(f"{folder} exists (a real session of this user?): this test makes its "
                        "own there; run it where this user has no session")
        yield from running(shell=False, x11=False, monitors=[(1280, 800)],
                           runtime_dir=str(folder))


def test_mcp_finds_the_session_in_a_stripped_environment(user_session: Gnome,
                                                         tmp_path: Path) -> None:
    """The official SDK's stdio client passes only HOME, PATH, SHELL, TERM, USER and LOGNAME:
    tracer finds the Wayland socket, the session bus and what serves them by itself."""
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import get_default_environment, stdio_client

    from tests.e2e.test_mcp import data, image

    env = {**get_default_environment(), "TRACER_HOME": os.environ["TRACER_HOME"]}
    assert not {"DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS",
                "XDG_RUNTIME_DIR"} & set(env)
    params = StdioServerParameters(command=sys.executable, cwd=str(ROOT), env=env, args=[
        "-m", "tracer_cli", "mcp", "--kill-hotkey", "", "--pause-hotkey", ""])

    async def test() -> None:
        with (tmp_path / "server.log").open("a") as log:
            async with Client(stdio_client(params, errlog=log)) as client:
                shot = await client.call_tool("screenshot", {})
                info = data(shot)
                assert image(shot).size == (info["width"], info["height"])

    anyio.run(test)
    assert "MCP server on stdio" in (tmp_path / "server.log").read_text()


def test_the_compositor_ending_mid_run_is_one_line(chat_server: Any, background_tracer: Any) -> None:
    """mutter dies while a step runs: the watch sees its name leave the session bus; one line,
    exit 1, no traceback, and the run record says why."""
    import json
    import signal

    from tests.e2e.test_events import Lines

    for gnome in running(shell=False, x11=False, monitors=[(1024, 768)]):
        chat_server.queue(plan({"action": "wait", "seconds": 20}, done()))
        env = gnome.env()
        proc = background_tracer("do", "wait", "--yes", "--events", "jsonl", "-b", "openai",
                                 "--base-url", chat_server.base_url, "--kill-hotkey", "",
                                 "--pause-hotkey", "", env=env)
        lines = Lines(proc)
        lines.until(lambda e: e["event"] == "action")
        compositor = dict(gnome.session._procs)["shell"]
        compositor.send_signal(signal.SIGKILL)  # it crashed (headless mutter ignored SIGTERM here)
        end = lines.until(lambda e: e["event"] == "end", timeout=20)
        _, stderr = proc.communicate(timeout=20)

        assert proc.returncode == 1 and end["exit_code"] == 1, stderr
        assert "went away" in end["reason"] and "GNOME" in end["reason"], end
        assert "Traceback" not in stderr
        [line] = [x for x in stderr.splitlines() if x.startswith("tracer: error:")]
        assert "GNOME's compositor (mutter) went away" in line, line
        meta = json.loads(next((Path(env["TRACER_HOME"]) / "runs").glob("*/run.json")).read_text())
        assert meta["status"] == "error" and "went away" in meta["reason"]
