"""What the stop and pause tests of the Wayland desktops (test_kde_switches,
test_wlroots_switches) share: the long text tracer types, the chords a person presses, the
probe emptied before each test and what it shows typed, a typing `tracer do` started, and the
pauses a run recorded. ``desk`` is the tests' desktop (tests/e2e/kde.py's KdeDesktop or
sway.py's SwayDesktop) and ``app`` a probe on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import done, plan, run_dir
from tests.programs import LoggedProgram, wait_until

# Capitals and signs (shift pressed for each), no k and no p: every k or p is the person's.
TEXT = ("Hello World, This Is A Long Line Of Text Written By Tracer! " * 7)[:400]
assert "p" not in TEXT.lower() and "k" not in TEXT.lower()
KILL = ("ctrl", "alt", "shift", "k")
PAUSE = ("ctrl", "alt", "shift", "p")


def emptied(desk: Any, probe: Any, what: str) -> Any:
    """The probe in front, its text field (``what``, in messages) empty, its log cleared."""
    probe.show()
    desk.chord("ctrl", "a")
    desk.chord("backspace")
    wait_until(lambda: not probe.events("text") or probe.events("text")[-1]["text"] == "", 5,
               f"an empty {what}")
    desk.wait_settled()
    probe.clear()
    return probe


def texts(app: LoggedProgram) -> list[dict[str, Any]]:
    return app.events("text")


def typed(app: LoggedProgram) -> str:
    found = texts(app)
    return found[-1]["text"] if found else ""


def start_typing(desk: Any, app: LoggedProgram, chat_server: Any, background_tracer: Any,
                 runtime: Path) -> tuple[Any, dict[str, str]]:
    """A `tracer do` typing TEXT into ``app``, once it has typed 10 characters; and its
    environment."""
    chat_server.queue(plan({"action": "type", "text": TEXT}, done("typed")), plan(done("typed")))
    env = desk.env(runtime)
    proc = background_tracer("do", "type the text", "--yes", "-b", "openai", "--base-url",
                             chat_server.base_url, env=env)
    wait_until(lambda: len(typed(app)) >= 10 or proc.poll() is not None, 30,
               "tracer to start typing")
    assert proc.poll() is None, proc.communicate()
    return proc, env


def long_macro(folder: Path) -> Path:
    """A macro that types TEXT."""
    macro = folder / "long.yaml"
    macro.write_text(f"name: long text\nsteps:\n  - type: {json.dumps(TEXT)}\n", encoding="utf-8")
    return macro


def pauses(env: dict[str, str]) -> list[dict[str, Any]]:
    """The pauses the run record of ``env`` holds so far."""
    try:
        return json.loads((run_dir(env) / "run.json").read_text()).get("pauses", [])
    except (OSError, AssertionError, ValueError):
        return []
