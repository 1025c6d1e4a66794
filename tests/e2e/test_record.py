"""Recording on a real display: xdotool plays the user (real X input events), the recorder
writes a macro with visual anchors, and `tracer run` replays it after the window moved."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, Display, run_tracer
from tests.e2e.conftest import Notes, move_pointer, park_pointer, tracer_env, wait_until, xdotool
from tracer_cli.macro import load as macro

pytestmark = pytest.mark.display

# The notes window at +100+80 (examples/notes_app.py): where a user clicks, relative to the window.
NAME_FIELD = (300, 33)
NOTE_BOX = (300, 120)
SAVE = (80, 219)


class Recorder:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path, out: Path) -> None:
        self.proc = proc
        self.log = log
        self.out = out

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""


@pytest.fixture
def start_recorder(tmp_path: Path) -> Iterator[Callable[..., Recorder]]:
    """`tracer record OUT` in the background, armed; stopped by its PID after the test if it is
    still running."""
    started: list[Recorder] = []

    def start(display: Display, out: Path, *args: str, ignore_sigint: bool = False) -> Recorder:
        log = tmp_path / f"recorder-{len(started)}.log"
        # ignore_sigint: started the way a shell starts a background job (SIGINT ignored).
        preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
        with open(log, "wb") as sink:
            # -X faulthandler: a recorder that hangs is stopped with SIGABRT and shows where.
            proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "tracer_cli",
                                     "record", str(out), *args],
                                    env=display.env(), cwd=ROOT, stdout=sink, stderr=sink,
                                    preexec_fn=preexec)
        rec = Recorder(proc, log, out)
        started.append(rec)
        wait_until(lambda: "recording monitor" in rec.output() or proc.poll() is not None, 30,
                   "the recorder to arm its listeners")
        assert proc.poll() is None, rec.output()
        return rec

    yield start
    for rec in started:
        if rec.proc.poll() is None:
            rec.proc.kill()
            rec.proc.wait(timeout=10)


def click_at(display: Display, x: int, y: int) -> None:
    move_pointer(display, x, y)
    xdotool(display, "click", "1")
    time.sleep(0.3)


def user_saves_a_note(display: Display, left: int, top: int) -> None:
    """What the user does while recording: a name, a two-line note, Save."""
    click_at(display, left + NAME_FIELD[0], top + NAME_FIELD[1])
    xdotool(display, "type", "--delay", "40", "Ada Lovelace")
    click_at(display, left + NOTE_BOX[0], top + NOTE_BOX[1])
    xdotool(display, "type", "--delay", "40", "first line")
    xdotool(display, "key", "Return")
    xdotool(display, "type", "--delay", "40", "secondd")
    xdotool(display, "key", "BackSpace")
    click_at(display, left + SAVE[0], top + SAVE[1])


def test_record_then_replay_after_the_window_moved(display: Display, start_notes: Callable[..., Notes],
                                                   start_recorder: Callable[..., Recorder],
                                                   tmp_path: Path) -> None:
    notes = start_notes(display)
    out = tmp_path / "save-note.yaml"
    rec = start_recorder(display, out)
    user_saves_a_note(display, 100, 80)
    saved = notes.wait_state(lambda s: len(s.get("saved", [])) == 1, 5, "the user's save")
    assert saved["saved"] == [["Ada Lovelace", "first line\nsecond"]]
    xdotool(display, "key", "ctrl+alt+shift+k")  # the stop chord
    rec.proc.wait(timeout=120)
    assert rec.proc.returncode == 0, rec.output()
    assert "recorded 5 steps" in rec.output()

    loaded = macro.load(out)
    steps = [n.step for n in loaded.steps]
    assert [s.action for s in steps] == ["click", "type", "click", "type", "click"]
    assert steps[1].type == "Ada Lovelace"  # type: ignore[attr-defined]
    assert steps[3].type == "first line\nsecond"  # type: ignore[attr-defined]
    name_field, note_box, save = (steps[i].click for i in (0, 2, 4))  # type: ignore[attr-defined]
    assert save.text == "Save" and save.point is not None
    assert abs(save.point[0] - (100 + SAVE[0])) <= 1 and abs(save.point[1] - (80 + SAVE[1])) <= 1
    # empty fields: no text under the click, and a small image around it is not unique (a
    # blank field looks the same all along): their labels, with the offset to the click
    assert (name_field.text, note_box.text) == ("Name", "Note"), out.read_text()
    assert name_field.offset[0] > 150 and note_box.offset[1] > 30
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=") or text.startswith("# Recorded")
    assert "ctrl" not in text and "hotkey" not in text  # the stop chord is not a step

    # Reset the form, move the window, replay with the real runner.
    click_at(display, 100 + 204, 80 + 219)  # Clear
    notes.wait_state(lambda s: s.get("name") == "" and s.get("note") == "", 5, "the form to clear")
    notes.move(520, 330)
    park_pointer(display)
    done = run_tracer("run", str(out), "--yes", env=tracer_env(display), timeout=180)
    assert done.returncode == 0, done.stderr
    state = notes.wait_state(lambda s: len(s.get("saved", [])) == 2, 5, "the replayed save")
    assert state["saved"][1] == ["Ada Lovelace", "first line\nsecond"]
    assert state["clicks"] == ["Save", "Clear", "Save"]


@pytest.mark.parametrize("ignored", [False, True], ids=["foreground", "sigint-ignored"])
def test_ctrl_c_saves_what_was_recorded(display: Display, start_notes: Callable[..., Notes],
                                        start_recorder: Callable[..., Recorder], tmp_path: Path,
                                        ignored: bool) -> None:
    start_notes(display)
    out = tmp_path / "interrupted.yaml"
    rec = start_recorder(display, out, "--stop-hotkey", "", ignore_sigint=ignored)
    click_at(display, 100 + SAVE[0], 80 + SAVE[1])
    xdotool(display, "type", "--delay", "40", "a-B c")
    xdotool(display, "key", "ctrl+s", "ctrl+shift+Tab", "Escape", "F5", "shift+Tab")
    time.sleep(0.3)
    rec.proc.send_signal(signal.SIGINT)
    try:
        rec.proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        rec.proc.send_signal(signal.SIGABRT)
        rec.proc.wait(timeout=10)
        raise AssertionError("the recorder did not end after Ctrl-C:\n" + rec.output()) from None
    assert rec.proc.returncode == 0, rec.output()
    assert "recorded 7 steps" in rec.output()
    steps = [n.step for n in macro.load(out).steps]
    assert [s.action for s in steps] == ["click", "type"] + ["hotkey"] * 5
    assert steps[0].click.text == "Save"  # type: ignore[attr-defined]
    assert steps[1].type == "a-B c"  # type: ignore[attr-defined]
    assert [s.hotkey for s in steps[2:]] == [  # type: ignore[attr-defined]
        ["ctrl", "s"], ["ctrl", "shift", "tab"], ["escape"], ["f5"], ["shift", "tab"]]


def test_sigterm_keeps_a_ctrl_c_the_user_recorded(display: Display, start_notes: Callable[..., Notes],
                                                  start_recorder: Callable[..., Recorder],
                                                  tmp_path: Path) -> None:
    """Only a recording stopped with Ctrl-C drops its last ctrl+c (the key that stopped it); one
    ended by SIGTERM keeps the user's own copy at the end."""
    start_notes(display)
    out = tmp_path / "terminated.yaml"
    rec = start_recorder(display, out, "--stop-hotkey", "")
    click_at(display, 100 + SAVE[0], 80 + SAVE[1])
    xdotool(display, "key", "ctrl+a", "ctrl+c")
    time.sleep(0.3)  # pynput's listener thread hands the last keys over
    rec.proc.send_signal(signal.SIGTERM)
    rec.proc.wait(timeout=120)
    assert rec.proc.returncode == 0, rec.output()
    steps = [n.step for n in macro.load(out).steps]
    assert [s.hotkey for s in steps if s.action == "hotkey"] == [  # type: ignore[attr-defined]
        ["ctrl", "a"], ["ctrl", "c"]]


def test_an_existing_macro_is_not_overwritten(display: Display, tmp_path: Path) -> None:
    out = tmp_path / "there.yaml"
    out.write_text("- wait: 1\n")
    done = run_tracer("record", str(out), env=display.env(), timeout=60)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert "exists already" in message and "--force" in message
    assert out.read_text() == "- wait: 1\n"


def test_double_click_right_click_drag_and_scroll(display: Display, start_notes: Callable[..., Notes],
                                                  start_recorder: Callable[..., Recorder],
                                                  tmp_path: Path) -> None:
    start_notes(display)
    out = tmp_path / "gestures.yaml"
    rec = start_recorder(display, out)
    save = (100 + SAVE[0], 80 + SAVE[1])
    move_pointer(display, *save)
    xdotool(display, "click", "--repeat", "2", "--delay", "120", "1")
    time.sleep(0.8)  # more than the double-click time: the next click is a click of its own
    xdotool(display, "click", "3")
    time.sleep(0.3)
    move_pointer(display, 100 + NOTE_BOX[0] - 100, 80 + NOTE_BOX[1])
    xdotool(display, "mousedown", "1")
    move_pointer(display, 100 + NOTE_BOX[0] + 50, 80 + NOTE_BOX[1] + 30)
    xdotool(display, "mouseup", "1")
    time.sleep(0.3)
    xdotool(display, "click", "--repeat", "3", "--delay", "50", "5")  # wheel down
    time.sleep(0.3)
    xdotool(display, "key", "ctrl+alt+shift+k")
    rec.proc.wait(timeout=120)
    assert rec.proc.returncode == 0, rec.output()
    steps = [n.step for n in macro.load(out).steps]
    assert [s.action for s in steps] == ["double_click", "right_click", "drag", "scroll"], out.read_text()
    assert steps[0].double_click.text == "Save"  # type: ignore[attr-defined]
    assert steps[1].right_click.text == "Save"  # type: ignore[attr-defined]
    drag = steps[2].drag  # type: ignore[attr-defined]
    assert drag.start.point == (100 + NOTE_BOX[0] - 100, 80 + NOTE_BOX[1])
    assert drag.end.point == (100 + NOTE_BOX[0] + 50, 80 + NOTE_BOX[1] + 30)
    assert steps[3].scroll.dy == -3  # type: ignore[attr-defined]
    assert steps[3].scroll.at.point == (100 + NOTE_BOX[0] + 50, 80 + NOTE_BOX[1] + 30)  # type: ignore[attr-defined]
