"""Text is typed exactly or refused, on X11: accents, symbols and CJK reach a Tk entry, a GTK 3
entry and a field of a page in Chromium through `tracer run` (characters the keyboard layout
lacks are typed on spare key codes mapped for the run), and what no keyboard can send (a control
character) is refused in one line before anything is typed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Display, Program, run_tracer
from tests.e2e.conftest import tracer_env
from tests.e2e.toolkit_forms import start_form

pytestmark = pytest.mark.display

TEXT = "café — 5 € 中文 naïve Øre ñ ß ~@#{}|"
SELECT_ALL = {"tk": "ctrl+/", "gtk": "ctrl+a", "chromium": "ctrl+a"}


@pytest.mark.parametrize("toolkit", ["tk", "gtk", "chromium"])
def test_unicode_text_reaches_the_field_exactly(toolkit: str, display: Display,
                                                 programs: Callable[..., Program],
                                                 tmp_path: Path) -> None:
    form = start_form(toolkit, display, programs, tmp_path)
    x, y, w, h = form.box("name")
    macro = tmp_path / "type.yaml"
    macro.write_text("steps:\n"
                     f"  - click: [{x + w // 2}, {y + h // 2}]\n"
                     f"  - hotkey: {SELECT_ALL[toolkit]}\n"
                     "  - hotkey: delete\n"
                     f"  - type: {json.dumps(TEXT)}\n", encoding="utf-8")
    result = run_tracer("run", str(macro), "--yes", env=tracer_env(display), timeout=120)

    assert result.returncode == 0, result.stderr
    form.wait(lambda s: s.get("name") == TEXT, f"the name field to hold {TEXT!r}")
    # the spare key codes went back to empty after the run: the layout is as it was
    from Xlib.display import Display as XDisplay

    conn = XDisplay(display.name)
    try:
        first = conn.display.info.min_keycode
        rows = conn.get_keyboard_mapping(first, conn.display.info.max_keycode - first + 1)
        mapped = {keysym for row in rows for keysym in row}
    finally:
        conn.close()
    assert 0x20AC not in mapped and 0x1004E2D not in mapped  # € and 中


def test_a_character_no_keyboard_sends_is_refused_before_typing(display: Display,
                                                                 tmp_path: Path) -> None:
    macro = tmp_path / "bell.yaml"
    macro.write_text('steps:\n  - type: "ring \\a the bell"\n', encoding="utf-8")
    result = run_tracer("run", str(macro), "--yes", env=tracer_env(display), timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("tracer: error:")]
    assert f"{macro}:2: type: no keyboard types control characters ('\\x07')" in line
