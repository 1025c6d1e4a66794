"""The programs the desktop tests start: waiting for what they do, the JSON-lines log a probe
writes, and stopping them by their PID."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """The predicate's first true value, polled; an AssertionError naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
    return value


def stop_program(proc: subprocess.Popen[Any], timeout: float = 5) -> None:
    """Terminate ``proc`` if it runs, and kill it if it has not ended ``timeout`` seconds later."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


@dataclass
class LoggedProgram:
    """A program that writes its events to ``log`` as JSON lines (``{"event": kind, ...}``),
    stopped by its PID."""

    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [e for e in lines if kind is None or e["event"] == kind]

    def clear(self) -> None:
        self.log.write_text("")

    def stop(self) -> None:
        stop_program(self.proc)
