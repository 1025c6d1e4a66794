"""`tracer stop` and `tracer pause`: every run listens on a private socket of its own, so that a
command (bound to any key in any desktop's keyboard settings, where no global hotkey can be
heard, as on Wayland) stops or pauses it. One line in, one line out: ``stop`` -> ``stopped``,
``pause`` -> ``paused`` or ``resumed``, ``status`` -> what the run is."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from tracer_cli.desktop.lock import private_folder

COMMANDS = ("stop", "pause", "status")


def folder() -> Path:
    return private_folder("control")


class ControlSocket:
    """The socket of this run: ``on_stop()`` and ``on_pause()`` (which returns "paused" or
    "resumed") are called on its thread; ``status`` is what the run says it is."""

    def __init__(self, on_stop: Callable[[], None], on_pause: Callable[[], str] | None,
                 status: dict[str, str]) -> None:
        self.on_stop, self.on_pause, self.status = on_stop, on_pause, status
        self.path = folder() / f"{os.getpid()}.sock"
        self._sock: socket.socket | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket a dead process of this pid left
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        sock.listen(4)
        self._sock = sock
        threading.Thread(target=self._serve, name="tracer-control", daemon=True).start()

    def _serve(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(2.0)
                try:
                    command = conn.recv(64).decode("utf-8", "replace").strip()
                    conn.sendall((self._answer(command) + "\n").encode("utf-8"))
                except OSError:
                    continue

    def _answer(self, command: str) -> str:
        if command == "stop":
            self.on_stop()
            return "stopped"
        if command == "pause":
            return self.on_pause() if self.on_pause is not None else "no pause in this run"
        if command == "status":
            return json.dumps({"pid": os.getpid(), **self.status})
        return f"unknown command {command!r}"

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()


def send(command: str, pid: int | None = None, timeout: float = 3.0) -> list[tuple[int, str]]:
    """Send ``command`` to every run of this user (or the one of ``pid``): (pid, answer) for
    each that answered; sockets that no process listens on any more are removed."""
    answers = []
    for path in sorted(folder().glob("*.sock")):
        try:
            owner = int(path.stem)
        except ValueError:
            continue
        if pid is not None and owner != pid:
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(str(path))
                sock.sendall(command.encode("utf-8") + b"\n")
                answer = sock.recv(4096).decode("utf-8", "replace").strip()
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    path.unlink()  # its run ended without cleaning up (killed)
                continue
            except OSError:
                continue
        answers.append((owner, answer))
    return answers
