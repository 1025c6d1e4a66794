"""Finding the user's session from its sockets when the environment is stripped (an MCP
client's launcher): a fake runtime folder and X socket folder with real listening sockets."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tracer_cli.desktop import session
from tracer_cli.desktop.platform import detect
from tracer_cli.errors import DisplayError

UID = os.getuid()


@pytest.fixture
def listen() -> Iterator[Callable[..., Path]]:
    """Make a listening unix socket at a path (closed after the test); ``dead``: bound, then
    closed, as a session that ended leaves it."""
    opened: list[socket.socket] = []

    def make(path: Path, dead: bool = False) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(1)
        if dead:
            sock.close()
        else:
            opened.append(sock)
        return path

    yield make
    for sock in opened:
        sock.close()


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    runtime_root, x11 = tmp_path / "run-user", tmp_path / "X11-unix"
    (runtime_root / str(UID)).mkdir(parents=True, mode=0o700)
    x11.mkdir()
    return runtime_root, x11


def strip(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment without the session's variables, as an MCP client's launcher
    leaves it (and as it was after the test: fill() writes to os.environ)."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS",
                 "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP", "SWAYSOCK"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def find(env: dict[str, str], roots: tuple[Path, Path]) -> dict[str, str]:
    return session.find(env, UID, *roots)


def test_one_socket_of_each_kind_fills_every_variable(listen: Callable[..., Path],
                                                      roots: tuple[Path, Path]) -> None:
    runtime = roots[0] / str(UID)
    listen(runtime / "wayland-0")
    listen(runtime / "bus")
    listen(runtime / "sway-ipc.1000.4242.sock")
    listen(roots[1] / "X3")
    assert find({"HOME": "/home/u", "PATH": "/usr/bin"}, roots) == {
        "XDG_RUNTIME_DIR": str(runtime), "WAYLAND_DISPLAY": "wayland-0",
        "XDG_SESSION_TYPE": "wayland", "DBUS_SESSION_BUS_ADDRESS": f"unix:path={runtime}/bus",
        "SWAYSOCK": str(runtime / "sway-ipc.1000.4242.sock"), "DISPLAY": ":3"}


def test_what_is_set_is_never_overridden(listen: Callable[..., Path],
                                         roots: tuple[Path, Path]) -> None:
    runtime = roots[0] / str(UID)
    listen(runtime / "wayland-0")
    listen(runtime / "bus")
    listen(roots[1] / "X3")
    env = {"DISPLAY": ":9", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/elsewhere",
           "XDG_SESSION_TYPE": "x11"}
    assert find(env, roots) == {"XDG_RUNTIME_DIR": str(runtime), "WAYLAND_DISPLAY": "wayland-0"}


def test_several_of_a_kind_or_dead_ones_fill_nothing_of_that_kind(
        listen: Callable[..., Path], roots: tuple[Path, Path]) -> None:
    runtime = roots[0] / str(UID)
    listen(runtime / "wayland-0")
    listen(runtime / "wayland-1")  # two compositors: which one is the user's is unknown
    listen(runtime / "bus", dead=True)  # a bus that ended left its socket
    listen(roots[1] / "X0")
    listen(roots[1] / "X1")
    listen(roots[1] / "X7", dead=True)
    assert find({}, roots) == {"XDG_RUNTIME_DIR": str(runtime)}


def test_sockets_of_other_users_do_not_count(listen: Callable[..., Path],
                                             roots: tuple[Path, Path]) -> None:
    if UID != 0:
        pytest.skip("giving a socket to another user needs root")
    runtime = roots[0] / str(UID)
    os.chown(listen(runtime / "wayland-0"), 4321, 4321)
    os.chown(listen(roots[1] / "X0"), 4321, 4321)
    listen(roots[1] / "X2")
    assert find({}, roots) == {"XDG_RUNTIME_DIR": str(runtime), "DISPLAY": ":2"}


def test_a_runtime_folder_of_someone_else_is_not_used(listen: Callable[..., Path],
                                                      roots: tuple[Path, Path]) -> None:
    runtime = roots[0] / str(UID)
    listen(runtime / "wayland-0")
    if UID == 0:
        os.chown(runtime, 4321, 4321)
        assert find({}, roots) == {}
    assert find({"XDG_RUNTIME_DIR": str(roots[0] / "none")}, roots) == {}


def test_the_compositor_is_named_by_the_process_serving_its_socket(
        listen: Callable[..., Path], roots: tuple[Path, Path]) -> None:
    path = listen(roots[0] / str(UID) / "wayland-0")
    assert session.server_name(path) == Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert session.server_name(path.with_name("wayland-9")) == ""


def test_detect_fills_a_stripped_environment(listen: Callable[..., Path], roots: tuple[Path, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = roots[0] / str(UID)
    listen(runtime / "wayland-0")
    listen(runtime / "bus")
    monkeypatch.setattr(session, "RUNTIME_ROOT", roots[0])
    monkeypatch.setattr(session, "X11_SOCKETS", roots[1])
    strip(monkeypatch)
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "GNOME")  # the socket's server here is pytest
    assert detect() == ("gnome", "wayland-0")
    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == f"unix:path={runtime}/bus"


def test_detect_still_says_what_to_set_when_nothing_is_found(
        roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "RUNTIME_ROOT", roots[0])
    monkeypatch.setattr(session, "X11_SOCKETS", roots[1])
    strip(monkeypatch)
    with pytest.raises(DisplayError, match="neither DISPLAY nor WAYLAND_DISPLAY"):
        detect()
