"""The ``script`` backend: answers with the lines of a JSONL file, one line per model call.

Each line is a plan object (``{"thought": ..., "trajectory": [...]}``) or a JSON string holding a
raw answer (to replay what a real model said, malformed answers included), or an answer streamed
in pieces: ``{"chunks": ["...", "..."], "seconds": 1.0}`` sends each piece ``seconds`` after the
one before (so a test sees tracer act before the answer ends). Blank lines and lines starting
with ``#`` are skipped. For demos and tests: the file plays the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.backends import BACKENDS, Completion, bounds
from tracer_cli.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracer_cli.config import Settings


def _pieces(value: object, line: str, where: str) -> tuple[list[str], float]:
    """The pieces an answer line is sent in, and the seconds between two of them."""
    if isinstance(value, str):
        return [value], 0.0
    if isinstance(value, dict) and "chunks" in value:
        chunks, seconds = value.get("chunks"), value.get("seconds", 0.0)
        if not (isinstance(chunks, list) and chunks and all(isinstance(c, str) for c in chunks)
                and isinstance(seconds, int | float) and not isinstance(seconds, bool)
                and seconds >= 0):
            raise ConfigError(f"{where}: \"chunks\" must be a list of strings and \"seconds\" "
                              "a number of seconds (0 or more)")
        return list(chunks), float(seconds)
    return [line], 0.0


class ScriptBackend:
    name = "script"
    streams = True  # its answers come through on_text (in pieces, for a "chunks" line)

    def __init__(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ConfigError(f"script file {path} does not exist",
                              "pass an existing JSONL file with --script") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read script file {path}: {exc}") from None
        self.path = path
        self._answers: list[tuple[list[str], float]] = []
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not a JSON line ({exc.msg})",
                                  "write one plan object or one JSON string per line") from None
            self._answers.append(_pieces(value, line, f"{path}:{number}"))
        if not self._answers:
            raise ConfigError(f"script file {path} has no answers", "add one plan per line")
        self.calls = 0
        self.sent = 0  # pieces of answers sent so far (tests watch it)

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Completion:
        if self.calls >= len(self._answers):
            raise BackendError(f"script {self.path} ran out of answers after {self.calls} calls",
                               "add more plans to the file, or end it with a done step")
        pieces, seconds = self._answers[self.calls]
        self.calls += 1
        limits = bounds.current()
        text = ""
        for index, piece in enumerate(pieces):
            if index:
                limits.sleep(seconds)  # wakes at once when the run is stopped
            text += piece
            self.sent += 1
            if on_text is not None:
                on_text(text)
        return Completion(text)

    def close(self) -> None:
        """Nothing to release: the file was read whole at start."""


@BACKENDS.register("script")
def _create(settings: Settings) -> ScriptBackend:
    if not settings.script:
        raise ConfigError("the script backend needs a plan file", "pass --script FILE.jsonl")
    return ScriptBackend(Path(settings.script).expanduser())
