"""Sandbox desktops: a private X display (Xvfb, or Xephyr in a window on the user's own display
with ``watch``), a small window manager (openbox) so windows get focus and title bars, and the
programs the task needs. tracer acts there; the user's pointer and keyboard are never touched.

A sandbox's processes share the X server's process group, so stopping it ends every one of
them (a program started from another session, which cannot join that group, gets one of its own,
recorded with the sandbox); a record of each sandbox (name, display, process groups) lives under
the tracer data directory for ``tracer sandbox list | stop | exec``. A named sandbox has a
session of its own and outlives the terminal that started it. A temporary one (``tracer do
--sandbox``, ``tracer batch``) also dies with the tracer process that made it (the kernel's
parent-death signal), even when that process is killed outright.

The display gets its own authorisation cookie in a private Xauthority file (which keeps the
user's own entries, so the kill switch can still reach the user's display): other users cannot
connect, and python-xlib finds a cookie instead of printing "no xauthority details available"
on every connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tracer_cli import paths
from tracer_cli.errors import ConfigError, DisplayError, TracerError

INSTALL = "apt-get install -y xvfb xserver-xephyr openbox"
COOKIE = b"MIT-MAGIC-COOKIE-1"
FAMILY_LOCAL = 256
_PR_SET_PDEATHSIG = 1


class SandboxEnded(TracerError):
    """The sandbox's X server ended while tracer worked in it (the run stops, exit code 1)."""


def sandboxes_dir() -> Path:
    return paths.data_dir() / "sandboxes"


def parse_size(size: str) -> tuple[int, int]:
    """``1280x800`` -> (1280, 800); a one-line error with an example otherwise."""
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"sandbox size {size!r} is not WIDTHxHEIGHT",
                          "give it like --size 1280x800") from None
    if not (200 <= width <= 8192 and 200 <= height <= 8192):
        raise ConfigError(f"sandbox size {size!r} is out of range",
                          "give 200 to 8192 pixels each way, like --size 1280x800")
    return width, height


def split_command(command: str) -> list[str]:
    """A program's command line as the user wrote it (shell quoting; no shell runs it)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"cannot read the command {command!r}: {exc}",
                          "quote it as in a shell, e.g. --app 'xterm -T notes'") from None
    if not argv:
        raise ConfigError("an empty program command", "give a command, e.g. --app xterm")
    if not shutil.which(argv[0]):
        raise ConfigError(f"program {argv[0]!r} not found", "give a command on PATH or a full path")
    return argv


@dataclass
class Sandbox:
    """One sandbox desktop. ``pgid`` is the X server's PID and the group of all its processes."""

    name: str
    display: str
    width: int
    height: int
    pgid: int
    xauthority: str
    watch: bool = False
    apps: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    temporary: bool = False
    groups: list[int] = field(default_factory=list)  # programs' own groups (see exec)

    # ---- state
    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a program that should run in the sandbox."""
        return {**(os.environ if base is None else base), "DISPLAY": self.display,
                "XAUTHORITY": self.xauthority}

    def alive(self) -> bool:
        return _group_alive(self.pgid)

    def ended(self) -> SandboxEnded:
        return SandboxEnded(f"the sandbox {self.name} ({self.display}) ended")

    def record_path(self) -> Path:
        return sandboxes_dir() / f"{self.name}.json"

    def save(self) -> None:
        sandboxes_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.record_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        tmp.replace(self.record_path())

    # ---- programs
    def exec(self, argv: Sequence[str], *, quiet: bool = True,
             cwd: str | None = None) -> subprocess.Popen[bytes]:
        """Start a program in the sandbox, in its process group (stopping the sandbox ends it).
        From another session (a named sandbox's group cannot be joined from there) the program
        gets a group of its own, recorded with the sandbox and ended with it."""
        out = subprocess.DEVNULL if quiet else None
        common: dict[str, Any] = {"env": self.env(), "cwd": cwd, "stdin": subprocess.DEVNULL,
                                  "stdout": out, "stderr": out,
                                  "preexec_fn": die_with_parent if self.temporary else None}
        try:
            try:
                return subprocess.Popen(list(argv), process_group=self.pgid, **common)
            except PermissionError:  # EPERM from setpgid: the group is in another session
                proc = subprocess.Popen(list(argv), start_new_session=True, **common)
        except FileNotFoundError:
            raise ConfigError(f"program {argv[0]!r} not found",
                              "give a command on PATH or a full path") from None
        self.groups.append(proc.pid)
        self.save()
        return proc

    def wait_windows(self, count: int, timeout: float = 20.0) -> bool:
        """Wait until the window manager manages ``count`` windows (the apps have shown up)."""
        if count <= 0:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise DisplayError(f"the sandbox {self.name} ({self.display}) ended while starting",
                                   "see `tracer sandbox start` for the programs it needs")
            if len(self.windows()) >= count:
                return True
            time.sleep(0.1)
        return False

    def windows(self) -> list[int]:
        """The managed top-level windows (the window manager's _NET_CLIENT_LIST)."""
        with self._connection() as conn:
            if conn is None:
                return []
            root = conn.screen().root
            prop = root.get_full_property(conn.intern_atom("_NET_CLIENT_LIST"), 0)
            return list(prop.value) if prop is not None else []

    @contextlib.contextmanager
    def _connection(self) -> Iterator[object]:
        from Xlib import display as xdisplay

        with _xauthority(self.xauthority):
            try:
                conn = xdisplay.Display(self.display)
            except Exception:
                yield None
                return
        try:
            yield conn
        finally:
            conn.close()

    # ---- the end
    def stop(self, timeout: float = 5.0) -> None:
        """End every process of the sandbox (TERM, then KILL) and forget it."""
        for group in self.groups:
            _end_group(group, timeout)
        _end_group(self.pgid, timeout)
        with contextlib.suppress(FileNotFoundError):
            self.record_path().unlink()
        with contextlib.suppress(FileNotFoundError):
            Path(self.xauthority).unlink()


def start(*, size: str = "1280x800", watch: bool = False, apps: Sequence[str] = (),
          name: str | None = None, temporary: bool = False, wm: bool = True,
          timeout: float = 30.0) -> Sandbox:
    """Start a sandbox desktop: the X server, the window manager, then the apps (their windows
    waited for). Raises ConfigError/DisplayError with the fix when a part is missing."""
    width, height = parse_size(size)
    argvs = [split_command(app) for app in apps]
    server = "Xephyr" if watch else "Xvfb"
    if not shutil.which(server):
        raise ConfigError(f"{server} is not installed", f"install it: {INSTALL}")
    if wm and not shutil.which("openbox"):
        raise ConfigError("the window manager openbox is not installed", f"install it: {INSTALL}")
    user_display = os.environ.get("DISPLAY", "")
    if watch and not user_display:
        wayland = bool(os.environ.get("WAYLAND_DISPLAY"))
        raise DisplayError("--watch shows the sandbox in an X window (Xephyr) on your desktop, "
                           "but DISPLAY is not set" + (": this Wayland session has no XWayland"
                                                       if wayland else ""),
                           "enable XWayland in your compositor (sway: xwayland enable), or "
                           "leave out --watch" if wayland else
                           "run it in your desktop session, or leave out --watch")
    name = _reserve(name)
    auth = sandboxes_dir() / f"{name}.xauth"
    _write_xauthority(auth, secrets.token_bytes(16))
    read_fd, write_fd = os.pipe()
    argv = [server, "-displayfd", str(write_fd), "-auth", str(auth), "-nolisten", "tcp",
            "-noreset"]
    if watch:  # Xephyr: one nested screen, in a window titled after the sandbox
        argv += ["-screen", f"{width}x{height}", "-title", f"tracer sandbox {name}", "-no-host-grab"]
    else:
        argv += ["-screen", "0", f"{width}x{height}x24"]
    try:
        # a named sandbox outlives the terminal that started it: a session of its own
        proc = subprocess.Popen(argv, pass_fds=(write_fd,), process_group=0 if temporary else None,
                                start_new_session=not temporary,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                preexec_fn=die_with_parent if temporary else None)
    finally:
        os.close(write_fd)
    number = _read_display_number(read_fd, proc, timeout)
    if number is None:
        _end_group(proc.pid, 2)
        auth.unlink(missing_ok=True)
        (sandboxes_dir() / f"{name}.json").unlink(missing_ok=True)
        raise DisplayError(f"{server} did not start a display in {timeout:.0f}s",
                           f"check that it runs: {server} -displayfd 1 (install: {INSTALL})")
    box = Sandbox(name, f":{number}", width, height, proc.pid, str(auth), watch, list(apps),
                  temporary=temporary)
    try:
        box.save()
        if wm:
            box.exec(["openbox", "--sm-disable"])
            _wait(lambda: _wm_ready(box), timeout, box, "the window manager")
        for app in argvs:
            box.exec(app)
        if argvs:
            box.wait_windows(len(argvs), timeout)
    except BaseException:
        box.stop()
        raise
    return box


def load(name: str) -> Sandbox:
    path = sandboxes_dir() / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        known = ", ".join(b.name for b in listing()) or "none"
        raise ConfigError(f"no sandbox named {name!r} (running: {known})",
                          "see `tracer sandbox list`, or start one: tracer sandbox start") from None
    return Sandbox(**data)


def find(display: str) -> Sandbox | None:
    """The running sandbox on ``display`` (e.g. ":7"), if that is one."""
    folder = sandboxes_dir()
    if not display or not folder.is_dir():
        return None
    for path in folder.glob("*.json"):
        try:
            box = Sandbox(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if box.display == display and box.alive():
            return box
    return None


def listing() -> list[Sandbox]:
    """The sandboxes still running; records of ended ones are removed."""
    found = []
    for path in sorted(sandboxes_dir().glob("*.json")) if sandboxes_dir().is_dir() else []:
        try:
            box = Sandbox(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if box.alive():
            found.append(box)
        else:
            box.stop(timeout=0.5)
    return found


def watch(box: Sandbox, ended: Callable[[], None], every: float = 0.2) -> threading.Event:
    """Call ``ended`` (once, on a daemon thread) if the sandbox's X server ends; set the
    returned event to stop watching."""
    done = threading.Event()

    def run() -> None:
        while not done.wait(every):
            if not box.alive():
                if not done.is_set():
                    ended()
                return

    threading.Thread(target=run, name=f"watch-{box.name}", daemon=True).start()
    return done


# ---- helpers

def _reserve(name: str | None) -> str:
    """Claim a sandbox name by creating its record file (atomically: parallel starts never
    share a name)."""
    folder = sandboxes_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    candidates = [name] if name else (f"sb{n}" for n in range(1, 10_000))
    for candidate in candidates:
        try:
            os.close(os.open(folder / f"{candidate}.json", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return candidate
        except FileExistsError:
            if name:
                raise ConfigError(f"a sandbox named {name!r} exists", "choose another --name, or "
                                  f"`tracer sandbox stop {name}`") from None
    raise ConfigError("too many sandboxes", "stop some: tracer sandbox list")


def _read_display_number(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    import select

    deadline = time.monotonic() + timeout
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as reader:
        while time.monotonic() < deadline and b"\n" not in data:
            ready, _, _ = select.select([reader], [], [], 0.2)
            if ready:
                chunk = reader.read(64)
                if not chunk:
                    break
                data += chunk
            elif proc.poll() is not None:
                break
    text = data.decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def _write_xauthority(path: Path, cookie: bytes) -> None:
    """The sandbox's cookie (for any display number on this host: the number is not known
    before the server starts), after the user's own entries, so connections to the user's
    display keep working with XAUTHORITY pointing here. Written whole, then renamed: a reader
    never sees it half-written."""
    user = os.environ.get("XAUTHORITY") or os.path.expanduser("~/.Xauthority")
    try:
        theirs = Path(user).read_bytes()
    except OSError:
        theirs = b""

    def part(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    entry = struct.pack(">H", FAMILY_LOCAL) + part(socket.gethostname().encode()) + \
        part(b"") + part(COOKIE) + part(cookie)
    tmp = path.with_suffix(".tmp-auth")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(theirs + entry)
    tmp.replace(path)


_ENV_LOCK = threading.Lock()  # python-xlib reads XAUTHORITY from the environment only


@contextlib.contextmanager
def _xauthority(path: str) -> Iterator[None]:
    with _ENV_LOCK:
        previous = os.environ.get("XAUTHORITY")
        os.environ["XAUTHORITY"] = path
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("XAUTHORITY", None)
            else:
                os.environ["XAUTHORITY"] = previous


def _wm_ready(box: Sandbox) -> bool:
    with box._connection() as conn:
        if conn is None:
            return False
        root = conn.screen().root  # type: ignore[attr-defined]
        return root.get_full_property(conn.intern_atom("_NET_SUPPORTING_WM_CHECK"), 0) is not None  # type: ignore[attr-defined]


def _wait(ready: Callable[[], bool], timeout: float, box: Sandbox, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not box.alive():
            raise DisplayError(f"the sandbox {box.name} ended while starting {what}",
                               f"check the programs it needs: {INSTALL}")
        if time.monotonic() > deadline:
            raise DisplayError(f"{what} of sandbox {box.name} did not start in {timeout:.0f}s",
                               "the machine may be very busy; try again")
        time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.kill(pgid, 0)  # the X server leads the group: the sandbox lives while it does
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie of ours counts as ended
        state = Path(f"/proc/{pgid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def _end_group(pgid: int, timeout: float) -> None:
    """TERM every process of the group, wait, then KILL what is left; reap our own children."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pgid)
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
    _reap(pgid)


def _reap(pgid: int) -> None:
    """Collect the exit status of our own children in the group (only those: other children's
    statuses belong to their Popen objects)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-pgid, os.WNOHANG)[0] > 0:
            pass


def die_with_parent() -> None:
    """In the child before exec: end when the tracer process that made it ends."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
