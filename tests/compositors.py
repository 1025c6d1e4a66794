"""Headless sway for the tests (and benchmarks): started as an unprivileged uid of its own, with
its own runtime folder, stopped by PID and uid.

    sway = HeadlessSway(outputs=[(1280, 800)]).start()
    sway.env          # WAYLAND_DISPLAY (an absolute path), SWAYSOCK, DISPLAY, XAUTHORITY
    sway.ipc.command("create_output")
    sway.stop()

Why each step:
- sway 1.7 refuses to run as root: it runs under ``setpriv --reuid/--regid --clear-groups`` as
  a uid no process uses (from a range; no passwd entry needed). Every process of that uid is
  sway's, so ``stop()`` also finds Xwayland, which wlroots double-forks away from sway.
- Its runtime folder is 0700 and owned by that uid: root reaches the sockets in it through
  CAP_DAC_OVERRIDE; ``grant(uid)`` adds ACLs (x on the folder, rw on the sockets) for a client
  without it, and ``start`` grants the user who started sway.
- sway's Xwayland (wlroots 0.15, sockets passed with -listenfd) refuses every client, because
  the X server never records its own addresses: WLR_XWAYLAND points at a wrapper adding
  ``-auth <cookie file>``, and clients get a matching XAUTHORITY.
- Waits are on state (sockets, IPC answers, outputs configured), never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from tracer_cli.desktop.platforms.swayipc import SwayIPC, SwayIPCError

UIDS = range(61200, 61300)
PR_SET_CHILD_SUBREAPER = 36


def _xauth_entry(number: str, cookie: bytes) -> bytes:
    """One Xauthority record: any address, display ``number``, MIT-MAGIC-COOKIE-1."""
    def counted(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    return (struct.pack(">H", 0xFFFF) + counted(b"") + counted(number.encode())
            + counted(b"MIT-MAGIC-COOKIE-1") + counted(cookie))


def pids_of_uid(uid: int, zombies: bool = False) -> list[int]:
    """The live processes of ``uid`` (its zombies instead, with ``zombies``)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat") as stat:
                if (stat.read().rsplit(")", 1)[1].split()[0] == "Z") == zombies:
                    found.append(int(name))
        except (OSError, IndexError):
            continue
    return found


def free_uid() -> int:
    """A uid of the range that runs nothing (another test session may use one: start apart)."""
    candidates = list(UIDS)
    random.shuffle(candidates)
    for uid in candidates:
        if not pids_of_uid(uid) and not any(n.startswith(f"tracer-wl-{uid}-")
                                            for n in os.listdir(tempfile.gettempdir())):
            return uid
    raise RuntimeError(f"every uid of {UIDS} runs processes")


# Variables of the tests' own session that a program on a headless compositor must not see.
SESSION_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK", "XAUTHORITY", "XDG_CURRENT_DESKTOP",
                     "XDG_SESSION_TYPE", "HYPRLAND_INSTANCE_SIGNATURE")


def client_env(own: dict[str, str], desktop: str, base: dict[str, str] | None = None,
               drop: tuple[str, ...] = (), **extra: str) -> dict[str, str]:
    """An environment for a program on a headless compositor whose session has the variables
    ``own``: those of ``base`` (this process's by default) without the session's (and
    ``drop``), then ``own``, a Wayland session of ``desktop``, and ``extra``."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in SESSION_VARIABLES and k not in drop}
    env.update(own, XDG_SESSION_TYPE="wayland", XDG_CURRENT_DESKTOP=desktop, **extra)
    return env


@dataclass
class HeadlessSway:
    outputs: list[tuple[int, int]] = field(default_factory=lambda: [(1280, 800)])
    scale: float = 1.0
    xwayland: bool = True
    uid: int = 0  # 0: a free one of UIDS
    proc: subprocess.Popen[bytes] | None = None
    runtime_dir: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ipc: SwayIPC | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def start(self, timeout: float = 15.0) -> HeadlessSway:
        if not shutil.which("sway"):
            raise FileNotFoundError("sway is not installed: bash examples/install.sh --test")
        if os.geteuid() == 0:  # Xwayland is double-forked: reap it here, not as a zombie
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.uid = self.uid or free_uid()
        started = time.monotonic()
        folder = self.runtime_dir = tempfile.mkdtemp(prefix=f"tracer-wl-{self.uid}-")
        os.chmod(folder, 0o700)
        cookie = secrets.token_bytes(16)
        self._cookie = cookie
        with open(os.path.join(folder, "xauth-server"), "wb") as fh:
            fh.write(_xauth_entry("", cookie))
        wrapper = os.path.join(folder, "xwayland-auth")
        with open(wrapper, "w") as fh:
            fh.write('#!/bin/sh\nexec Xwayland "$@" -auth "$XDG_RUNTIME_DIR/xauth-server"\n')
        os.chmod(wrapper, 0o755)
        lines, x = [], 0.0
        for n, (width, height) in enumerate(self.outputs, 1):
            lines.append(f"output HEADLESS-{n} resolution {width}x{height} position {int(x)} 0 "
                         f"scale {self.scale}")
            x += width / self.scale
        lines += ["xwayland " + ("enable" if self.xwayland else "disable"),
                  "default_border none", "default_floating_border none",
                  "focus_follows_mouse no"]
        with open(os.path.join(folder, "config"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        for name in [*os.listdir(folder), "."]:
            os.chown(os.path.join(folder, name), self.uid, self.uid)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": folder, "XDG_RUNTIME_DIR": folder,
               "WLR_BACKENDS": "headless", "WLR_RENDERER": "pixman",
               "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_XWAYLAND": wrapper}
        self._log = open(os.path.join(folder, "sway.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
             "sway", "-c", os.path.join(folder, "config")],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            self._wait_ready(started + timeout, cookie)
            if shutil.which("setfacl"):  # this user connects even without CAP_DAC_OVERRIDE
                self.grant(os.getuid())
        except BaseException:
            self.stop()
            raise
        self.timings["ready"] = time.monotonic() - started
        return self

    def _wait_ready(self, deadline: float, cookie: bytes) -> None:
        assert self.proc is not None
        folder = self.runtime_dir
        ipc_path = f"{folder}/sway-ipc.{self.uid}.{self.proc.pid}.sock"  # setpriv execs sway
        wayland = ""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sway exited with {self.proc.returncode}: "
                                   f"{self.log()[-800:]}")
            wayland = wayland or next((n for n in os.listdir(folder) if n.startswith("wayland-")
                                       and not n.endswith(".lock")), "")
            if wayland and os.path.exists(ipc_path):
                with contextlib.suppress(SwayIPCError):
                    self.ipc = SwayIPC(ipc_path)
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("sway made no sockets")
            time.sleep(0.005)
        for _ in self.outputs[1:]:
            self.ipc.command("create_output")
        self.wait_outputs([(round(w / self.scale), round(h / self.scale)) for w, h in self.outputs],
                          deadline - time.monotonic())
        self.env = {"WAYLAND_DISPLAY": os.path.join(folder, wayland), "SWAYSOCK": ipc_path}
        if self.xwayland:
            number = self._x_display(deadline)
            xauth = os.path.join(folder, "xauth-client")
            with open(xauth, "wb") as fh:
                fh.write(_xauth_entry(str(number), cookie))
            os.chmod(xauth, 0o600)
            self.env.update(DISPLAY=f":{number}", XAUTHORITY=xauth)

    def outputs_now(self) -> list[dict[str, Any]]:
        assert self.ipc is not None
        return sorted((o for o in self.ipc.request(3) if o.get("active")),
                      key=lambda o: (o["rect"]["x"], o["rect"]["y"]))

    def wait_outputs(self, logical: list[tuple[int, int]], timeout: float = 5.0) -> None:
        """Wait until the active outputs have these logical sizes, left to right."""
        deadline = time.monotonic() + timeout
        while True:
            got = [(o["rect"]["width"], o["rect"]["height"]) for o in self.outputs_now()]
            if got == logical:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"sway's outputs are {got}, not {logical}")
            time.sleep(0.005)

    def _x_display(self, deadline: float) -> int:
        """wlroots writes sway's PID (and a NUL) into /tmp/.X<n>-lock for the display it takes."""
        assert self.proc is not None
        while True:
            for name in os.listdir("/tmp"):
                if name.startswith(".X") and name.endswith("-lock"):
                    with contextlib.suppress(OSError, ValueError), open(f"/tmp/{name}") as fh:
                        if int(fh.read().strip(" \n\x00") or 0) == self.proc.pid:
                            return int(name[2:-5])
            if time.monotonic() > deadline:
                raise TimeoutError("sway took no X display (is xwayland installed?)")
            time.sleep(0.005)

    def log(self) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.runtime_dir, "sway.log"),
                                                errors="replace") as fh:
            return fh.read()
        return ""

    def grant(self, uid: int) -> None:
        """Let ``uid`` connect without CAP_DAC_OVERRIDE: ACLs on the folder and the sockets."""
        subprocess.run(["setfacl", "-m", f"u:{uid}:x", self.runtime_dir], check=True)
        for path in (self.env["WAYLAND_DISPLAY"], self.env["SWAYSOCK"]):
            subprocess.run(["setfacl", "-m", f"u:{uid}:rw", path], check=True)

    def client_env(self, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        """An environment for a program on this sway: the session's variables, no others."""
        return client_env(self.env, "sway", base, **extra)

    def stop(self, timeout: float = 5.0) -> float:
        """End sway (SIGTERM, then SIGKILL) and every process of its uid; remove its folder."""
        started = time.monotonic()
        if self.ipc is not None:
            self.ipc.close()
            self.ipc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + timeout
        while self.uid and (left := pids_of_uid(self.uid)):
            if time.monotonic() > deadline:
                for pid in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        for pid in pids_of_uid(self.uid, zombies=True) if self.uid else []:
            with contextlib.suppress(ChildProcessError):  # re-parented to us (the subreaper)
                os.waitpid(pid, os.WNOHANG)
        if self.runtime_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        if hasattr(self, "_log"):
            self._log.close()
        self.timings["stop"] = time.monotonic() - started
        return self.timings["stop"]
