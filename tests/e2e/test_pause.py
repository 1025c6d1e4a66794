"""Pause and hand back, end to end: the real `tracer do` typing a long text into clicklog on Xvfb
is paused by the global pause hotkey (sent with xdotool) between two keys; nothing stays held,
someone else moves the pointer meanwhile, the hotkey again resumes, the model's next request
says the user took over (with the note typed at the terminal), and the run record keeps the
pause. A macro pauses the same way and types the rest of its text after the hand-back."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Display, run_tracer
from tests.e2e.conftest import (
    ClickLog,
    done,
    last_run,
    move_pointer,
    plan,
    pointer,
    request_text,
    run_dir,
    tracer_env,
    wait_until,
    xdotool,
)
from tests.e2e.test_kill_switch import MODIFIER_KEYSYMS, assert_nothing_held

pytestmark = pytest.mark.display

CHORD = "ctrl+alt+shift+p"
# Capitals and signs (tracer presses shift for each), and no p or k: every p in the app's log
# is the user's chord.
TEXT = ("Hello World, This Is A Long Line Of Text Written By Tracer! " * 7)[:400]
assert "p" not in TEXT.lower() and "k" not in TEXT.lower()
TAKE_OVER = "the user paused tracer and took over the mouse and keyboard"


def typed(app: ClickLog) -> list[dict[str, Any]]:
    """The keys tracer typed (not the user's chord)."""
    return [e for e in app.keys() if e["keysym"] not in MODIFIER_KEYSYMS | {"p", "P"}]


def pauses(env: dict[str, str]) -> list[dict[str, Any]]:
    meta = json.loads((run_dir(env) / "run.json").read_text(encoding="utf-8"))
    return meta.get("pauses", [])


def chord_start(app: ClickLog, after: float = 0.0) -> float:
    """When the user's chord began (its first modifier), in clicklog's clock."""
    return next(e["t"] for e in app.keys() if e["keysym"] in MODIFIER_KEYSYMS and e["t"] > after)


def pause_mid_typing(display: Display, clicklog: ClickLog, env: dict[str, str],
                     proc: subprocess.Popen[Any]) -> dict[str, Any]:
    """Press the pause chord once tracer is typing; returns the run record's pause entry once
    tracer has let go of everything."""
    wait_until(lambda: len(typed(clicklog)) >= 10 or proc.poll() is not None, 30,
               "tracer to start typing")
    assert proc.poll() is None, proc.communicate()
    xdotool(display, "key", CHORD)
    wait_until(lambda: bool(pauses(env)) or proc.poll() is not None, 10, "the pause")
    assert proc.poll() is None, proc.communicate()
    return pauses(env)[0]


def check_paused(display: Display, clicklog: ClickLog, env: dict[str, str],
                 entry: dict[str, Any]) -> int:
    """While paused: typing stopped at a key boundary, nothing is held, and the pointer is the
    user's. Returns how many characters tracer typed."""
    count = len(typed(clicklog))
    assert entry["interrupted"] == f"after typing {count} of {len(TEXT)} characters"
    p_at = next(e["t"] for e in clicklog.keys() if e["keysym"] in ("p", "P"))
    last = max(e["t"] for e in typed(clicklog))
    late = sum(e["t"] > p_at for e in typed(clicklog))
    print(f"\npause: {count} of {len(TEXT)} characters typed; {late} after the chord's p"
          + (f", the last {(last - p_at) * 1000:.0f} ms after it" if late else ""))
    assert last - p_at < 0.25, f"typing went on for {(last - p_at) * 1000:.0f} ms after the chord"
    chord = chord_start(clicklog)
    before = [e["char"] for e in typed(clicklog) if e["t"] < chord]
    assert "".join(before) == TEXT[:len(before)]  # typed as planned up to the chord
    assert_nothing_held(display)
    # Someone else moves the pointer; tracer does not take it back, and types nothing more.
    move_pointer(display, 101, 103)
    wait_until(lambda: pointer(display) == (101, 103), 5, "the user's pointer move")
    move_pointer(display, 640, 400)
    wait_until(lambda: pointer(display) == (640, 400), 5, "the user's second pointer move")
    assert len(typed(clicklog)) == count
    assert pauses(env)[0].get("seconds") is None  # still paused
    assert_nothing_held(display)
    return count


def test_pause_hotkey_hands_back_mid_typing_and_the_model_hears_of_it(
        display: Display, clicklog: ClickLog, chat_server: Any, background_tracer: Any) -> None:
    chat_server.queue(plan({"action": "type", "text": TEXT}, done("typed")),
                      plan(done("the user finished it")))
    env = tracer_env(display)
    proc = background_tracer("do", "type the text", "--yes", "-b", "openai", "--base-url",
                             chat_server.base_url, env=env)
    entry = pause_mid_typing(display, clicklog, env, proc)
    count = check_paused(display, clicklog, env, entry)
    assert 10 <= count < len(TEXT) // 2
    assert len(chat_server.requests) == 1  # the model is not asked while the user has the mouse

    xdotool(display, "key", CHORD)  # hand back
    stdout, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert f"pause hotkey armed: press {CHORD}" in stderr
    assert "paused: you have the mouse (step 1 stopped after typing" in stderr
    assert f"press {CHORD} to hand back" in stderr
    assert "resumed after" in stderr
    assert stdout.strip() == "the user finished it"
    assert len(typed(clicklog)) == count  # nothing typed after the hand-back: the model said done
    assert_nothing_held(display)

    assert len(chat_server.requests) == 2
    told = request_text(chat_server.requests[1])
    assert f"1. type '{TEXT[:20]}" in told
    assert f"interrupted (the user paused tracer after typing {count} of {len(TEXT)} characters)" in told
    assert TAKE_OVER in told
    assert "the user handed the mouse and keyboard back. The screen may have changed" in told

    record = last_run(env)
    assert record["run"]["status"] == "done"
    [pause] = record["run"]["pauses"]
    assert pause["step"] == 1 and pause["note"] == "" and pause["seconds"] > 0
    assert record["steps"][0]["status"] == "interrupted"
    assert record["steps"][1]["action"] == {"action": "done", "answer": "the user finished it"}


def test_a_note_typed_at_the_terminal_reaches_the_model(
        display: Display, clicklog: ClickLog, chat_server: Any, tmp_path: Path) -> None:
    """With a terminal on stdin, a line typed while paused is the note for the model and an
    empty line hands back."""
    chat_server.queue(plan({"action": "type", "text": TEXT}, done("typed")), plan(done("ok")))
    env = tracer_env(display)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "do", "type the text", "--yes",
                             "-b", "openai", "--base-url", chat_server.base_url], env=env,
                            cwd=ROOT, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    os.close(slave)
    try:
        entry = pause_mid_typing(display, clicklog, env, proc)
        count = check_paused(display, clicklog, env, entry)
        os.write(master, b"I closed the pop-up and saved the draft\n")
        os.write(master, b"\n")  # an empty line hands back
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(master)

    assert proc.returncode == 0, stderr
    assert "a line typed here is a note for the model" in stderr
    assert "note for the model: I closed the pop-up and saved the draft" in stderr
    assert len(typed(clicklog)) == count
    told = request_text(chat_server.requests[1])
    assert TAKE_OVER in told
    assert "with this note for you: I closed the pop-up and saved the draft" in told
    assert last_run(env)["run"]["pauses"][0]["note"] == "I closed the pop-up and saved the draft"


def test_a_macro_pauses_and_types_the_rest_after_the_hand_back(
        display: Display, clicklog: ClickLog, tmp_path: Path, background_tracer: Any) -> None:
    macro = tmp_path / "long.yaml"
    macro.write_text(f"name: long text\nsteps:\n  - type: {json.dumps(TEXT)}\n", encoding="utf-8")
    env = tracer_env(display)
    proc = background_tracer("run", str(macro), "--yes", env=env)
    entry = pause_mid_typing(display, clicklog, env, proc)
    count = check_paused(display, clicklog, env, entry)
    assert count < len(TEXT)

    resumed_at = max(e["t"] for e in clicklog.keys())
    xdotool(display, "key", CHORD)
    stdout, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "paused: you have the mouse (step 1 stopped after typing" in stderr
    text = typed(clicklog)
    assert len(text) == len(TEXT)  # the rest, once: nothing typed twice, nothing lost
    pressed = [e["t"] for e in clicklog.keys() if e["keysym"] in ("p", "P")][-1]
    first = min(e["t"] for e in text if e["t"] > resumed_at)
    print(f"\nresume: first key {(first - pressed) * 1000:.0f} ms after the chord's p")
    after = [e["char"] for e in text if e["t"] > resumed_at]
    assert "".join(after) == TEXT[count:]  # (a key typed while ctrl or alt is down would not be)
    assert_nothing_held(display)
    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert record["run"]["pauses"][0]["seconds"] > 0
    assert record["steps"][0]["status"] == "ok"


def test_a_pause_hotkey_that_collides_with_the_kill_hotkey_is_refused(display: Display,
                                                                       chat_server: Any) -> None:
    env = tracer_env(display)
    for pause in ("<ctrl>+<alt>+<shift>+k", "<ctrl>+<alt>+<shift>"):
        result = run_tracer("do", "anything", "--yes", "--pause-hotkey", pause, "-b", "openai",
                            "--base-url", chat_server.base_url, env=env, timeout=60)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"pause hotkey '{pause}'" in lines[0] and "collides with the kill hotkey" in lines[0]
        assert "--pause-hotkey ''" in lines[0]
    assert chat_server.requests == []


def test_at_a_terminal_the_live_panel_says_paused_and_takes_the_note(
        display: Display, clicklog: ClickLog, chat_server: Any) -> None:
    """tracer at a terminal (all of stdin, stdout and stderr on a pty): the live panel says who
    has the mouse, stands still while the note is typed, and the note reaches the model."""
    import fcntl
    import struct
    import termios
    import threading

    chat_server.queue(plan({"action": "type", "text": TEXT}, done("typed")), plan(done("ok")))
    env = {**tracer_env(display), "COLUMNS": "160", "LINES": "50", "TERM": "xterm"}
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "do", "type the text", "--yes",
                             "-b", "openai", "--base-url", chat_server.base_url], env=env,
                            cwd=ROOT, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    screen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        pause_mid_typing(display, clicklog, env, proc)
        wait_until(lambda: b"paused: you have the mouse" in b"".join(screen), 10, "the panel")
        os.write(master, b"the form is filled in by hand\n\n")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        os.close(master)
    shown = b"".join(screen).decode(errors="replace")
    assert proc.returncode == 0, shown[-2000:]
    assert "Traceback" not in shown
    assert "press ctrl+alt+shift+p to hand back" in shown
    told = request_text(chat_server.requests[1])
    assert "with this note for you: the form is filled in by hand" in told


def press_slowly(display: Display, keys: list[str], gap: float = 0.15) -> None:
    """The user presses a chord as people do: one key after the other, holding each, the last
    one tapped, then all let go. (The gaps are the person's pace, not a wait for tracer.)"""
    import time

    *mods, last = keys
    for key in mods:
        xdotool(display, "keydown", key)
        time.sleep(gap)
    xdotool(display, "key", last)
    time.sleep(gap)
    xdotool(display, "keyup", *reversed(mods))


def test_a_human_paced_chord_never_turns_tracers_typing_into_shortcuts(
        display: Display, programs: Any, tmp_path: Path, background_tracer: Any) -> None:
    """While the user holds ctrl, alt and shift on the way to the pause chord, a character tracer
    typed would be a shortcut (in a Tk entry ctrl+a moves the caret to the start, and the rest
    of the text lands there). Typing holds off while the user holds a modifier: paused and
    handed back with human-paced chords, the entry holds the text once, in order, and the
    pause knows exactly how much was typed."""
    from tests.conftest import APPS
    from tests.e2e.conftest import wait_for_window

    state_file = tmp_path / "form.json"
    app = programs(display, [sys.executable, str(APPS / "tk_form.py"), str(state_file)], "tk form")
    wait_for_window(app, "^tk form$")

    def state() -> dict[str, Any]:
        try:
            return json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    wait_until(lambda: "boxes" in state(), 10, "the form to report its boxes")
    x, y, w, h = state()["boxes"]["name"]
    macro = tmp_path / "fill.yaml"
    macro.write_text("name: fill the name\nsteps:\n"
                     f"  - click: [{x + w // 2}, {y + h // 2}]\n"
                     "  - hotkey: ctrl+/\n  - hotkey: delete\n"  # Tk: select all, clear
                     f"  - type: {json.dumps(TEXT)}\n", encoding="utf-8")
    env = tracer_env(display)
    proc = background_tracer("run", str(macro), "--yes", env=env)
    wait_until(lambda: len(state().get("name", "")) >= 20 or proc.poll() is not None, 30,
               "tracer to start typing")
    assert proc.poll() is None, proc.communicate()

    press_slowly(display, ["ctrl", "alt", "shift", "p"])
    wait_until(lambda: bool(pauses(env)), 10, "the pause")
    entry = pauses(env)[0]
    count = int(entry["interrupted"].split()[2])
    wait_until(lambda: len(state()["name"]) >= count, 2, "the entry to take in what was typed")
    typed_before = state()["name"]
    assert entry["interrupted"] == f"after typing {len(typed_before)} of {len(TEXT)} characters", typed_before
    assert typed_before == TEXT[:len(typed_before)]  # in order, at the end: no shortcut fired
    assert_nothing_held(display)

    press_slowly(display, ["ctrl", "alt", "shift", "p"])  # hand back
    _, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 0, stderr
    assert state()["name"] == TEXT  # the rest once, after the first part
    assert_nothing_held(display)
