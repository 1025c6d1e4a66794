"""Headless KWin (KDE Plasma's compositor) for the tests and benchmarks: a private session bus,
its own runtime, config, data and cache folders, stopped by the PID of its process group.

    kwin = HeadlessKWin(1280, 800).start()
    kwin.env          # WAYLAND_DISPLAY, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, XDG_*_HOME ...
    kwin.stop()

Why each step:
- Debian's /usr/bin/kwin_wayland carries a file capability (cap_sys_resource) that these machines
  refuse to exec ("Operation not permitted"): a copy of the binary (a copy has no capability)
  in the session's folder runs.
- ``dbus-run-session`` gives KWin a session bus of its own (KWin owns org.kde.KWin and
  org.kde.kglobalaccel on it); its address is written to a file by the shell it runs.
- XDG_DATA_HOME is the session's own: `tracer setup kde` writes its desktop entry there, and
  KWin's KSycoca reads it from there.
- Animations are off (kdeglobals AnimationDurationFactor=0): a window appears drawn at once.
- Waits are on state (the Wayland socket, ScreenShot2 on the bus), never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from tests.compositors import client_env

KWIN = "/usr/bin/kwin_wayland"


@dataclass
class HeadlessKWin:
    width: int = 1280
    height: int = 800
    scale: float = 1.0
    folder: str = ""
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def start(self, timeout: float = 30.0) -> HeadlessKWin:
        if not os.path.exists(KWIN):
            raise FileNotFoundError("kwin-wayland is not installed: bash examples/install.sh --test")
        started = time.monotonic()
        folder = self.folder = tempfile.mkdtemp(prefix="tracer-kwin-")
        binary = os.path.join(folder, "kwin_wayland")
        shutil.copyfile(KWIN, binary)  # without the file capability
        os.chmod(binary, 0o755)
        runtime = os.path.join(folder, "runtime")
        os.mkdir(runtime, 0o700)
        homes = {name: os.path.join(folder, name) for name in ("config", "data", "cache")}
        for path in homes.values():
            os.mkdir(path)
        with open(os.path.join(homes["config"], "kdeglobals"), "w") as fh:
            fh.write("[KDE]\nAnimationDurationFactor=0\n")
        socket = f"kwin-{os.getpid()}-{os.path.basename(folder)[-6:]}"
        self.env = {"XDG_RUNTIME_DIR": runtime, "HOME": folder,
                    "XDG_CONFIG_HOME": homes["config"], "XDG_DATA_HOME": homes["data"],
                    "XDG_CACHE_HOME": homes["cache"], "WAYLAND_DISPLAY": socket}
        bus_file = os.path.join(folder, "bus")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **self.env, "QT_QPA_PLATFORM": "offscreen"}
        script = (f'echo "$DBUS_SESSION_BUS_ADDRESS" > {bus_file}.tmp && mv {bus_file}.tmp '
                  f'{bus_file} && exec {binary} --virtual --width {self.width} --height '
                  f'{self.height} --scale {self.scale:g} --no-lockscreen --no-kactivities --socket {socket}')
        self._log = open(os.path.join(folder, "kwin.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(["dbus-run-session", "--", "sh", "-c", script], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(bus_file, started + timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["ready"] = time.monotonic() - started
        return self

    def _wait_ready(self, bus_file: str, deadline: float) -> None:
        from tracer_cli.desktop.platforms.dbus_client import Bus, BusError

        assert self.proc is not None
        socket = os.path.join(self.env["XDG_RUNTIME_DIR"], self.env["WAYLAND_DISPLAY"])
        while not (os.path.exists(socket) and os.path.exists(bus_file)):
            if self.proc.poll() is not None:
                raise RuntimeError(f"KWin exited with {self.proc.returncode}: {self.log()[-800:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("KWin made no Wayland socket")
            time.sleep(0.01)
        with open(bus_file) as fh:
            self.env["DBUS_SESSION_BUS_ADDRESS"] = fh.read().strip()
        bus = Bus(self.env["DBUS_SESSION_BUS_ADDRESS"])
        try:
            while True:  # ScreenShot2 is there once KWin has loaded its effects
                with contextlib.suppress(BusError):
                    bus.call("org.kde.KWin", "/org/kde/KWin/ScreenShot2",
                             "org.freedesktop.DBus.Properties", "Get", "ss",
                             ("org.kde.KWin.ScreenShot2", "Version"))
                    if bus.has_owner("org.kde.kglobalaccel"):
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"KWin offered no ScreenShot2: {self.log()[-800:]}")
                time.sleep(0.02)
        finally:
            bus.close()

    def client_env(self, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        """An environment for a program on this KWin: the session's variables, no others."""
        return client_env(self.env, "KDE", base, drop=("DBUS_SESSION_BUS_ADDRESS",), **extra)

    def log(self) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.folder, "kwin.log"),
                                                errors="replace") as fh:
            return fh.read()
        return ""

    def stop(self, timeout: float = 5.0) -> float:
        """End the session's process group (dbus-run-session, KWin, the bus), by its PID."""
        started = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:  # whatever else of the group is left (the bus daemon)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if hasattr(self, "_log"):
            self._log.close()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - started
        return self.timings["stop"]
