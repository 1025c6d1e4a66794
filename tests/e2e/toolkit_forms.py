"""The same small form in three toolkits, on a test display, for checks that must hold beyond
one program: ttk laid out with grid (tests/apps/tk_form.py), GTK 3 through PyGObject
(tests/apps/gtk_form.py, run by the system Python that has ``gi``) and a page in Chromium
(tests/apps/form.html). Each reports its state (values, focus, widget rectangles in screen
pixels): Tk and GTK in a JSON file, the page in its window title."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import APPS, Display, Program
from tests.e2e.conftest import wait_until, xdotool

SYSTEM_PYTHON = "/usr/bin/python3"
TOOLKITS = ("tk", "gtk", "chromium")


def gtk_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gtk', '3.0'); "
                            "from gi.repository import Gtk"], capture_output=True, timeout=30)
    return probe.returncode == 0


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Form:
    def __init__(self, toolkit: str, program: Program, read: Callable[[], dict[str, Any] | None]) -> None:
        self.toolkit, self.program, self._read = toolkit, program, read

    def state(self) -> dict[str, Any]:
        state = self._read()
        assert state is not None, f"the {self.toolkit} form has not reported its state"
        return state

    def wait(self, predicate: Callable[[dict[str, Any]], bool], what: str,
             timeout: float = 10) -> dict[str, Any]:
        last: list[dict[str, Any] | None] = [None]

        def ready() -> bool:
            last[0] = state = self._read()
            return state is not None and predicate(state)

        try:
            wait_until(ready, timeout, f"the {self.toolkit} form: {what}")
        except AssertionError as exc:  # say what the form held instead
            raise AssertionError(f"{exc}; its last state: {last[0]!r}") from None
        return self.state()

    def box(self, name: str) -> tuple[int, int, int, int]:
        x, y, w, h = self.state()["boxes"][name]
        return int(x), int(y), int(w), int(h)


def start_form(toolkit: str, display: Display, programs: Callable[..., Program], tmp: Path) -> Form:
    """Start the form of ``toolkit`` and wait until it has reported where its widgets are."""
    if toolkit == "tk":
        state = tmp / "tk.json"
        program = programs(display, [sys.executable, str(APPS / "tk_form.py"), str(state)], "tk form")
        form = Form(toolkit, program, lambda: _json_file(state))
    elif toolkit == "gtk":
        if not gtk_available():
            pytest.fail("GTK 3 for the system Python is missing: apt-get install -y python3-gi "
                        "gir1.2-gtk-3.0 (bash examples/install.sh --test)")
        state = tmp / "gtk.json"
        program = programs(display, [SYSTEM_PYTHON, str(APPS / "gtk_form.py"), str(state)], "gtk form")
        form = Form(toolkit, program, lambda: _json_file(state))
    else:
        browser = chromium()
        if browser is None:
            pytest.fail("Chromium is missing: apt-get install -y chromium (bash examples/install.sh --test)")
        argv = [browser, "--no-sandbox", f"--user-data-dir={tmp / 'chromium'}", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--password-store=basic", "--force-device-scale-factor=1",
                "--window-position=0,0", f"--window-size={display.width},{display.height}",
                f"--app={(APPS / 'form.html').as_uri()}"]
        program = programs(display, argv, "chromium form")
        form = Form(toolkit, program, lambda: _title(display, program))
    form.wait(lambda s: bool(s.get("boxes")), "its widgets placed", timeout=40)
    return form


def _json_file(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _title(display: Display, program: Program) -> dict[str, Any] | None:
    """The page's state: the title of the window that holds JSON (the page's own on this
    display, which runs nothing else with such a title)."""
    if not program.alive():
        raise AssertionError(f"{program.name} exited with {program.proc.returncode}")
    found = subprocess.run(["xdotool", "search", "--name", "^[{]"],
                           capture_output=True, text=True, env=display.env(), timeout=10)
    for window in found.stdout.split():
        try:
            return json.loads(xdotool(display, "getwindowname", window))
        except (subprocess.CalledProcessError, ValueError):
            continue
    return None
