"""The wlroots tests' desktop: one headless sway for the whole test session (tests/compositors.py),
GTK 3 programs native on Wayland shown one per workspace, a virtual keyboard and pointer of the
tests' own (made before any program starts, so that the seat has a keyboard: see
wlr_input.NEW_DEVICE_GRACE), and the environment a `tracer` on it gets.

Programs report window coordinates in layout units (Wayland hides a window's position from
it); sway's tree says where the window lies, and ``to_desktop`` turns a layout point into the
desktop pixel tracer's screenshots show it at."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.compositors import HeadlessSway
from tests.conftest import APPS, ROOT
from tests.programs import LoggedProgram, wait_until

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi (tracer's venv has no gi)
GTK_PROBE = APPS / "gtk_probe.py"
GTK_FORM = APPS / "gtk_form.py"


def iter_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("nodes", []) + node.get("floating_nodes", []):
        yield from iter_nodes(child)


@dataclass
class App(LoggedProgram):
    """A program on sway, stopped by its PID."""

    desk: SwayDesktop
    workspace: str

    def node(self) -> dict[str, Any]:
        assert self.desk.sway.ipc is not None
        tree = self.desk.sway.ipc.request(4)
        for node in iter_nodes(tree):
            if node.get("pid") == self.pid and node.get("type") in ("con", "floating_con"):
                return node
        raise AssertionError(f"no window of pid {self.pid} in sway's tree")

    def origin(self) -> tuple[int, int]:
        """Where the window's content starts, in layout units."""
        node = self.node()
        return (node["rect"]["x"] + node["window_rect"]["x"],
                node["rect"]["y"] + node["window_rect"]["y"])

    def to_desktop(self, x: float, y: float) -> tuple[float, float]:
        """A point of the window (layout units) as a desktop pixel."""
        ox, oy = self.origin()
        return self.desk.to_desktop(ox + x, oy + y)

    def show(self) -> None:
        """Bring its workspace to the front, with the keyboard focus on it."""
        assert self.desk.sway.ipc is not None
        self.desk.sway.ipc.command(f"[pid={self.pid}] focus")
        wait_until(lambda: self.node().get("focused"), 5, "the window to have the focus")


@dataclass
class SwayDesktop:
    sway: HeadlessSway
    folder: Path
    keyboard: Any = None  # the tests' own WlrInput
    apps: list[App] = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path, outputs: list[tuple[int, int]] | None = None) -> SwayDesktop:
        sway = HeadlessSway(outputs=outputs or [(1280, 800)]).start()
        desk = cls(sway, folder)
        try:
            desk.keyboard = desk.platform().open_input()
        except BaseException:
            desk.stop()
            raise
        return desk

    def platform(self) -> Any:
        from tracer_cli.desktop.platforms.wlroots import WlrootsPlatform

        return WlrootsPlatform(self.sway.env["WAYLAND_DISPLAY"], env=self.sway.client_env())

    def env(self, runtime: Path, **extra: str) -> dict[str, str]:
        """The environment of a `tracer` on this sway: the session's variables, short settle
        waits, and a control-socket folder of the test's own (`tracer stop` reaches only it)."""
        env = self.sway.client_env(TRACER_SETTLE_QUIET="0.1", TRACER_SETTLE_TIMEOUT="2",
                                   TRACER_RUNTIME_DIR=str(runtime))
        env.pop("XDG_RUNTIME_DIR", None)
        env.update(extra)
        return env

    def outputs(self) -> list[dict[str, Any]]:
        return self.sway.outputs_now()

    def to_desktop(self, lx: float, ly: float) -> tuple[float, float]:
        """A layout point as a desktop pixel: outputs at their layout place times the largest
        scale, each counting its own physical pixels (wlr_session's placing)."""
        outputs = self.outputs()
        most = max(o["scale"] for o in outputs)
        x0 = min(o["rect"]["x"] for o in outputs)
        y0 = min(o["rect"]["y"] for o in outputs)
        for o in outputs:
            r = o["rect"]
            if r["x"] <= lx < r["x"] + r["width"] and r["y"] <= ly < r["y"] + r["height"]:
                return ((r["x"] - x0) * most + (lx - r["x"]) * o["scale"],
                        (r["y"] - y0) * most + (ly - r["y"]) * o["scale"])
        raise AssertionError(f"layout point ({lx},{ly}) is on no output")

    def launch(self, argv: list[str], workspace: str, output: str = "HEADLESS-1",
               log: Path | None = None, a11y: str = "", **extra: str) -> App:
        """Start a program on a workspace of its own on ``output``; returns once its window is
        in sway's tree with a size. ``a11y``: a session bus whose accessibility bus the program
        exposes its tree on (tests/a11y.py); ``extra``: more of its environment."""
        ipc = self.sway.ipc
        assert ipc is not None
        ipc.command(f"focus output {output}")
        ipc.command(f"workspace {workspace}")
        env = self.sway.client_env(GDK_BACKEND="wayland", NO_AT_BRIDGE="1",
                                   XDG_RUNTIME_DIR=self.sway.runtime_dir, **extra)
        env.pop("DISPLAY", None)  # GTK stays on Wayland
        if a11y:
            env.pop("NO_AT_BRIDGE")
            env.pop("AT_SPI_BUS_ADDRESS", None)
            env["DBUS_SESSION_BUS_ADDRESS"] = a11y
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        app = App(proc, log or self.folder / f"{workspace}.jsonl", self, workspace)
        self.apps.append(app)

        def mapped() -> bool:
            assert proc.poll() is None, f"{argv[1]} exited with {proc.returncode}"
            try:
                return app.node()["rect"]["width"] > 0
            except AssertionError:
                return False

        wait_until(mapped, 15, f"the window of {Path(argv[1]).name}")
        return app

    def probe(self, workspace: str, output: str = "HEADLESS-1") -> App:
        """tests/apps/gtk_probe.py, drawn and logging."""
        log = self.folder / f"{workspace}.jsonl"
        log.write_text("")
        app = self.launch([SYSTEM_PYTHON, str(GTK_PROBE), str(log), workspace], workspace,
                          output, log)
        wait_until(lambda: app.events("ready"), 15, "the probe to be drawn")
        return app

    def form(self, workspace: str, state: Path) -> App:
        """tests/apps/gtk_form.py, drawn, its state in ``state``."""
        app = self.launch([SYSTEM_PYTHON, str(GTK_FORM), str(state)], workspace, log=state)
        wait_until(lambda: state.exists() and json.loads(state.read_text())["boxes"]["order"][2],
                   15, "the form to be drawn")
        return app

    def wait_settled(self, monitor: int = 1) -> None:
        """Until the monitor has not changed for 0.3 s."""
        screen = self.platform().open_screen(monitor)
        try:
            screen.wait_settled(0.3, 5)
        finally:
            screen.close()

    def grab(self, monitor: int = 1) -> Any:
        """The monitor once it has settled."""
        screen = self.platform().open_screen(monitor)
        try:
            screen.wait_settled(0.3, 5)
            return screen.settled_capture().image
        finally:
            screen.close()

    def chord(self, *keys: str) -> None:
        """Press and let go of a chord on the tests' own virtual keyboard (a person's)."""
        for key in keys:
            self.keyboard.key(key, True)
        for key in reversed(keys):
            self.keyboard.key(key, False)
        self.keyboard.session.sync()

    def stop(self) -> None:
        from tracer_cli.desktop.platforms.wlr_session import close_session

        for app in reversed(self.apps):
            app.stop()
        if self.keyboard is not None:
            self.keyboard.close()
            self.keyboard = None
        if self.sway.env:  # before sway ends: a connection collected after it crashed Python
            close_session(self.sway.env["WAYLAND_DISPLAY"])
        self.sway.stop()
