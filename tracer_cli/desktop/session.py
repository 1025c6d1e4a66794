"""The user's own desktop session, found when the environment does not name it.

An MCP client starting ``tracer mcp`` over stdio passes almost no environment (the official
SDK's client passes HOME, PATH, SHELL, TERM, USER and LOGNAME): no DISPLAY, WAYLAND_DISPLAY,
DBUS_SESSION_BUS_ADDRESS or XDG_RUNTIME_DIR. The session's sockets are still where they always
are: X servers' in /tmp/.X11-unix, the compositor's, the session bus and sway's IPC in the
user's runtime folder (/run/user/UID). Where there is exactly one of a kind owned by this user,
its variable is filled in; what is set is never overridden, and several of a kind fill nothing
(which one is the user's cannot be known).
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path

X11_SOCKETS = Path("/tmp/.X11-unix")
RUNTIME_ROOT = Path("/run/user")
# The compositor's process name -> XDG_CURRENT_DESKTOP, for a session found by its socket.
DESKTOPS = {"gnome-shell": "GNOME", "mutter": "GNOME", "sway": "sway", "Hyprland": "Hyprland",
            "river": "river", "wayfire": "wayfire", "labwc": "labwc", "niri": "niri",
            "kwin_wayland": "KDE"}


def _sockets(folder: Path, pattern: str, uid: int) -> list[Path]:
    """Unix sockets in ``folder`` matching ``pattern`` and owned by ``uid``, by name."""
    found = []
    try:
        candidates = sorted(folder.glob(pattern))
    except OSError:
        return []
    for path in candidates:
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISSOCK(info.st_mode) and info.st_uid == uid:
            found.append(path)
    return found


def _live(path: Path) -> bool:
    """Whether a server listens on the socket (a dead session leaves its socket behind)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def server_name(path: Path) -> str:
    """The name of the process serving a unix socket ("" when unknown)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(str(path))
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            return ""
    pid = struct.unpack("3i", creds)[0]
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _one(paths: list[Path]) -> Path | None:
    live = [p for p in paths if _live(p)]
    return live[0] if len(live) == 1 else None


def find(env: dict[str, str], uid: int | None = None, runtime_root: Path | None = None,
         x11_sockets: Path | None = None) -> dict[str, str]:
    """The session variables missing from ``env`` that this user's sockets tell, each only
    where there is exactly one live socket of its kind."""
    uid = os.getuid() if uid is None else uid
    runtime_root = RUNTIME_ROOT if runtime_root is None else runtime_root
    x11_sockets = X11_SOCKETS if x11_sockets is None else x11_sockets
    found: dict[str, str] = {}
    runtime = env.get("XDG_RUNTIME_DIR") or str(runtime_root / str(uid))
    folder = Path(runtime)
    try:
        usable = folder.is_dir() and folder.stat().st_uid == uid
    except OSError:
        usable = False
    if usable:
        if not env.get("XDG_RUNTIME_DIR"):
            found["XDG_RUNTIME_DIR"] = runtime
        if not env.get("WAYLAND_DISPLAY") and (
                wayland := _one(_sockets(folder, "wayland-*[0-9]", uid))) is not None:
            found["WAYLAND_DISPLAY"] = wayland.name
            desktop = DESKTOPS.get(server_name(wayland), "")
            if desktop and not env.get("XDG_CURRENT_DESKTOP"):
                found["XDG_CURRENT_DESKTOP"] = desktop
            if not env.get("XDG_SESSION_TYPE"):
                found["XDG_SESSION_TYPE"] = "wayland"
        if not env.get("DBUS_SESSION_BUS_ADDRESS") and (
                bus := _one(_sockets(folder, "bus", uid))) is not None:
            found["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={bus}"
        if not env.get("SWAYSOCK") and (
                sway := _one(_sockets(folder, "sway-ipc.*.sock", uid))) is not None:
            found["SWAYSOCK"] = str(sway)
    if not env.get("DISPLAY") and (
            x := _one(_sockets(x11_sockets, "X*[0-9]", uid))) is not None and x.name[1:].isdigit():
        found["DISPLAY"] = f":{x.name[1:]}"
    return found


def fill(env: dict[str, str] | None = None, **where: object) -> dict[str, str]:
    """Add what ``find`` tells to ``env`` (None: this process's environment, so that the
    programs tracer starts see it too); returns what was added."""
    target: dict[str, str] | os._Environ[str] = os.environ if env is None else env
    found = find(dict(target), **where)  # type: ignore[arg-type]
    target.update(found)
    return found
