"""Choosing the platform from the session: which desktop a run acts on, and the one line that
says what to set where there is none or it is not supported."""

from __future__ import annotations

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


def test_kde_on_wayland_is_refused_with_the_alternatives() -> None:
    with pytest.raises(DisplayError) as info:
        detect({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":1", "XDG_CURRENT_DESKTOP": "KDE"})
    assert "KDE Plasma on Wayland is not supported" in info.value.message
    assert "--sandbox" in info.value.hint


def test_an_unknown_wayland_desktop_with_xwayland_falls_back_to_x11() -> None:
    assert detect({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":1",
                   "XDG_CURRENT_DESKTOP": "weston"}) == ("x11", ":1")


def test_an_unknown_wayland_desktop_without_x_says_how_to_choose() -> None:
    with pytest.raises(DisplayError, match="--platform gnome|wlroots"):
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
