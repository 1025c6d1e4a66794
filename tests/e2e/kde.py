"""The KDE tests' desktop: one headless KWin for the whole test session (tests/kwin.py), tracer
authorised on it by the real `tracer setup kde`, Qt 5 and GTK 3 programs native on Wayland, a
fake input device of the tests' own (a person's keyboard, made after the authorisation), and
the environment a `tracer` on it gets.

Programs report window coordinates in logical units (Wayland hides a window's position from
it); KWin's scripting says where the window lies (kde_windows), and ``to_desktop`` turns a point
of the window into the desktop pixel tracer's screenshots show it at (scale 1 here)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import APPS, ROOT, run_tracer
from tests.kwin import HeadlessKWin
from tests.programs import LoggedProgram, wait_until

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with PyQt5 and gi (tracer's venv has neither)
QT_PROBE = APPS / "qt_probe.py"
GTK_PROBE = APPS / "gtk_probe.py"
GTK_FORM = APPS / "gtk_form.py"


@dataclass
class App(LoggedProgram):
    """A program on KWin, stopped by its PID."""

    desk: KdeDesktop

    def window(self) -> Any:
        for window in self.desk.platform().windows():
            if window.pid == self.pid:
                return window
        raise AssertionError(f"KWin lists no window of pid {self.pid}")

    def to_desktop(self, x: float, y: float) -> tuple[float, float]:
        """A point of the window (its own coordinates) as a desktop pixel."""
        bx, by, _, _ = self.window().buffer
        return bx + x, by + y

    def show(self) -> None:
        """Bring it to the front, with the keyboard focus."""
        from tracer_cli.desktop.platforms.kde_windows import activate

        activate(self.desk.platform().bus(), self.pid)
        wait_until(lambda: self.window().active, 5, "the window to have the focus")


@dataclass
class KdeDesktop:
    kwin: HeadlessKWin
    folder: Path
    keyboard: Any = None  # the tests' own KdeInput (a person's keyboard)
    apps: list[App] = field(default_factory=list)
    before_setup: Any = None  # `tracer doctor --json` before `tracer setup kde`
    setup: Any = None  # the `tracer setup kde` run

    @classmethod
    def start(cls, folder: Path, width: int = 1280, height: int = 800) -> KdeDesktop:
        desk = cls(HeadlessKWin(width, height).start(), folder)
        try:
            env = desk.env(folder / "runtime-setup")
            desk.before_setup = run_tracer("doctor", "--json", "--platform", "kde", "-b", "openai",
                                           "--base-url", "http://127.0.0.1:9/v1", env=env,
                                           timeout=60)
            desk.setup = run_tracer("setup", "kde", env=env, timeout=60)
            assert desk.setup.returncode == 0, desk.setup.stderr
            desk.keyboard = desk.platform().open_input()  # authorised now: a connection after it
        except BaseException:
            desk.stop()
            raise
        return desk

    def platform(self) -> Any:
        from tracer_cli.desktop.platforms.kde import KdePlatform

        return KdePlatform(self.kwin.env["WAYLAND_DISPLAY"], env=self.kwin.client_env())

    def env(self, runtime: Path, **extra: str) -> dict[str, str]:
        """The environment of a `tracer` on this KWin: the session's variables, short settle
        waits, and a control-socket folder of the test's own (`tracer stop` reaches only it)."""
        runtime.mkdir(exist_ok=True)
        env = self.kwin.client_env(TRACER_SETTLE_QUIET="0.1", TRACER_SETTLE_TIMEOUT="2",
                                   TRACER_RUNTIME_DIR=str(runtime))
        env.update(extra)
        return env

    def launch(self, argv: list[str], log: Path, a11y: str = "", **extra: str) -> App:
        """Start a program; returns once KWin lists its window. ``a11y``: a session bus whose
        accessibility bus the program exposes its tree on (tests/a11y.py)."""
        env = self.kwin.client_env(QT_QPA_PLATFORM="wayland", GDK_BACKEND="wayland",
                                   NO_AT_BRIDGE="1", **extra)
        if a11y:
            env.pop("NO_AT_BRIDGE")
            env.pop("AT_SPI_BUS_ADDRESS", None)
            env["DBUS_SESSION_BUS_ADDRESS"] = a11y
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        app = App(proc, log, self)
        self.apps.append(app)

        def mapped() -> bool:
            assert proc.poll() is None, f"{argv[1]} exited with {proc.returncode}"
            try:
                return app.window().buffer[2] > 0
            except AssertionError:
                return False

        wait_until(mapped, 15, f"the window of {Path(argv[1]).name}")
        return app

    def qt(self, name: str, fullscreen: bool = False) -> App:
        """tests/apps/qt_probe.py (a form and a canvas), drawn and logging."""
        log = self.folder / f"{name}.jsonl"
        log.write_text("")
        app = self.launch([SYSTEM_PYTHON, str(QT_PROBE), str(log), name], log,
                          PROBE_FULLSCREEN="1" if fullscreen else "0")
        wait_until(lambda: app.events("ready"), 15, "the Qt probe to be drawn")
        return app

    def gtk(self, name: str, fullscreen: bool = False) -> App:
        """tests/apps/gtk_probe.py, drawn and logging."""
        log = self.folder / f"{name}.jsonl"
        log.write_text("")
        app = self.launch([SYSTEM_PYTHON, str(GTK_PROBE), str(log), name], log,
                          PROBE_FULLSCREEN="1" if fullscreen else "0")
        wait_until(lambda: app.events("ready"), 15, "the GTK probe to be drawn")
        return app

    def gtk_form(self, state: Path) -> App:
        """tests/apps/gtk_form.py, drawn, its state in ``state``."""
        app = self.launch([SYSTEM_PYTHON, str(GTK_FORM), str(state)], state)
        wait_until(lambda: state.exists() and json.loads(state.read_text())["boxes"]["order"][2],
                   15, "the form to be drawn")
        return app

    def wait_settled(self, monitor: int = 1) -> None:
        from tracer_cli.desktop.screen import wait_settled

        screen = self.platform().open_screen(monitor)
        try:
            wait_settled(screen, 0.2, 5)
        finally:
            screen.close()

    def grab(self, monitor: int = 1) -> Any:
        from tracer_cli.desktop.screen import wait_settled

        screen = self.platform().open_screen(monitor)
        try:
            wait_settled(screen, 0.2, 5)
            return screen.settled_capture().image
        finally:
            screen.close()

    def chord(self, *keys: str) -> None:
        """Press and let go of a chord on the tests' own fake input device (a person's)."""
        for key in keys:
            self.keyboard.key(key, True)
        time.sleep(0.03)
        for key in reversed(keys):
            self.keyboard.key(key, False)
        self.keyboard.session.sync()

    def stop(self) -> None:
        from tracer_cli.desktop.platforms.kde_session import close_all

        for app in reversed(self.apps):
            app.stop()
        if self.keyboard is not None:
            self.keyboard.close()
            self.keyboard = None
        close_all()  # before KWin ends: a connection collected after it crashed Python
        self.kwin.stop()
