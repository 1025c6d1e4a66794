"""One run at a time per desktop: two runs typing into one display interleave their keys, so a
run (or an MCP server's action) holds the lock of its target for as long as it acts.

The lock is an exclusive ``flock`` on a file in the user's runtime folder (through ``filelock``):
the system lets go of it when its process ends, however it ends, so a lock whose owner died is
simply free. Beside it, a small JSON file names the holder for the one-line refusal."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tracer_cli import paths
from tracer_cli.errors import ConfigError, TracerError


class DesktopBusy(TracerError):
    """Another run holds the desktop."""


def private_folder(*parts: str) -> Path:
    """A folder under the runtime folder, made 0700; refused when someone else owns it (a
    shared temporary folder where another user made it first)."""
    folder = paths.runtime_dir().joinpath(*parts)
    for path in reversed([folder, *folder.parents][: len(parts) + 1]):
        path.mkdir(mode=0o700, exist_ok=True)
    for path in [folder, *folder.parents][: len(parts) + 1]:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
            raise ConfigError(f"{path} is not a folder of this user's",
                              "set TRACER_RUNTIME_DIR to a private folder")
        if info.st_mode & 0o077:
            os.chmod(path, 0o700)
    return folder


def _name(target: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", target).strip("_") or "desktop"


class DesktopLock:
    """The lock of ``target`` (``Platform.target()``), taken for ``what`` (the command)."""

    def __init__(self, target: str, what: str) -> None:
        from filelock import FileLock

        folder = private_folder("locks")
        self.target, self.what = target, what
        self._lock = FileLock(str(folder / f"{_name(target)}.lock"), mode=0o600)
        self._holder = folder / f"{_name(target)}.holder.json"

    def holder(self) -> dict[str, Any]:
        try:
            held = json.loads(self._holder.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return held if isinstance(held, dict) else {}  # a damaged file names no one

    def refusal(self) -> DesktopBusy:
        held = self.holder()
        since = held.get("since", "")
        with contextlib.suppress(ValueError, TypeError):  # (a damaged file: shown as it is)
            since = datetime.fromisoformat(since).strftime("%H:%M:%S")
        who = f"{held.get('what', 'another tracer run')} (pid {held.get('pid', '?')}, since {since})" \
            if held else "another tracer run"
        return DesktopBusy(f"{self.target} is in use by {who}",
                           "wait for it to end, stop it (tracer stop), or pass --wait to start "
                           "when it ends")

    def acquire(self, wait: bool = False, stop: threading.Event | None = None) -> None:
        """Take the lock; when another process holds it, refuse (``DesktopBusy``) or, with
        ``wait``, wait until it is free (or ``stop`` is set)."""
        from filelock import Timeout

        while True:
            try:
                self._lock.acquire(timeout=0)
                break
            except Timeout:
                if not wait:
                    raise self.refusal() from None
            if stop is not None and stop.wait(0.2):
                from tracer_cli.desktop.killswitch import stop_reason
                from tracer_cli.errors import Interrupted

                raise Interrupted(stop_reason(stop))
            if stop is None:
                time.sleep(0.2)
        data = {"pid": os.getpid(), "what": self.what, "target": self.target,
                "since": datetime.now().isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):
            self._holder.write_text(json.dumps(data), encoding="utf-8")
            os.chmod(self._holder, 0o600)

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self._holder.unlink()
            self._lock.release()

    def __enter__(self) -> DesktopLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
