"""Elements from the accessibility tree, without a desktop: the AT-SPI state set decoded, the
element's forms (described, as a macro anchor, as a run record writes it), and no tree at no
cost."""

from __future__ import annotations

import time

import pytest

from tracer_cli.desktop.elements import Element, NoElements, decode_states, open_elements
from tracer_cli.desktop.platforms.atspi import bus_address, open_atspi


def test_the_state_set_is_decoded_bit_by_bit() -> None:
    # bit 4 checked, 8 enabled, 12 focused, 24 sensitive, 25 showing; word 2: bit 41-32=9 checkable
    words = [1 << 4 | 1 << 8 | 1 << 12 | 1 << 24 | 1 << 25, 1 << 9]
    assert decode_states(words) == {"checked", "enabled", "focused", "sensitive", "showing",
                                    "checkable"}
    assert decode_states([0, 0]) == frozenset()
    assert decode_states([0, 1 << 30]) == {"state-62"}  # a state newer than tracer's list


def test_an_element_says_what_it_is() -> None:
    plus = Element("push button", "+", (10, 20, 50, 40), frozenset({"showing", "focused"}),
                   app="calc", window="Calculator", path=("frame", "panel", "push button"))
    assert plus.describe() == "push button '+'"
    assert plus.center == (30, 30) and plus.contains(10, 20) and not plus.contains(50, 40)
    assert plus.anchor() == {"role": "push button", "name": "+"}  # (titles change)
    assert plus.to_dict() == {"role": "push button", "name": "+", "box": [10, 20, 50, 40],
                              "states": ["focused"], "window": "Calculator", "app": "calc"}
    assert Element("text", "", (0, 0, 5, 5)).describe() == "text"


def test_no_session_bus_means_no_tree_at_no_cost(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no bus socket there
    started = time.perf_counter()
    elements = open_atspi()
    assert time.perf_counter() - started < 0.01
    assert not elements.available and "no session D-Bus" in elements.reason
    assert elements.at(5, 5) is None and elements.find("push button", "+") == []
    assert bus_address() == (None, elements.reason)


def test_a_session_bus_without_the_accessibility_bus_is_no_tree(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path) -> None:
    monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/missing")
    elements = open_atspi()
    assert not elements.available and "cannot reach the session D-Bus" in elements.reason


def test_gnome_and_wlroots_without_sway_say_why_boxes_are_not_mapped() -> None:
    from tracer_cli.desktop.platforms.gnome import GnomePlatform
    from tracer_cli.desktop.platforms.wlroots import WlrootsPlatform

    elements = open_elements(GnomePlatform("wayland-0"))
    assert isinstance(elements, NoElements) and "not mapped on GNOME (Wayland)" in elements.reason
    assert "Introspect.GetWindows" in elements.reason and "unsafe mode" in elements.reason
    hyprland = WlrootsPlatform("wayland-1", env={"XDG_RUNTIME_DIR": "/tmp",
                                                  "HYPRLAND_INSTANCE_SIGNATURE": "x"})
    other = open_elements(hyprland)
    assert isinstance(other, NoElements) and "not mapped on Hyprland" in other.reason
    assert "no SWAYSOCK" in other.reason
    assert elements.applications() == [] and elements.active_window() == []
