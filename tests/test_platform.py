"""Choosing the platform from the session: which desktop a run acts on, and the one line that
says what to set where there is none or it is not supported."""

from __future__ import annotations

import re

import pytest

from tracer_cli.desktop.platform import PLATFORMS, choose, detect
from tracer_cli.errors import DisplayError


@pytest.mark.parametrize(("env", "found"), [
    ({"DISPLAY": ":42"}, ("x11", ":42")),
    ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": "GNOME"}, ("x11", ":0")),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland",
      "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, ("gnome", "wayland-0")),
    ({"WAYLAND_DISPLAY": "wayland-1", "SWAYSOCK": "/run/user/1000/sway-ipc.sock"},
     ("wlroots", "wayland-1")),
    ({"WAYLAND_DISPLAY": "wayland-1", "HYPRLAND_INSTANCE_SIGNATURE": "abc"}, ("wlroots", "wayland-1")),
    ({"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "river"}, ("wlroots", "wayland-1")),
])
def test_the_session_names_the_platform(env: dict[str, str], found: tuple[str, str]) -> None:
    assert detect(env) == found


def test_no_display_at_all_says_what_to_set() -> None:
    with pytest.raises(DisplayError) as info:
        detect({})
    assert "neither DISPLAY nor WAYLAND_DISPLAY" in info.value.message
    assert "--display" in info.value.hint and info.value.exit_code == 2


def test_kde_plasma_on_wayland_is_the_kde_platform() -> None:
    assert detect({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":1",
                   "XDG_CURRENT_DESKTOP": "KDE"}) == ("kde", "wayland-0")
    assert detect({"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "KDE"}) == \
        ("kde", "wayland-0")


def test_an_unknown_wayland_desktop_with_xwayland_falls_back_to_x11() -> None:
    assert detect({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":1",
                   "XDG_CURRENT_DESKTOP": "weston"}) == ("x11", ":1")


def test_an_unknown_wayland_desktop_without_x_says_how_to_choose() -> None:
    with pytest.raises(DisplayError, match=re.escape("--platform gnome|kde|wlroots")):
        detect({"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "weston"})


def test_an_x_display_named_is_x11_whatever_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "GNOME")
    platform = choose("auto", ":7")
    assert platform.name == "x11" and platform.describe() == "X11 display :7"


def test_the_platforms_are_registered() -> None:
    assert {"x11", "generic"} <= set(PLATFORMS.names())
    with pytest.raises(Exception, match="unknown platform 'amiga'"):
        PLATFORMS.get("amiga")


def test_wlroots_is_registered_and_needs_a_wayland_display() -> None:
    assert "wlroots" in PLATFORMS.names()
    make = PLATFORMS.get("wlroots")
    with pytest.raises(DisplayError, match="WAYLAND_DISPLAY is not set") as info:
        make("", env={})  # type: ignore[call-arg]
    assert "--display" in info.value.hint
    sway = make("wayland-1", env={"SWAYSOCK": "/run/sway.sock",  # type: ignore[call-arg]
                                  "XDG_RUNTIME_DIR": "/run/user/1000"})
    assert sway.describe() == "sway (Wayland) wayland-1"
    assert sway.target() == "wlroots /run/user/1000/wayland-1"
    absolute = make("/tmp/sway/wayland-1", env={})  # type: ignore[call-arg]
    assert absolute.target() == "wlroots /tmp/sway/wayland-1"


@pytest.mark.parametrize(("hotkey", "combo", "chord"), [
    ("<ctrl>+<alt>+<shift>+k", "Ctrl+Mod1+Shift+k", {"ctrl", "alt", "shift", "k"}),
    ("<cmd>+<f9>", "Mod4+F9", {"win", "f9"}),
    ("<ctrl>+<alt>+/", "Ctrl+Mod1+slash", {"ctrl", "alt", "/"}),
    ("<alt>+<esc>", "Mod1+Escape", {"alt", "escape"}),
])
def test_a_hotkey_becomes_a_sway_binding(hotkey: str, combo: str, chord: set[str]) -> None:
    from tracer_cli.desktop.platforms.sway_switch import parse

    assert parse(hotkey) == (combo, frozenset(chord))


@pytest.mark.parametrize(("hotkey", "problem"), [
    ("<ctrl>+<alt>+K", "typed with shift"),
    ("<ctrl_l>+k", "one side of a modifier"),
    ("<shift>+k", "tracer's own typing could press"),
    ("<ctrl>+<alt>", "exactly one key"),
    ("<ctrl>+<bogus>", "sway cannot bind <bogus>"),
    ("<ctrl>++k", "not valid"),
    ("<ctrl>+<shift>+1", "<shift> with a digit"),
])
def test_a_hotkey_sway_cannot_bind_is_one_line_with_the_fix(hotkey: str, problem: str) -> None:
    from tracer_cli.desktop.platforms.sway_switch import parse
    from tracer_cli.errors import ConfigError

    with pytest.raises(ConfigError, match=problem) as info:
        parse(hotkey)
    assert "--kill-hotkey ''" in info.value.hint


def test_hyprland_says_where_to_bind_tracer_stop() -> None:
    import threading

    from tracer_cli.desktop.killswitch import PauseRequest

    hypr = PLATFORMS.get("wlroots")("wayland-1", env={  # type: ignore[call-arg]
        "HYPRLAND_INSTANCE_SIGNATURE": "abc"})
    assert hypr.describe() == "Hyprland (Wayland) wayland-1"
    with pytest.raises(DisplayError) as info:
        hypr.kill_switch("<ctrl>+<alt>+<shift>+k", threading.Event(), None)
    assert "on Hyprland" in info.value.message
    assert "`bind = CTRL ALT SHIFT, K, exec, tracer stop`" in info.value.hint
    assert "--kill-hotkey ''" in info.value.hint
    with pytest.raises(DisplayError) as info:
        hypr.pause_switch("<ctrl>+<alt>+<shift>+p", PauseRequest())
    assert "exec, tracer pause`" in info.value.hint and "--pause-hotkey ''" in info.value.hint


def test_wlroots_cannot_record_and_says_what_can() -> None:
    platform = PLATFORMS.get("wlroots")("wayland-1", env={"SWAYSOCK": "/s"})  # type: ignore[call-arg]
    with pytest.raises(DisplayError) as info:
        platform.listen(print, print, print)
    assert "cannot hear the mouse and keyboard" in info.value.message
    assert "tracer sandbox start" in info.value.hint and "X11 session" in info.value.hint


def test_the_wlroots_keymap_types_any_character() -> None:
    from tracer_cli.desktop.platforms.wlr_input import Keymap, typable

    keymap = Keymap()
    assert keymap.code("a", set()) == (30, 0, False) and keymap.code("A", set()) == (30, 1, False)
    assert keymap.code("~", set()) == (41, 1, False)
    code, level, changed = keymap.code("€", set())
    assert changed and level == 0 and code not in keymap.keys
    assert keymap.code("€", set()) == (code, 0, False)  # kept
    assert f"key <I{code + 8}> {{ [ U20AC ] }};" in keymap.text()
    assert all(typable(ch) for ch in "café — 5 € 中文😀\n\t") and not typable("\x07")
