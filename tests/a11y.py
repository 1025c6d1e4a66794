"""An accessibility bus for a test display: a private session D-Bus (dbus-daemon) and AT-SPI's
bus launcher on it (which starts the accessibility bus and, on demand, the registry). Programs
started with ``env()`` expose their trees there (GTK 3 by itself). Everything is stopped by its
PID: the launcher takes its bus and the registry with it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Display
from tests.programs import LoggedProgram, stop_program, wait_until

LAUNCHER = Path("/usr/libexec/at-spi-bus-launcher")


@dataclass
class A11yBus:
    display: Display
    session: str  # the session bus's address
    daemon: subprocess.Popen[Any]
    launcher: subprocess.Popen[Any]

    def env(self, **extra: str) -> dict[str, str]:
        """The display's environment with this session bus (and nothing turning the tree off)."""
        env = {**self.display.env(), "DBUS_SESSION_BUS_ADDRESS": self.session, **extra}
        for name in ("NO_AT_BRIDGE", "AT_SPI_BUS_ADDRESS"):
            env.pop(name, None)
        return env

    def address(self) -> str:
        """The accessibility bus's own address (org.a11y.Bus GetAddress)."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(self.session)
        try:
            reply = conn.send_and_get_reply(new_method_call(
                DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus"), "GetAddress"),
                timeout=10)
            return str(reply.body[0])
        finally:
            conn.close()

    def stop(self) -> None:
        stop_program(self.launcher)
        stop_program(self.daemon)


def _owned(session: str, name: str) -> bool:
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(session)
    try:
        return bool(conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=10).body[0])
    finally:
        conn.close()


def start_a11y_bus(display: Display) -> A11yBus:
    if not LAUNCHER.exists():
        pytest.fail("at-spi2-core is not installed: apt-get install -y at-spi2-core")
    read_fd, write_fd = os.pipe()
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                               f"--print-address={write_fd}"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        session = reader.readline().strip()
    if not session:
        stop_program(daemon)
        pytest.fail("dbus-daemon gave no address")
    env = {**display.env(), "DBUS_SESSION_BUS_ADDRESS": session}
    launcher = subprocess.Popen([str(LAUNCHER), "--launch-immediately"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bus = A11yBus(display, session, daemon, launcher)
    try:
        wait_until(lambda: _owned(session, "org.a11y.Bus"), 20, "the accessibility bus launcher")
    except AssertionError:
        bus.stop()
        raise
    return bus


CALC = Path(__file__).parent / "apps" / "gtk_calc.py"


def start_calc(bus: A11yBus, log: Path, title: str = "gtk calc", at: tuple[int, int] = (100, 100),
               **env: str) -> LoggedProgram:
    """tests/apps/gtk_calc.py on the bus's display at ``at``, drawn and in the tree."""
    proc = subprocess.Popen(["/usr/bin/python3", str(CALC), str(log), title, "{},{}".format(*at)],
                            env=bus.env(**env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    app = LoggedProgram(proc, log)
    try:
        wait_until(lambda: app.events("ready") or proc.poll() is not None, 30, "gtk_calc drawn")
        assert proc.poll() is None, f"gtk_calc exited with {proc.returncode}"
    except BaseException:
        app.stop()
        raise
    return app


def chromium_argv(page: Path, profile: Path, at: str = "0,0", size: str = "800,600") -> list[str]:
    """Chromium showing ``page`` as an app window at ``at``, its page in the tree."""
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium "
                    "(bash examples/install.sh --test)")
    return [browser, "--no-sandbox", "--force-renderer-accessibility",
            f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", "--disable-extensions", "--password-store=basic",
            "--force-device-scale-factor=1", f"--window-position={at}", f"--window-size={size}",
            f"--app={page.as_uri()}"]


def start_chromium(bus: A11yBus, page: Path, profile: Path, at: str = "0,0") -> subprocess.Popen[Any]:
    """Chromium on the bus's display (ACCESSIBILITY_ENABLED=1: it registers on the bus)."""
    return subprocess.Popen(chromium_argv(page, profile, at), env=bus.env(ACCESSIBILITY_ENABLED="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_qt(bus: A11yBus, log: Path) -> subprocess.Popen[Any]:
    """tests/apps/qt_probe.py (PyQt5 on X11) with its tree on; what it prints goes to LOG.err.
    Without the Qt paths opencv-python puts into the environment of the process that imports
    cv2 (its own Qt's plugins, which the system's Qt cannot load)."""
    env = bus.env(QT_QPA_PLATFORM="xcb", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1")
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        env.pop(name, None)
    with open(f"{log}.err", "wb") as err:
        return subprocess.Popen(
            ["/usr/bin/python3", str(Path(__file__).parent / "apps" / "qt_probe.py"), str(log),
             "qt tree"], env=env, stdout=err, stderr=err)


def clicked(pointer: Any, app: LoggedProgram, points: list[tuple[int, int]],
            then: tuple[int, int], last: str = "=") -> list[str]:
    """What a calculator says was clicked at each desktop pixel (through ``pointer``, a Wayland
    Input of the tests' own), up to a click at ``then``, on its button ``last``: once that one
    is logged, so is whatever the clicks before it reached."""
    app.clear()
    for x, y in [*points, then]:
        pointer.click(x, y)
        pointer.session.sync()
    wait_until(lambda: (e := app.events("button")) and e[-1]["label"] == last, 10, "the clicks")
    return [e["label"] for e in app.events("button")]
