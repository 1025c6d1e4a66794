"""Stopping and pausing tracer on KDE Plasma: the real `tracer do` typing a long text into a Qt
program is stopped by `tracer stop` (the control socket) and by the kill chord registered with
KGlobalAccel (pressed on the tests' own fake input device, as a person would); nothing is typed
after the stop and no key stays down. A macro paused by the pause chord types nothing while
paused and, once handed back, the rest: the text arrives exactly once, in order; `tracer pause`
does the same. A tracer killed with -9 leaves no shortcut behind (its janitor removes it)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat_server import SilentModel
from tests.conftest import run_tracer
from tests.e2e.conftest import last_run
from tests.e2e.kde import App, KdeDesktop, wait_until
from tests.e2e.switches import (
    KILL,
    PAUSE,
    TEXT,
    emptied,
    long_macro,
    pauses,
    start_typing,
    texts,
    typed,
)
from tracer_cli.desktop.platforms.kde_switch import REPEAT

pytestmark = pytest.mark.kde


@pytest.fixture(scope="module")
def probe(kde: KdeDesktop) -> Iterator[App]:
    app = kde.qt("switches")
    yield app
    app.stop()


@pytest.fixture
def fresh(kde: KdeDesktop, probe: App) -> App:
    """The probe in front, its field empty, its log cleared."""
    return emptied(kde, probe, "field")


def nothing_held(app: App) -> None:
    """Every key the program saw go down it saw go up."""
    keys = app.events("key")
    down = [e["name"] for e in keys if e["down"]]
    up = [e["name"] for e in keys if not e["down"] and e["name"] in down]
    assert sorted(down) == sorted(up), (down, up)


def pressed_k_or_p(app: App) -> list[dict[str, Any]]:
    """The k and p keys the program saw pressed (KGlobalAccel keeps a shortcut's press from
    the program; the program still sees its key let go)."""
    return [e for e in app.events("key") if e["down"] and e["name"] in ("K", "P")]


def met_the_chord(got: str, text: str, chord: bool) -> list[int]:
    """Where ``got`` (what the program holds) departs from the start of ``text``. KWin keeps one
    keyboard state for every device: a key tracer sends while the person holds the chord's
    modifiers is read with them (',' with the person's Shift is '<'; a letter with their Ctrl is
    a shortcut, and no character), and no KWin 5 client can see them held. So with a chord, one
    character typed in that moment may be changed or missing; none otherwise."""
    if got == text[:len(got)]:
        return []
    assert chord, (got, text)
    want = text[:len(got)]
    wrong = [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b]
    if len(wrong) == 1:
        return wrong  # one character changed
    lost = wrong[0]  # one character missing: the rest is the text shifted by one
    assert got == text[:lost] + text[lost + 1:len(got) + 1], (got, text)
    return [lost]


def check_stopped(app: App, stopped_at: float, proc: Any, reason: str,
                  env: dict[str, str], chord: bool = False) -> str:
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    assert reason in stderr and "Traceback" not in stderr
    count = len(typed(app))
    time.sleep(0.3)  # anything still on its way would show now
    assert len(typed(app)) == count
    assert 10 <= count < len(TEXT) // 2
    wrong = met_the_chord(typed(app), TEXT, chord)
    assert not wrong or wrong[0] >= count - 2, "a character far from the chord went wrong"
    if wrong:
        print(f"\n(character {wrong[0] + 1} met the chord's modifiers: {TEXT[wrong[0]]!r} "
              f"came out as {typed(app)[wrong[0]:wrong[0] + 1]!r})", end="")
    last = texts(app)[-1]["t"]
    print(f"\n{reason}: {count} of {len(TEXT)} characters typed; the last one "
          f"{(last - stopped_at) * 1000:+.0f} ms after the stop was asked for")
    assert last - stopped_at < 0.25, "typing went on after the stop"
    nothing_held(app)
    assert last_run(env)["run"]["reason"] == reason
    return stderr


def test_tracer_stop_ends_the_typing(kde: KdeDesktop, fresh: App, chat_server: Any,
                                     background_tracer: Any, runtime: Path) -> None:
    proc, env = start_typing(kde, fresh, chat_server, background_tracer, runtime)
    answer = run_tracer("stop", env=env, timeout=30)
    stopped_at = time.monotonic()
    assert answer.returncode == 0, answer.stderr
    check_stopped(fresh, stopped_at, proc, "stopped by tracer stop", env)


def test_the_kill_chord_registered_with_kglobalaccel_ends_the_typing(
        kde: KdeDesktop, fresh: App, chat_server: Any, background_tracer: Any,
        runtime: Path) -> None:
    proc, env = start_typing(kde, fresh, chat_server, background_tracer, runtime)
    kde.chord(*KILL)
    stopped_at = time.monotonic()
    stderr = check_stopped(fresh, stopped_at, proc,
                           "stopped by the kill switch (ctrl+alt+shift+k)", env, chord=True)
    assert "kill switch armed: press ctrl+alt+shift+k to stop" in stderr
    assert not pressed_k_or_p(fresh)  # KGlobalAccel kept it
    # the shortcut went with the run: the chord reaches the program again
    kde.chord(*KILL)
    wait_until(lambda: pressed_k_or_p(fresh), 5, "the chord's k to reach the program")


@pytest.mark.parametrize("how", ["chord", "tracer pause"])
def test_a_paused_macro_types_the_rest_once_after_the_hand_back(
        kde: KdeDesktop, fresh: App, how: str, tmp_path: Path, background_tracer: Any,
        runtime: Path) -> None:
    macro = long_macro(tmp_path)
    env = kde.env(runtime)

    def toggle() -> None:
        if how == "chord":
            kde.chord(*PAUSE)
        else:
            assert run_tracer("pause", env=env, timeout=30).returncode == 0

    proc = background_tracer("run", str(macro), "--yes", env=env)
    wait_until(lambda: len(typed(fresh)) >= 10 or proc.poll() is not None, 30,
               "tracer to start typing")
    toggle()
    paused_at = time.monotonic()
    wait_until(lambda: pauses(env) or proc.poll() is not None, 10, "the pause")
    assert proc.poll() is None, proc.communicate()
    count = len(typed(fresh))
    time.sleep(0.5)  # paused: nothing more comes
    assert len(typed(fresh)) == count and 10 <= count < len(TEXT)
    # sent, or one more: a character that met the chord's modifiers may make no text
    allowed = (count, count + 1) if how == "chord" else (count,)
    assert pauses(env)[0]["interrupted"] in [f"after typing {n} of {len(TEXT)} characters"
                                             for n in allowed]
    print(f"\npause by {how}: {count} of {len(TEXT)} characters typed, the last "
          f"{(texts(fresh)[-1]['t'] - paused_at) * 1000:+.0f} ms after it")
    nothing_held(fresh)

    if how == "chord":  # a press within REPEAT of the last, its release missed, is a repeat
        time.sleep(max(0.0, paused_at + REPEAT + 0.2 - time.monotonic()))  # (a person's pace)
    toggle()  # hand back
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "pause hotkey armed: press ctrl+alt+shift+p" in stderr
    assert "paused: you have the mouse (step 1 stopped after typing" in stderr
    # exactly once, in order: the field grew one character at a time into the text (but for
    # the one a chord's modifiers may have met, see met_the_chord)
    grew = [e["text"] for e in texts(fresh)]
    assert [len(t) for t in grew] == list(range(1, len(grew) + 1))
    assert all(a == b[:-1] for a, b in zip(grew, grew[1:], strict=False))
    assert len(grew) == len(TEXT) or (how == "chord" and len(grew) == len(TEXT) - 1)
    wrong = met_the_chord(grew[-1], TEXT, how == "chord")
    assert not wrong or count - 2 <= wrong[0] <= count + 1, wrong
    if wrong:
        print(f"(character {wrong[0] + 1} met the chord's modifiers)")
    nothing_held(fresh)
    assert not pressed_k_or_p(fresh)
    record = last_run(env)
    assert record["run"]["status"] == "done" and len(record["run"]["pauses"]) == 1
    assert record["run"]["pauses"][0]["seconds"] > 0


def test_a_killed_tracer_leaves_no_shortcut(kde: KdeDesktop, fresh: App, runtime: Path,
                                            background_tracer: Any) -> None:
    with SilentModel() as model:
        env = kde.env(runtime)
        proc = background_tracer("do", "anything", "--yes", "-b", "openai", "--base-url",
                                 model.url, "--model", "test-vlm", env=env)
        with model.reached():  # armed, and waiting for a model that never answers
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    deadline = time.monotonic() + 5
    while not pressed_k_or_p(fresh):
        assert time.monotonic() < deadline, "the shortcut outlived the killed tracer"
        kde.chord(*KILL)
        time.sleep(0.1)
    rc = Path(kde.kwin.env["XDG_CONFIG_HOME"]) / "kglobalshortcutsrc"
    wait_until(lambda: "[tracer-" not in rc.read_text(), 5, "kglobalshortcutsrc without tracer")
