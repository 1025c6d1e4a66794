"""Seeing the screen: budgets, coordinate mapping, display checks, settling, real capture."""

from __future__ import annotations

import subprocess
import time

import pytest
from PIL import Image

from tests.conftest import Display
from tracer_cli.desktop.platforms.x11 import X11Platform
from tracer_cli.desktop.screen import (
    Geometry,
    Rect,
    Screenshot,
    data_url,
    encode_image,
    input_scale,
    wait_settled,
)
from tracer_cli.errors import DisplayError


def MssScreen(monitor: int = 1, input_size: tuple[int, int] | None = None):  # noqa: N802, ANN201
    """The X11 platform's capture of DISPLAY's monitor (mss)."""
    return X11Platform().open_screen(monitor, input_size)


def test_encode_image_png_and_jpeg() -> None:
    image = Image.new("RGB", (64, 32), (10, 200, 30))
    mime, raw = encode_image(image)
    assert mime == "image/png" and raw.startswith(b"\x89PNG")
    mime, raw = encode_image(image.convert("RGBA"), "jpeg")
    assert mime == "image/jpeg" and raw.startswith(b"\xff\xd8")
    assert data_url(image).startswith("data:image/png;base64,iVBOR")


# --- Geometry ----------------------------------------------------------------------------------


def test_to_desktop_primary_monitor() -> None:
    g = Geometry(Rect(0, 0, 1920, 1080))
    assert g.to_desktop(0, 0) == (0, 0)
    assert g.to_desktop(500, 500) == (960, 540)
    assert g.to_desktop(250, 750) == (480, 810)


def test_to_desktop_second_monitor_at_offset() -> None:
    g = Geometry(Rect(1920, 0, 1280, 1024), index=2)
    assert g.to_desktop(0, 0) == (1920, 0)
    assert g.to_desktop(500, 500) == (1920 + 640, 512)
    assert g.to_input(500, 500) == (2560, 512)


def test_to_desktop_monitor_above_and_left() -> None:
    g = Geometry(Rect(-1280, -800, 1280, 800), index=3)
    assert g.to_desktop(0, 0) == (-1280, -800)
    assert g.to_desktop(500, 500) == (-640, -400)


def test_to_desktop_clamps_at_1000() -> None:
    g = Geometry(Rect(1920, 100, 1280, 800))
    assert g.to_desktop(1000, 1000) == (1920 + 1279, 100 + 799)
    assert g.monitor.contains(*g.to_desktop(1000, 1000))
    assert g.to_desktop(999, 999) == (1920 + 1279, 100 + 799)


def test_to_input_hidpi() -> None:
    # mss sees 2560x1600 physical pixels; pyautogui counts 1280x800 logical ones.
    g = Geometry(Rect(0, 0, 2560, 1600), input_scale=(2.0, 2.0))
    assert g.to_desktop(500, 500) == (1280, 800)
    assert g.to_input(500, 500) == (640, 400)
    assert g.to_input(1000, 1000) == (1280, 800)  # 2559/2 rounds to 1280


def test_to_input_hidpi_second_monitor() -> None:
    g = Geometry(Rect(2560, 0, 2560, 1600), index=2, input_scale=(2.0, 2.0))
    assert g.to_input(0, 0) == (1280, 0)
    assert g.to_input(500, 250) == (1920, 200)


def test_from_desktop_round_trip() -> None:
    # Monitors with at least 1000 pixels a side name every model point 0..999 exactly.
    for rect in (Rect(0, 0, 1920, 1080), Rect(1920, 0, 1280, 1024), Rect(-2560, 200, 2560, 1440)):
        g = Geometry(rect)
        for x in range(0, 1000, 7):
            for y in (0, 1, 333, 500, 998, 999):
                assert g.from_desktop(*g.to_desktop(x, y)) == (x, y)


def test_from_desktop_round_trip_small_monitor() -> None:
    # 800 pixels cannot name 1001 points: the round trip is off by at most one.
    g = Geometry(Rect(1920, 0, 1280, 800))
    for x in range(0, 1001, 3):
        for y in range(0, 1001, 3):
            bx, by = g.from_desktop(*g.to_desktop(x, y))
            assert abs(bx - x) <= 1 and abs(by - y) <= 1
    assert g.from_desktop(1920, 0) == (0, 0)
    assert g.from_desktop(1920 + 640, 400) == (500, 500)
    assert g.from_desktop(*g.to_desktop(1000, 1000)) == (999, 999)  # clamped to the last pixel


def test_rect_contains() -> None:
    r = Rect(1920, 0, 1280, 800)
    assert r.contains(1920, 0) and r.contains(3199, 799)
    assert not r.contains(3200, 0) and not r.contains(1919, 10) and not r.contains(2000, 800)


def test_input_scale() -> None:
    assert input_scale(Rect(0, 0, 2560, 1600), (1280, 800)) == (2.0, 2.0)
    assert input_scale(Rect(0, 0, 1920, 1080), (1920, 1080)) == (1.0, 1.0)
    assert input_scale(Rect(0, 0, 1921, 1080), (1920, 1080)) == (1.0, 1.0)  # within a pixel
    assert input_scale(Rect(0, 0, 2880, 1620), (1920, 1080)) == (1.5, 1.5)
    assert input_scale(Rect(0, 0, 1920, 1080), (0, 0)) == (1.0, 1.0)


# --- wait_settled ------------------------------------------------------------------------------


class ChangingScreen:
    """A fake screen whose fingerprint changes on each look until ``changes`` looks are over."""

    def __init__(self, changes: int | None) -> None:
        self.changes = changes
        self.looks = 0
        self.geometry = Geometry(Rect(0, 0, 100, 100))

    def capture(self) -> Screenshot:
        return Screenshot(Image.new("RGB", (100, 100)), self.geometry, time.time())

    def fingerprint(self) -> bytes:
        self.looks += 1
        if self.changes is None or self.looks <= self.changes:
            return self.looks.to_bytes(4, "big")
        return b"still"


def test_wait_settled_when_the_screen_stops_changing() -> None:
    screen = ChangingScreen(changes=5)
    waited, settled = wait_settled(screen, quiet=0.05, timeout=2.0, interval=0.01)
    assert settled
    assert screen.looks >= 6  # it kept looking until the changes were over
    assert 0.05 <= waited < 1.0


def test_wait_settled_times_out_on_a_screen_that_never_settles() -> None:
    screen = ChangingScreen(changes=None)
    started = time.monotonic()
    waited, settled = wait_settled(screen, quiet=0.1, timeout=0.3, interval=0.01)
    assert settled is False
    assert 0.3 <= waited < 1.0
    assert time.monotonic() - started < 1.5


def test_wait_settled_on_a_still_screen_takes_quiet() -> None:
    screen = ChangingScreen(changes=0)
    waited, settled = wait_settled(screen, quiet=0.05, timeout=2.0, interval=0.01)
    assert settled
    assert 0.05 <= waited < 0.3


def test_wait_settled_with_no_quiet_time_returns_at_once() -> None:
    screen = ChangingScreen(changes=None)
    waited, settled = wait_settled(screen, quiet=0, timeout=2.0)
    assert settled and waited < 0.05
    assert screen.looks == 1


# --- MssScreen on a real X display -------------------------------------------------------------


@pytest.mark.display
def test_mss_capture_real_display(display: Display) -> None:
    screen = MssScreen(1)
    try:
        assert screen.geometry.monitor == Rect(0, 0, 1280, 800)
        assert screen.geometry.index == 1
        assert screen.geometry.input_scale == (1.0, 1.0)
        shot = screen.capture()
        assert shot.image.size == (1280, 800)
        assert shot.image.mode == "RGB"
        assert shot.geometry is screen.geometry
        assert abs(shot.taken_at - time.time()) < 5
        first = screen.fingerprint()
        assert isinstance(first, bytes) and first
        assert screen.fingerprint() == first  # nothing moves on an empty Xvfb
    finally:
        screen.close()


@pytest.mark.display
def test_mss_input_scale_from_input_size(display: Display) -> None:
    screen = MssScreen(1, input_size=(640, 400))
    try:
        assert screen.geometry.input_scale == (2.0, 2.0)
        assert screen.geometry.to_input(500, 500) == (320, 200)
    finally:
        screen.close()


@pytest.mark.display
@pytest.mark.parametrize("monitor", [5, 0])
def test_mss_missing_monitor_lists_the_monitors(display: Display, monitor: int) -> None:
    with pytest.raises(DisplayError) as info:
        MssScreen(monitor)
    assert info.value.message == f"monitor {monitor} does not exist"
    assert "1: 1280x800+0+0" in info.value.hint
    assert "--monitor" in info.value.hint


def test_mss_screen_without_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="DISPLAY is not set"):
        MssScreen(1)


def test_mss_screen_unreachable_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":4093")
    with pytest.raises(DisplayError, match="cannot open the X display :4093 for capture"):
        MssScreen(1)


@pytest.mark.display
def test_mss_sees_what_is_on_the_screen(display: Display) -> None:
    screen = MssScreen(1)
    try:
        before = screen.fingerprint()
        subprocess.run(["xsetroot", "-solid", "#ff0000"], check=True, timeout=10)
        assert screen.fingerprint() != before
        assert screen.capture().image.getpixel((640, 400)) == (255, 0, 0)
    finally:
        subprocess.run(["xsetroot", "-def"], check=True, timeout=10)
        screen.close()


def test_a_display_that_dies_is_lost_on_capture_and_closes_quietly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The X server of a sandbox is killed mid-run: the next capture says the display is lost,
    and closing the screen afterwards (the run's clean-up) raises nothing."""
    from tests.conftest import start_xvfb
    from tracer_cli.errors import DisplayLost

    proc, name = start_xvfb(320, 200)
    try:
        monkeypatch.setenv("DISPLAY", name)
        screen = MssScreen(1)
        screen.capture()
        proc.kill()
        proc.wait(timeout=10)
        with pytest.raises(DisplayLost):
            screen.capture()
        screen.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
