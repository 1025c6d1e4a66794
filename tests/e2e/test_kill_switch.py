"""The kill switch, end to end: the real `tracer do` typing a long text into clicklog on Xvfb
is stopped by the global hotkey (sent with xdotool), by Ctrl-C, and while it waits for a model;
no key or mouse button stays down; tracer refuses to press the chord itself; a bad hotkey or a
display that cannot host the listener is a one-line usage error.

Latency is measured in clicklog's own log: from the chord's last key to the last key tracer
typed (both logged by the same process, on the same clock)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat_server import SilentModel
from tests.conftest import Display, run_tracer, start_xvfb
from tests.e2e.conftest import ClickLog, done, last_run, plan, tracer_env, wait_until, xdotool

pytestmark = pytest.mark.display

CHORD = "ctrl+alt+shift+k"
REASON = f"stopped by the kill switch ({CHORD})"
# 400 characters with capitals and signs (tracer presses and releases shift for each) and no
# k, so that every k in the app's log is the user's.
TEXT = ("Lorem Ipsum Dolor Sit Amet, Consectetur Adipiscing Elit! " * 8)[:400]
MODIFIER_KEYSYMS = {"Control_L", "Control_R", "Alt_L", "Alt_R", "Meta_L", "Meta_R", "Shift_L",
                    "Shift_R"}
BUTTON_MASKS = 0x1F00  # Button1Mask .. Button5Mask


def typing_plan() -> dict[str, Any]:
    return plan({"action": "type", "text": TEXT}, done("typed"))


def typed(app: ClickLog) -> list[dict[str, Any]]:
    """The keys tracer typed (not the user's chord)."""
    return [e for e in app.keys() if e["keysym"] not in MODIFIER_KEYSYMS | {"k", "K"}]


def held_input(display: Display) -> tuple[set[int], int]:
    """The keycodes the X server holds down, and the pointer's button mask."""
    from Xlib.display import Display as XDisplay

    conn = XDisplay(display.name)
    try:
        keymap = conn.query_keymap()
        keys = {i * 8 + bit for i, byte in enumerate(keymap) for bit in range(8) if byte >> bit & 1}
        return keys, conn.screen().root.query_pointer().mask & BUTTON_MASKS
    finally:
        conn.close()


def start_typing(display: Display, chat_server: Any, background_tracer: Any, clicklog: ClickLog,
                 *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`tracer do` typing TEXT into clicklog; returns once it has typed a few characters."""
    chat_server.queue(typing_plan(), plan(done("typed")))
    env = tracer_env(display)
    proc = background_tracer("do", "type the text", "--yes", "-b", "openai", "--base-url",
                             chat_server.base_url, *extra, env=env)
    wait_until(lambda: len(typed(clicklog)) >= 10 or proc.poll() is not None, 30,
               "tracer to start typing")
    assert proc.poll() is None, proc.communicate()
    return proc, env


def assert_nothing_held(display: Display) -> None:
    keys, buttons = held_input(display)
    assert keys == set(), f"keys still down: {sorted(keys)}"
    assert buttons == 0, f"mouse buttons still down: {buttons:#x}"


def test_kill_hotkey_stops_typing_mid_text(display: Display, clicklog: ClickLog,
                                           chat_server: Any, background_tracer: Any) -> None:
    proc, env = start_typing(display, chat_server, background_tracer, clicklog)
    sent = time.monotonic()
    xdotool(display, "key", CHORD)
    stdout, stderr = proc.communicate(timeout=15)
    ended = time.monotonic()

    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"kill switch armed: press {CHORD} to stop" in stderr
    assert REASON in stderr
    assert stdout == ""
    assert_nothing_held(display)

    keys = clicklog.keys()
    chord_at = next(e["t"] for e in keys if e["keysym"] in ("k", "K"))
    chord_started = next(e["t"] for e in keys if e["keysym"] in MODIFIER_KEYSYMS)
    text = typed(clicklog)
    before = [e for e in text if e["t"] < chord_started]
    assert "".join(e["char"] for e in before) == TEXT[:len(before)]  # typed as planned
    latency = max([e["t"] for e in text if e["t"] > chord_at], default=chord_at) - chord_at
    print(f"\nkill switch: {len(text)} of {len(TEXT)} characters typed; last key "
          f"{latency * 1000:.0f} ms after the chord; process ended {ended - sent:.2f} s after "
          "xdotool was started")
    assert latency < 0.25, f"typing went on for {latency * 1000:.0f} ms after the chord"
    assert len(text) < len(TEXT) // 2
    assert ended - sent < 3

    record = last_run(env)
    assert record["run"]["status"] == "interrupted"
    assert record["run"]["reason"] == REASON
    assert record["run"]["steps"] == 1
    assert record["steps"][0]["action"]["action"] == "type"


def test_while_the_user_holds_the_chords_modifiers_tracer_types_nothing(
        display: Display, clicklog: ClickLog, chat_server: Any, background_tracer: Any) -> None:
    """A person presses ctrl, alt and shift, and only then k. A character tracer typed meanwhile
    would be a shortcut (ctrl+alt+shift+a): typing holds off until the modifiers are let go,
    and the chord completes."""
    proc, env = start_typing(display, chat_server, background_tracer, clicklog)
    xdotool(display, "keydown", "ctrl", "alt", "shift")
    held_from = time.monotonic()
    try:
        time.sleep(0.4)  # the person's pace: tracer would type ~20 characters in this time
        assert clicklog.keys()[-1]["keysym"] in MODIFIER_KEYSYMS  # nothing after the modifiers
        xdotool(display, "key", "k")
    finally:
        xdotool(display, "keyup", "ctrl", "alt", "shift")
    stdout, stderr = proc.communicate(timeout=15)

    assert proc.returncode == 130, stderr
    assert REASON in stderr
    chord_started = next(e["t"] for e in clicklog.keys() if e["keysym"] == "Control_L")
    assert not [e for e in typed(clicklog) if e["t"] > chord_started], "typed under the user's keys"
    text = typed(clicklog)
    assert "".join(e["char"] for e in text) == TEXT[:len(text)]
    assert time.monotonic() - held_from < 15
    assert_nothing_held(display)
    assert last_run(env)["run"]["reason"] == REASON


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_typing_stops_between_two_keys(display: Display, clicklog: ClickLog,
                                                  chat_server: Any, background_tracer: Any,
                                                  signum: signal.Signals) -> None:
    proc, env = start_typing(display, chat_server, background_tracer, clicklog)
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=15)

    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert time.monotonic() - sent < 3
    assert_nothing_held(display)
    text = typed(clicklog)
    assert "".join(e["char"] for e in text) == TEXT[:len(text)]  # no key was cut in half
    assert len(text) < len(TEXT) // 2
    reason = "interrupted with Ctrl-C" if signum == signal.SIGINT else "terminated by SIGTERM"
    assert last_run(env)["run"]["reason"] == reason


def test_kill_hotkey_ends_a_wait_for_the_model_at_once(display: Display, clicklog: ClickLog,
                                                       background_tracer: Any) -> None:
    env = tracer_env(display)
    with SilentModel() as model:
        proc = background_tracer("do", "type the text", "--yes", "-b", "openai", "--base-url",
                                 model.url, "--model", "test-vlm", env=env)
        with model.reached():  # tracer asks for a plan; no answer ever comes
            time.sleep(0.3)
            sent = time.monotonic()
            xdotool(display, "key", CHORD)
            stdout, stderr = proc.communicate(timeout=15)
            waited = time.monotonic() - sent
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    # at once: not after the model's 120 s request timeout (the bound leaves room for a loaded
    # machine: the process also writes its run record and joins the forecast's worker)
    assert waited < 3.0, f"tracer took {waited:.2f} s to stop"
    assert REASON in stderr
    assert last_run(env)["run"]["reason"] == REASON
    assert clicklog.keys() == [] or all(e["keysym"] in MODIFIER_KEYSYMS | {"K", "k"}
                                        for e in clicklog.keys())


def test_hotkey_step_pressing_the_kill_chord_is_refused(display: Display, clicklog: ClickLog,
                                                        chat_server: Any) -> None:
    chat_server.queue(plan({"action": "hotkey", "keys": ["Control", "Alt", "Shift", "K"]},
                           done("pressed")),
                      plan(done("gave up on the chord")))
    env = tracer_env(display)
    result = run_tracer("do", "press the chord", "--yes", "-b", "openai", "--base-url",
                        chat_server.base_url, env=env, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "gave up on the chord"
    assert clicklog.keys() == []  # nothing was pressed
    assert_nothing_held(display)
    record = last_run(env)
    assert record["run"]["status"] == "done"
    assert record["steps"][0]["outcome"].startswith(
        "error: refused to press ctrl+alt+shift+k: that is tracer's kill hotkey")
    assert len(chat_server.requests) == 2  # the run went on after the refusal


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "plans.jsonl"
    path.write_text('{"thought": "-", "trajectory": [{"action": "done", "answer": "ok"}]}\n',
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("how", "problem"), [
    ("flag", "unknown key '<bogus>'"),
    ("env", "tracer's own typing could press"),
])
def test_bad_kill_hotkey_is_a_one_line_usage_error(display: Display, script: Path, how: str,
                                                   problem: str) -> None:
    extra: list[str] = []
    env = tracer_env(display)
    if how == "flag":
        extra = ["--kill-hotkey", "<ctrl>+<bogus>"]
    else:
        env["TRACER_KILL_HOTKEY"] = "<shift>+k"
    result = run_tracer("do", "x", "--yes", "-b", "script", "--script", str(script), *extra,
                        env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert problem in lines[0] and "--kill-hotkey ''" in lines[0]
    assert not (Path(env["TRACER_HOME"]) / "runs").exists() or \
        not any((Path(env["TRACER_HOME"]) / "runs").iterdir())


@pytest.fixture
def no_record_display() -> Iterator[Display]:
    """An Xvfb without the RECORD extension, which a global hotkey needs (the X server turns
    RECORD and XTEST on and off together)."""
    proc, name = start_xvfb(640, 480, "-extension", "RECORD")
    try:
        yield Display(name, 640, 480, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_no_record_extension_is_a_one_line_usage_error(no_record_display: Display,
                                                       script: Path) -> None:
    env = tracer_env(no_record_display)
    result = run_tracer("do", "x", "--yes", "-b", "script", "--script", str(script), env=env,
                        timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot arm the kill switch" in lines[0] and "RECORD" in lines[0]
    assert "--kill-hotkey ''" in lines[0]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_kill_hotkey_off_runs_without_a_listener(display: Display, script: Path, how: str) -> None:
    env = tracer_env(display, **({"TRACER_KILL_HOTKEY": ""} if how == "env" else {}))
    extra = ["--kill-hotkey", ""] if how == "flag" else []
    result = run_tracer("do", "x", "--yes", "-b", "script", "--script", str(script), *extra,
                        env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "kill switch" not in result.stderr
    assert result.stdout.strip() == "ok"


def test_no_xtest_extension_is_a_one_line_usage_error(no_record_display: Display,
                                                      script: Path) -> None:
    """Without the global hotkeys, the same display still lacks XTEST: tracer cannot send
    input."""
    env = tracer_env(no_record_display)
    result = run_tracer("do", "x", "--yes", "--kill-hotkey", "", "--pause-hotkey", "", "-b",
                        "script", "--script", str(script), env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no XTEST extension" in lines[0] and "+extension XTEST" in lines[0]


def test_doctor_names_the_missing_xtest(no_record_display: Display) -> None:
    """tracer doctor makes the same input check as tracer do."""
    result = run_tracer("doctor", "--json", "-b", "script", env=tracer_env(no_record_display),
                        timeout=60)
    assert result.returncode == 1, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["checks"]}
    assert rows["input control"]["ok"] is False
    assert "no XTEST extension" in rows["input control"]["detail"]
    assert "+extension XTEST" in rows["input control"]["fix"]
