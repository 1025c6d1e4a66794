"""The kill switch: hotkey parsing and its one-line errors, the chord matcher fed with key
events (the user's, and every sequence tracer's own typing and hotkey steps produce), the
actuator's refusal to press the chord, and the real listener on Xvfb."""

from __future__ import annotations

import itertools
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Display
from tests.test_actuator import x_keymap, xinput  # noqa: F401 (fixtures)
from tracer_cli.desktop.killswitch import (
    KillSwitch,
    PauseRequest,
    PauseSwitch,
    StopRequest,
    check_apart,
    key_names,
    label,
    parse,
    stop_reason,
)
from tracer_cli.errors import ActionError, ConfigError

pytestmark = pytest.mark.display  # pynput's X backend connects to the display at import
DEFAULT = "<ctrl>+<alt>+<shift>+k"


@pytest.fixture
def kb(display: Display) -> Any:
    from pynput import keyboard

    return keyboard


@pytest.mark.parametrize(("hotkey", "names"), [
    (DEFAULT, {"ctrl", "alt", "shift", "k"}),
    ("<CTRL>+<Alt>+K", {"ctrl", "alt", "k"}),
    ("<ctrl_l>+<alt>+x", {"ctrl", "alt", "x"}),  # pynput: ctrl_l is ctrl
    ("<f12>", {"f12"}),
    ("<shift>+<f9>", {"shift", "f9"}),
    ("<cmd>+<page_up>", {"win", "pageup"}),
    ("<ctrl>+<esc>", {"ctrl", "escape"}),
    ("<ctrl>+<alt>+1", {"ctrl", "alt", "1"}),
    ("<ctrl>+<65307>", {"ctrl", "escape"}),  # a raw X keysym
])
def test_parse_good_hotkeys(kb: Any, hotkey: str, names: set[str]) -> None:
    keys, chord = parse(hotkey)
    assert chord == names
    assert len(keys) == len(names)


@pytest.mark.parametrize(("hotkey", "problem"), [
    ("<ctrl>+<bogus>", "unknown key '<bogus>'"),
    ("ctrl+alt+k", "unknown key 'ctrl'"),
    ("<ctrl>+<ctrl>", "not valid"),
    ("<ctrl>+", "not valid"),
    ("k", "tracer's own typing could press"),
    ("<shift>+k", "tracer's own typing could press"),
    ("<shift>+<enter>", "tracer's own typing could press"),
    ("<space>", "tracer's own typing could press"),
    ("<ctrl>+<shift>+1", "combines <shift> with a digit"),
    ("<ctrl>+!", "a character typed with shift"),
    ("<ctrl>++", "a character typed with shift"),
    ("<ctrl_r>+<alt>+k", "one side of a modifier (<ctrl_r>)"),
])
def test_parse_bad_hotkeys_say_what_and_how(kb: Any, hotkey: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(hotkey)
    text = str(info.value)
    assert problem in text
    assert f"kill hotkey {hotkey!r}" in text
    assert "<ctrl>+<alt>+<shift>+k" in text and "--kill-hotkey ''" in text  # the fix
    assert "\n" not in text


def test_label() -> None:
    assert label(DEFAULT) == "ctrl+alt+shift+k"
    assert label("<f12>") == "f12"


@pytest.mark.parametrize(("keys", "names"), [
    (["ctrl", "alt", "shift", "k"], {"ctrl", "alt", "shift", "k"}),
    (["ctrlleft", "altright", "K"], {"ctrl", "alt", "shift", "k"}),  # K is shift+k
    (["ctrl", "!"], {"ctrl", "shift", "!"}),
    (["command", "pageup"], {"win", "pageup"}),
    (["ctrl", "\n"], {"ctrl", "enter"}),
])
def test_key_names_of_actuator_chords(keys: list[str], names: set[str]) -> None:
    assert key_names(keys) == names


def test_stop_request_keeps_the_first_reason() -> None:
    stop = StopRequest()
    assert stop_reason(stop) == "stopped"
    stop.request("stopped by the kill switch (ctrl+alt+shift+k)")
    stop.request("interrupted with Ctrl-C")
    assert stop.is_set()
    assert stop_reason(stop) == "stopped by the kill switch (ctrl+alt+shift+k)"
    plain = threading.Event()
    plain.set()
    assert stop_reason(plain, "interrupted with Ctrl-C") == "interrupted with Ctrl-C"


# --- the matcher, fed key events directly (as the listener's thread would, canonical) ----------


class Feed:
    """A KillSwitch that is never started: events go straight to its handlers."""

    def __init__(self, kb: Any, hotkey: str = DEFAULT) -> None:
        self.kb = kb
        self.stop = StopRequest()
        self.woken = 0
        self.switch = KillSwitch(hotkey, self.stop, self._wake)

    def _wake(self) -> None:
        self.woken += 1

    def key(self, name: str) -> Any:
        if len(name) == 1:
            return self.kb.KeyCode.from_char(name.lower())
        if name == "meta":  # X's name for Alt pressed while shift is down
            return self.kb.KeyCode.from_vk(0xFFE7)
        return getattr(self.kb.Key, name)

    def press(self, *names: str, injected: bool = False) -> Feed:
        for name in names:
            self.switch._press(self.key(name), injected)
        return self

    def release(self, *names: str) -> Feed:
        for name in names:
            self.switch._release(self.key(name))
        return self

    @property
    def fired(self) -> bool:
        return self.stop.is_set()


@pytest.mark.parametrize("order", list(itertools.permutations(["ctrl", "alt", "shift", "k"])))
def test_the_chord_fires_in_any_order(kb: Any, order: tuple[str, ...]) -> None:
    feed = Feed(kb)
    feed.press(*order[:-1])
    assert not feed.fired
    started = time.monotonic()
    feed.press(order[-1])
    assert feed.fired and feed.woken == 1
    assert feed.stop.reason == "stopped by the kill switch (ctrl+alt+shift+k)"
    assert feed.switch.triggered_at is not None and feed.switch.triggered_at >= started
    feed.press("k")  # once only
    assert feed.woken == 1


def test_alt_reported_as_meta_after_shift_counts(kb: Any) -> None:
    assert Feed(kb).press("shift", "meta", "ctrl", "k").fired


@pytest.mark.parametrize("keys", [("ctrl", "alt", "k"), ("ctrl", "shift", "k"),
                                  ("alt", "shift", "k"), ("ctrl", "alt", "shift", "j")])
def test_part_of_the_chord_does_not_fire(kb: Any, keys: tuple[str, ...]) -> None:
    assert not Feed(kb).press(*keys).fired


def test_a_released_key_no_longer_counts(kb: Any) -> None:
    assert not Feed(kb).press("ctrl", "alt", "shift").release("ctrl").press("k").fired


def test_injected_events_are_ignored(kb: Any) -> None:
    assert not Feed(kb).press("ctrl", "alt", "shift", "k", injected=True).fired


def test_shift_released_by_tracer_typing_a_capital_still_counts(kb: Any) -> None:
    """The user holds ctrl+alt+shift; tracer types 'A' meanwhile (shift down, a, shift up:
    XTest shares the key state); then the user presses k."""
    feed = Feed(kb).press("ctrl", "alt", "shift")
    feed.press("shift", "a").release("shift", "a")
    assert feed.press("k").fired


def test_shift_pressed_without_ctrl_alt_does_not_linger(kb: Any) -> None:
    feed = Feed(kb).press("shift", "a").release("shift", "a")  # tracer typed 'A' earlier
    assert not feed.press("ctrl", "alt", "k").fired


def pyautogui_events(feed: Feed, text: str) -> None:
    """The key events pyautogui sends to type ``text``, one character at a time."""
    for ch in text:
        shifted = ch.isupper() or ch in '~!@#$%^&*()_+{}|:"<>?'
        key = {"\n": "enter", "\t": "tab", " ": "space"}.get(ch, ch)
        if shifted:
            feed.press("shift")
        feed.press(key)
        if shifted:
            feed.release("shift")
        feed.release(key)


def test_tracer_typing_never_fires(kb: Any) -> None:
    feed = Feed(kb)
    text = string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "")
    pyautogui_events(feed, text * 3 + "KKK kkk Kk")
    assert not feed.fired


POOL = ["ctrl", "alt", "shift", "k", "K", "j"]
TO_PYNPUT = {"ctrl": "ctrl", "alt": "alt", "shift": "shift", "k": "k", "j": "j"}


def test_no_hotkey_step_tracer_allows_fires(kb: Any) -> None:
    """Every hotkey step of up to 4 keys from a pool around the chord: the actuator refuses it,
    or the key events it sends never complete the chord (also after typing capitals)."""
    chord = parse(DEFAULT)[1]
    allowed = 0
    for n in range(1, 5):
        for keys in itertools.permutations(POOL, n):
            if chord <= key_names(keys):
                continue  # refused by the actuator
            allowed += 1
            feed = Feed(kb)
            pyautogui_events(feed, "Ab")
            for key in keys:  # pyautogui.keyDown: a capital is shift down, key, shift up
                if key == "K":
                    feed.press("shift", "k").release("shift")
                else:
                    feed.press(TO_PYNPUT[key])
            for key in reversed(keys):
                feed.release(TO_PYNPUT[key.lower()])
            pyautogui_events(feed, "Kk")
            assert not feed.fired, keys
    assert allowed > 100


# --- the real actuator and listener on Xvfb ----------------------------------------------------


def test_actuator_refuses_the_kill_chord(xinput: Any, x_keymap: Any) -> None:  # noqa: F811
    from tracer_cli.desktop.actuator import LiveActuator

    chord = parse(DEFAULT)[1]
    actuator = LiveActuator(xinput, forbidden=[chord])
    for keys in (["ctrl", "alt", "shift", "k"], ["shift", "ctrl", "alt", "K"], ["ctrl", "alt", "K"],
                 ["ctrlleft", "altleft", "shiftleft", "k"], ["ctrl", "alt", "shift", "k", "j"]):
        with pytest.raises(ActionError, match="kill hotkey"):
            actuator.hotkey(keys)
        assert x_keymap() == set()
    actuator.hotkey(["ctrl", "alt", "k"])  # one key short: pressed
    assert x_keymap() == set()


@pytest.fixture
def armed(display: Display) -> Iterator[tuple[KillSwitch, StopRequest]]:
    stop = StopRequest()
    switch = KillSwitch(DEFAULT, stop)
    switch.start()
    try:
        yield switch, stop
    finally:
        switch.close()


def xdotool_key(display: Display, chord: str) -> None:
    subprocess.run(["xdotool", "key", chord], env=display.env(), check=True, timeout=10)


def test_real_listener_fires_on_the_chord_only(display: Display, armed: Any) -> None:
    switch, stop = armed
    assert switch.armed and switch.warning == ""
    for chord in ("ctrl+alt+k", "shift+k", "ctrl+alt+shift+j"):
        xdotool_key(display, chord)
    time.sleep(0.2)
    assert not stop.is_set()
    sent = time.monotonic()
    xdotool_key(display, "ctrl+alt+shift+k")
    deadline = time.monotonic() + 2
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert stop.is_set(), "the kill switch did not fire"
    assert switch.triggered_at is not None and switch.triggered_at - sent < 0.5
    assert stop.reason == "stopped by the kill switch (ctrl+alt+shift+k)"


def test_close_ends_the_listener_at_once(display: Display) -> None:
    switch = KillSwitch(DEFAULT, StopRequest())
    with switch:
        listener = switch._listener
        assert switch.armed and listener.is_alive()
        started = time.monotonic()
        switch.close()
        assert time.monotonic() - started < 0.5
        assert not listener.is_alive() and not switch.armed
    switch.close()  # again, and on leaving the block: fine


# --- the pause hotkey ------------------------------------------------------------------------

PAUSE = "<ctrl>+<alt>+<shift>+p"


def test_pause_hotkey_errors_name_the_pause_hotkey(kb: Any) -> None:
    with pytest.raises(ConfigError) as info:
        parse("<shift>+p", "pause")
    text = str(info.value)
    assert "pause hotkey '<shift>+p'" in text and "tracer's own typing could press" in text
    assert "<ctrl>+<alt>+<shift>+p" in text and "--pause-hotkey ''" in text


@pytest.mark.parametrize("pause", [DEFAULT, "<ctrl>+<alt>+<shift>", "<alt>+<ctrl>+<shift>+k"])
def test_a_pause_chord_that_meets_the_kill_chord_is_refused(kb: Any, pause: str) -> None:
    with pytest.raises(ConfigError, match="collides with the kill hotkey"):
        check_apart(parse(DEFAULT)[1], parse(pause, "pause")[1], pause)
    check_apart(parse(DEFAULT)[1], parse(PAUSE, "pause")[1], PAUSE)  # the defaults are apart


def test_pause_toggles_once_per_press(kb: Any) -> None:
    request = PauseRequest()
    toggles: list[bool] = []
    switch = PauseSwitch(PAUSE, request, toggles.append)

    def key(name: str) -> Any:
        return kb.KeyCode.from_char(name) if len(name) == 1 else getattr(kb.Key, name)

    for name in ("ctrl", "alt", "shift", "p"):
        switch._press(key(name))
    for _ in range(3):  # X's auto-repeat of the held p: release and press pairs
        switch._release(key("p"))
        switch._press(key("p"))
    assert toggles == [True] and request.requested.is_set()
    for name in ("p", "shift", "alt", "ctrl"):
        switch._release(key(name))
    for name in ("ctrl", "alt", "shift", "p"):  # the chord again: hands back...
        switch._press(key(name))
    for name in ("p", "shift", "alt"):
        switch._release(key(name))
        assert request.requested.is_set()  # ...once the user lets go of all of it
    switch._release(key("ctrl"))
    assert toggles == [True, False] and not request.requested.is_set()


def test_pause_request_notes_and_waiting() -> None:
    request, stop = PauseRequest(), StopRequest()
    assert request.wait_resumed(stop)  # not paused: at once
    request.toggle()
    request.add_note("  closed the dialog ")
    request.add_note("")
    request.add_note("saved")
    threading.Timer(0.1, request.toggle).start()
    assert request.wait_resumed(stop)
    assert request.take_note() == "closed the dialog saved" and request.take_note() == ""
    request.toggle()
    threading.Timer(0.1, stop.request, ("stopped",)).start()
    assert not request.wait_resumed(stop)  # a stop ends the pause


def test_real_pause_listener_toggles_on_each_press(display: Display) -> None:
    request = PauseRequest()
    with PauseSwitch(PAUSE, request) as switch:
        assert switch.armed
        for expected in (True, False, True):
            xdotool_key(display, "ctrl+alt+shift+p")
            deadline = time.monotonic() + 2
            while request.requested.is_set() != expected and time.monotonic() < deadline:
                time.sleep(0.005)
            assert request.requested.is_set() == expected
