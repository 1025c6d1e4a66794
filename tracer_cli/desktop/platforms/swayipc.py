"""A small client of sway's IPC socket (SWAYSOCK; the i3-ipc wire format), without a swaymsg
process per request.

A message is ``i3-ipc``, the payload's length and the message type (native byte order), then
the JSON payload. Replies carry the request's type; events carry theirs with the high bit set.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

MAGIC = b"i3-ipc"
HEADER = struct.Struct("=6sII")
RUN_COMMAND = 0
SUBSCRIBE = 2
GET_OUTPUTS = 3
GET_TREE = 4
GET_VERSION = 7
EVENT_BIT = 0x80000000
EVENT_BINDING = EVENT_BIT | 5
EVENT_SHUTDOWN = EVENT_BIT | 6


class SwayIPCError(Exception):
    pass


class SwayIPC:
    """One connection to sway's IPC socket; one thread at a time."""

    def __init__(self, path: str, timeout: float | None = 5.0) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as exc:
            self.sock.close()
            raise SwayIPCError(f"cannot connect to sway's IPC socket {path}: "
                               f"{exc.strerror or exc}") from None

    def _exactly(self, count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise SwayIPCError("sway closed its IPC connection")
            data += chunk
        return bytes(data)

    def send(self, kind: int, payload: str = "") -> None:
        data = payload.encode()
        self.sock.sendall(HEADER.pack(MAGIC, len(data), kind) + data)

    def receive(self) -> tuple[int, Any]:
        magic, length, kind = HEADER.unpack(self._exactly(HEADER.size))
        if magic != MAGIC:
            raise SwayIPCError("sway's IPC socket answered in a format tracer does not know")
        return kind, json.loads(self._exactly(length) or b"null")

    def request(self, kind: int, payload: str = "") -> Any:
        self.send(kind, payload)
        while True:
            got, body = self.receive()
            if got == kind:
                return body

    def command(self, text: str) -> list[dict[str, Any]]:
        """Run sway commands; sway's own error text when one fails."""
        answers = self.request(RUN_COMMAND, text)
        failed = [a for a in answers if not a.get("success")]
        if failed:
            raise SwayIPCError(f"sway refused {text!r}: {failed[0].get('error', failed[0])}")
        return answers

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SwayIPC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
