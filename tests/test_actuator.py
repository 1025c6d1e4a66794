"""Acting on the desktop: plan steps to primitives (recorded), and the real pyautogui actuator."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Display
from tracer_cli.desktop.actuator import Executed, RecordingActuator, execute
from tracer_cli.desktop.screen import Geometry, Rect
from tracer_cli.errors import ActionError, Interrupted
from tracer_cli.plan import KNOWN_KEYS, parse_step

# A second monitor to the right of a 1920 wide primary, 1280x800.
SECOND = Geometry(Rect(1920, 0, 1280, 800), index=2)
# A HiDPI monitor: 2560x1600 physical pixels, input in logical pixels (half).
HIDPI = Geometry(Rect(0, 0, 2560, 1600), index=1, input_scale=(2.0, 2.0))


def run(step: dict[str, Any], geometry: Geometry = SECOND) -> tuple[Executed, list[tuple]]:
    actuator = RecordingActuator()
    done = execute(parse_step(step), geometry, actuator)
    return done, actuator.calls


def test_click_maps_through_the_monitor_offset() -> None:
    done, calls = run({"action": "click", "x": 500, "y": 500, "target": "b"})
    assert calls == [("click", 1920 + 640, 400, "left", 1)]
    assert done.points == [(2560, 400)]


def test_double_and_right_click() -> None:
    _, calls = run({"action": "double_click", "x": 0, "y": 0, "target": "f"})
    assert calls == [("click", 1920, 0, "left", 2)]
    _, calls = run({"action": "right_click", "x": 250, "y": 1000, "target": "m"})
    assert calls == [("click", 1920 + 320, 799, "right", 1)]


def test_click_on_hidpi_uses_input_units() -> None:
    done, calls = run({"action": "click", "x": 500, "y": 250, "target": "b"}, HIDPI)
    assert calls == [("click", 640, 200, "left", 1)]
    assert done.points == [(640, 200)]


def test_type_and_hotkey() -> None:
    done, calls = run({"action": "type", "text": "hello\nworld"})
    assert calls == [("type", "hello\nworld")]
    assert done.points == []
    _, calls = run({"action": "hotkey", "keys": ["Control", "Shift", "T"]})
    assert calls == [("hotkey", "ctrl", "shift", "t")]


@pytest.mark.parametrize("dy", [-3, 5])
def test_scroll_keeps_its_sign(dy: int) -> None:
    # Negative scrolls down, as for pyautogui.scroll: the sign is passed on unchanged.
    _, calls = run({"action": "scroll", "x": 500, "y": 250, "dy": dy})
    assert calls == [("scroll", 2560, 200, dy)]


def test_scroll_without_a_point_turns_the_wheel_at_the_pointer() -> None:
    """As OSWorld's executor does for a Qwen3-VL scroll without a coordinate."""
    actuator = RecordingActuator(pointer=(2000, 300))  # on the second monitor
    done = execute(parse_step({"action": "scroll", "dy": -5}), SECOND, actuator)
    assert actuator.calls == [("scroll", 2000, 300, -5)]
    assert done.points == [(2000, 300)]


def test_scroll_without_a_point_is_refused_when_the_pointer_is_on_another_monitor() -> None:
    actuator = RecordingActuator(pointer=(100, 300))  # on the primary, not the chosen monitor
    with pytest.raises(ActionError, match="not on monitor 2"):
        execute(parse_step({"action": "scroll", "dy": -5}), SECOND, actuator)
    assert actuator.calls == []


def test_drag_maps_both_points() -> None:
    done, calls = run({"action": "drag", "x": 100, "y": 100, "x2": 900, "y2": 500})
    assert calls == [("drag", 1920 + 128, 80, 1920 + 1152, 400)]
    assert done.points == [(2048, 80), (3072, 400)]


def test_drag_on_hidpi() -> None:
    _, calls = run({"action": "drag", "x": 0, "y": 0, "x2": 1000, "y2": 1000}, HIDPI)
    assert calls == [("drag", 0, 0, 1280, 800)]


def test_wait_sleeps() -> None:
    _, calls = run({"action": "wait", "seconds": 2.5})
    assert calls == [("sleep", 2.5)]


@pytest.mark.parametrize("step", [{"action": "done", "answer": "x"},
                                  {"action": "fail", "reason": "cannot"}])
def test_terminal_steps_are_refused(step: dict[str, Any]) -> None:
    actuator = RecordingActuator()
    with pytest.raises(ActionError, match="not an action that can be executed"):
        execute(parse_step(step), SECOND, actuator)
    assert actuator.calls == []


def test_point_outside_the_monitor_is_refused() -> None:
    # A degenerate monitor rectangle: no model point can land on it.
    broken = Geometry(Rect(0, 0, 0, 0), index=4)
    actuator = RecordingActuator()
    with pytest.raises(ActionError, match=r"point \(10,10\) falls outside monitor 4"):
        execute(parse_step({"action": "click", "x": 10, "y": 10, "target": "t"}), broken, actuator)
    assert actuator.calls == []


def test_recording_actuator_size() -> None:
    assert RecordingActuator((1280, 800)).size() == (1280, 800)
    assert RecordingActuator().size() == (1920, 1080)


# --- the real actuator on Xvfb -----------------------------------------------------------------


def pointer() -> tuple[int, int]:
    out = subprocess.run(["xdotool", "getmouselocation", "--shell"], capture_output=True,
                         text=True, check=True, timeout=10).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return int(values["X"]), int(values["Y"])


def move_pointer(x: int, y: int) -> None:
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True, timeout=10)


@pytest.fixture
def xinput(display: Display) -> Iterator[Any]:
    """The X11 platform's input (XTEST) on the test display."""
    from tracer_cli.desktop.platforms.x11 import X11Platform

    keyboard = X11Platform(display.name).open_input()
    yield keyboard
    keyboard.close()


@pytest.fixture
def gui(xinput: Any) -> Iterator[Any]:
    """The real actuator on the test display, with the pointer parked mid-screen."""
    from tracer_cli.desktop.actuator import LiveActuator

    actuator = LiveActuator(xinput, type_interval=0.01)
    move_pointer(640, 400)
    yield actuator
    actuator.release_all()


@pytest.fixture
def x_keymap(display: Display) -> Iterator[Any]:
    """A function returning the keycodes the X server currently holds down."""
    from Xlib.display import Display as XDisplay

    conn = XDisplay(display.name)

    def held() -> set[int]:
        keymap = conn.query_keymap()
        return {i * 8 + bit for i, byte in enumerate(keymap) for bit in range(8) if byte >> bit & 1}

    yield held
    conn.close()


@pytest.mark.display
def test_size_is_the_display(gui: Any) -> None:
    assert gui.size() == (1280, 800)


@pytest.mark.display
def test_click_moves_the_real_pointer(gui: Any) -> None:
    gui.click(300, 200)
    assert pointer() == (300, 200)
    gui.click(1000, 700, button="right", clicks=2)
    assert pointer() == (1000, 700)


@pytest.mark.display
def test_execute_click_on_the_real_display(gui: Any) -> None:
    geometry = Geometry(Rect(0, 0, 1280, 800))
    done = execute(parse_step({"action": "click", "x": 250, "y": 750, "target": "t"}), geometry, gui)
    assert done.points == [(320, 600)]
    assert pointer() == (320, 600)


@pytest.mark.display
def test_a_scroll_without_a_point_happens_at_the_real_pointer(gui: Any) -> None:
    gui.click(700, 500)
    assert gui.position() == (700, 500)
    done = execute(parse_step({"action": "scroll", "dy": 2}), Geometry(Rect(0, 0, 1280, 800)), gui)
    assert done.points == [(700, 500)]
    assert pointer() == (700, 500)


@pytest.mark.display
def test_click_on_a_corner_pixel_lands_one_pixel_inside(gui: Any) -> None:
    gui.click(1279, 799)
    assert pointer() == (1278, 798)
    gui.click(0, 0)  # would trip the fail-safe on the next action if parked there
    assert pointer() == (1, 1)
    gui.click(640, 400)  # no Interrupted
    assert pointer() == (640, 400)


@pytest.mark.display
def test_fail_safe_corner_interrupts(gui: Any, x_keymap: Any) -> None:
    move_pointer(0, 0)  # the user throws the mouse into a corner
    with pytest.raises(Interrupted, match="fail-safe"):
        gui.click(640, 400)
    assert pointer() == (0, 0)  # nothing was clicked
    gui.release_all()  # works with the mouse still in the corner
    assert x_keymap() == set()


@pytest.mark.display
def test_drag_moves_to_the_end_point(gui: Any) -> None:
    gui.drag(100, 100, 400, 300)
    assert pointer() == (400, 300)


@pytest.mark.display
def test_scroll_moves_to_the_point(gui: Any) -> None:
    gui.scroll(200, 150, -2)
    assert pointer() == (200, 150)


# Keys Xvfb's default keymap lacks: F13..F24; "fn" has no X keysym at all.
KEYMAP_MISSING_KEYS = {f"f{n}" for n in range(13, 25)} | {"fn"}
LOCK_KEYS = {"capslock", "numlock", "scrolllock"}


def test_every_known_key_but_fn_has_a_keysym() -> None:
    from tracer_cli.desktop.keysyms import key_keysym

    missing = set()
    for key in KNOWN_KEYS:
        try:
            key_keysym(key)
        except KeyError:
            missing.add(key)
    assert missing == {"fn"}  # a key no keyboard reports to software


@pytest.mark.display
def test_every_known_key_has_an_x11_keycode(xinput: Any) -> None:
    assert set(xinput.missing_keys(sorted(KNOWN_KEYS))) == KEYMAP_MISSING_KEYS


@pytest.mark.display
def test_every_known_key_really_goes_down_on_x(xinput: Any, x_keymap: Any) -> None:
    not_down, pressed = [], []
    for key in sorted(set(KNOWN_KEYS) - KEYMAP_MISSING_KEYS):
        xinput.key(key, True)
        try:
            if not x_keymap():
                not_down.append(key)
        finally:
            xinput.key(key, False)
        if key in LOCK_KEYS:  # toggle the lock back off
            xinput.key(key, True)
            xinput.key(key, False)
        pressed.append(key)
    assert not_down == []
    assert len(pressed) > 100
    assert x_keymap() == set()


UNMAPPABLE_HOTKEY = """
import sys, warnings
warnings.simplefilter("ignore")
from tracer_cli.desktop.actuator import LiveActuator, execute
from tracer_cli.desktop.platforms.x11 import X11Platform
from tracer_cli.errors import TracerError
from tracer_cli.plan import parse_step
from tracer_cli.desktop.screen import Geometry, Rect

actuator = LiveActuator(X11Platform().open_input())
step = parse_step({"action": "hotkey", "keys": ["f13"]})  # the plan contract accepts it
try:
    execute(step, Geometry(Rect(0, 0, 1280, 800)), actuator)
    print("hotkey: ok")
except TracerError as exc:
    print("hotkey: TracerError", exc)
except Exception as exc:
    print("hotkey: crashed with", type(exc).__name__, exc)
sys.stdout.flush()
actuator.release_all()
actuator.click(640, 400)
print("usable afterwards")
"""


@pytest.mark.display
def test_hotkey_the_keymap_lacks_does_not_wedge_the_actuator(display: Display) -> None:
    # F13 is a known key but Xvfb's keymap has no keycode for it: refused before anything is
    # pressed, and the actuator still works afterwards. (The pointer off the corners, where
    # another test may have left it: there the fail-safe would stop the click.)
    subprocess.run(["xdotool", "mousemove", "640", "400"], env=display.env(), check=True, timeout=10)
    try:
        proc = subprocess.run([sys.executable, "-c", UNMAPPABLE_HOTKEY], capture_output=True,
                              text=True, timeout=5, env=display.env())
        output = proc.stdout + proc.stderr[-2000:]
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout or b""  # bytes, even in text mode
        output = (partial.decode() if isinstance(partial, bytes) else partial) + "\n<hung: killed after 5 s>"
    assert "hotkey: TracerError cannot press 'f13': not on this keyboard layout" in output, output
    assert "usable afterwards" in output, output


@pytest.mark.display
def test_hotkey_leaves_no_key_held(gui: Any, x_keymap: Any) -> None:
    gui.hotkey(["ctrl", "shift", "a"])
    assert x_keymap() == set()
    assert gui._pressed == []


@pytest.mark.display
def test_release_all_lets_go_of_held_modifiers(gui: Any, xinput: Any, x_keymap: Any) -> None:
    xinput.key("shift", True)
    xinput.key("ctrl", True)
    assert len(x_keymap()) == 2
    assert xinput.user_modifiers() == {"shift", "ctrl"}
    gui.release_all()
    assert x_keymap() == set()


@pytest.mark.display
def test_stop_set_before_typing_types_nothing(xinput: Any, x_keymap: Any) -> None:
    from tracer_cli.desktop.actuator import LiveActuator

    stop = threading.Event()
    stop.set()
    actuator = LiveActuator(xinput, stop)
    for act in (lambda: actuator.type_text("hello"), lambda: actuator.click(10, 10),
                lambda: actuator.hotkey(["ctrl", "a"]), lambda: actuator.scroll(10, 10, 1),
                lambda: actuator.drag(10, 10, 20, 20), lambda: actuator.sleep(5)):
        started = time.monotonic()
        with pytest.raises(Interrupted):
            act()
        assert time.monotonic() - started < 0.5
    assert x_keymap() == set()


@pytest.mark.display
def test_stop_interrupts_typing_midway(xinput: Any) -> None:
    from tracer_cli.desktop.actuator import LiveActuator

    stop = threading.Event()
    actuator = LiveActuator(xinput, stop, type_interval=0.01)
    text = "x" * 200  # at least 200 * 0.01 s interval = 2 s to type in full
    timer = threading.Timer(0.2, stop.set)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(Interrupted, match="stopped"):
            actuator.type_text(text)
    finally:
        timer.cancel()
    elapsed = time.monotonic() - started
    assert 0.15 < elapsed < 1.5  # it typed for a while, then stopped well before the end


@pytest.mark.display
def test_stop_interrupts_a_wait(xinput: Any) -> None:
    from tracer_cli.desktop.actuator import LiveActuator

    stop = threading.Event()
    actuator = LiveActuator(xinput, stop)
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted):
        actuator.sleep(10)
    assert time.monotonic() - started < 1.0
