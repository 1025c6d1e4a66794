"""The kill and pause hotkeys as GNOME custom shortcuts: tracer's hotkey syntax read without
pynput (which needs an X display), checked as on X11, and written as GTK accelerators."""

from __future__ import annotations

import threading

import pytest

from tracer_cli.desktop.platforms.gnome_shortcut import ShortcutKillSwitch, parse
from tracer_cli.errors import ConfigError, DisplayError


@pytest.mark.parametrize(("hotkey", "chord", "accel"), [
    ("<ctrl>+<alt>+<shift>+k", {"ctrl", "alt", "shift", "k"}, "<Control><Alt><Shift>k"),
    ("<ctrl>+<alt>+<shift>+p", {"ctrl", "alt", "shift", "p"}, "<Control><Alt><Shift>p"),
    ("<cmd>+<f9>", {"win", "f9"}, "<Super>F9"),
    ("<ctrl>+<esc>", {"ctrl", "escape"}, "<Control>Escape"),
    ("<alt>+9", {"alt", "9"}, "<Alt>9"),
])
def test_hotkeys_become_gtk_accelerators(hotkey: str, chord: set[str], accel: str) -> None:
    assert parse(hotkey) == (frozenset(chord), accel)


@pytest.mark.parametrize(("hotkey", "problem"), [
    ("<ctrl>+<alt>", "exactly one key"),
    ("<ctrl_l>+k", "one side of a modifier"),
    ("<ctrl>+<bogus>", "unknown key 'bogus'"),
    ("<ctrl>+!", "typed with shift"),
    ("<shift>+5", "shift turns into another character"),
    ("<shift>+a", "tracer's own typing could press"),
    ("<ctrl>++k", "empty"),
])
def test_bad_hotkeys_are_refused_with_the_fix(hotkey: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        parse(hotkey)
    assert "<ctrl>+<alt>+<shift>+k" in info.value.hint


def test_without_gsd_media_keys_the_switch_says_to_use_tracer_stop() -> None:
    switch = ShortcutKillSwitch("<ctrl>+<alt>+<shift>+k", threading.Event(), None, media_keys=False)
    assert (switch.label, switch.mechanism) == ("ctrl+alt+shift+k", "a GNOME custom shortcut")
    with pytest.raises(DisplayError) as info:
        switch.start()
    assert "gsd-media-keys" in info.value.message
    assert "tracer stop" in info.value.hint and "Settings > Keyboard" in info.value.hint
    assert "--kill-hotkey ''" in info.value.hint
