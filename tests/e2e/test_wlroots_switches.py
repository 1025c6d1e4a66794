"""Stopping and pausing tracer on sway: the real `tracer do` typing a long text into a GTK
program is stopped by `tracer stop` (the control socket) and by the kill chord bound in sway
(pressed on the tests' own virtual keyboard, as a person would); nothing is typed after the stop
and no key stays down. A macro paused by the pause chord types nothing while paused and, once
handed back, the rest: the text arrives exactly once, in order. A tracer killed with -9 leaves
no binding behind (its janitor removes it)."""

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
from tests.e2e.sway import App, SwayDesktop, wait_until
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

pytestmark = pytest.mark.wlroots


@pytest.fixture(scope="module")
def probe(sway: SwayDesktop) -> Iterator[App]:
    app = sway.probe("switches")
    yield app
    app.stop()


@pytest.fixture
def fresh(sway: SwayDesktop, probe: App) -> App:
    """The probe in front, its entry empty, its log cleared."""
    return emptied(sway, probe, "entry")


def nothing_held(app: App) -> None:
    """Every key the program saw go down it saw go up (tracer's and the person's)."""
    keys = app.events("key")
    down = [e["name"] for e in keys if e["down"]]
    up = [e["name"] for e in keys if not e["down"]]
    assert sorted(down) == sorted(up), (down, up)


def check_stopped(app: App, stopped_at: float, proc: Any, reason: str,
                  env: dict[str, str]) -> str:
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 130, stderr
    assert reason in stderr and "Traceback" not in stderr
    count = len(typed(app))
    time.sleep(0.3)  # anything still on its way would show now
    assert len(typed(app)) == count
    assert typed(app) == TEXT[:count] and 10 <= count < len(TEXT) // 2
    last = texts(app)[-1]["t"]
    print(f"\n{reason}: {count} of {len(TEXT)} characters typed; the last one "
          f"{(last - stopped_at) * 1000:+.0f} ms after the stop was asked for")
    assert last - stopped_at < 0.25, "typing went on after the stop"
    nothing_held(app)
    assert last_run(env)["run"]["reason"] == reason
    return stderr


def test_tracer_stop_ends_the_typing(sway: SwayDesktop, fresh: App, chat_server: Any,
                                     background_tracer: Any, runtime: Path) -> None:
    proc, env = start_typing(sway, fresh, chat_server, background_tracer, runtime)
    answer = run_tracer("stop", env=env, timeout=30)
    stopped_at = time.monotonic()
    assert answer.returncode == 0, answer.stderr
    check_stopped(fresh, stopped_at, proc, "stopped by tracer stop", env)


def test_the_kill_chord_bound_in_sway_ends_the_typing(sway: SwayDesktop, fresh: App,
                                                      chat_server: Any, background_tracer: Any,
                                                      runtime: Path) -> None:
    proc, env = start_typing(sway, fresh, chat_server, background_tracer, runtime)
    sway.chord(*KILL)
    stopped_at = time.monotonic()
    stderr = check_stopped(fresh, stopped_at, proc, "stopped by the kill switch (ctrl+alt+shift+k)",
                           env)
    assert "kill switch armed: press ctrl+alt+shift+k to stop" in stderr
    assert not [e for e in fresh.events("key") if e["name"] in ("k", "K")]  # sway kept it
    # the binding went with the run: the chord reaches the program again
    sway.chord(*KILL)
    wait_until(lambda: [e for e in fresh.events("key") if e["name"] in ("k", "K")], 5,
               "the chord's k to reach the program")


def test_a_macro_paused_by_the_chord_types_the_rest_once_after_the_hand_back(
        sway: SwayDesktop, fresh: App, tmp_path: Path, background_tracer: Any,
        runtime: Path) -> None:
    macro = long_macro(tmp_path)
    env = sway.env(runtime)
    proc = background_tracer("run", str(macro), "--yes", env=env)
    wait_until(lambda: len(typed(fresh)) >= 10 or proc.poll() is not None, 30,
               "tracer to start typing")
    sway.chord(*PAUSE)
    paused_at = time.monotonic()
    wait_until(lambda: pauses(env) or proc.poll() is not None, 10, "the pause")
    assert proc.poll() is None, proc.communicate()
    count = len(typed(fresh))
    time.sleep(0.5)  # paused: nothing more comes
    assert len(typed(fresh)) == count and 10 <= count < len(TEXT)
    assert pauses(env)[0]["interrupted"] == f"after typing {count} of {len(TEXT)} characters"
    assert pauses(env)[0].get("seconds") is None
    print(f"\npause: {count} of {len(TEXT)} characters typed, the last "
          f"{(texts(fresh)[-1]['t'] - paused_at) * 1000:+.0f} ms after the chord")
    nothing_held(fresh)

    sway.chord(*PAUSE)  # hand back
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "pause hotkey armed: press ctrl+alt+shift+p" in stderr
    assert "paused: you have the mouse (step 1 stopped after typing" in stderr
    # exactly once, in order: the entry grew one character at a time into the text
    assert [e["text"] for e in texts(fresh)] == [TEXT[:n] for n in range(1, len(TEXT) + 1)]
    nothing_held(fresh)
    assert not [e for e in fresh.events("key") if e["name"] in ("p", "P")]
    record = last_run(env)
    assert record["run"]["status"] == "done" and record["run"]["pauses"][0]["seconds"] > 0


def test_a_killed_tracer_leaves_no_binding(sway: SwayDesktop, fresh: App, runtime: Path,
                                           background_tracer: Any) -> None:
    with SilentModel() as model:
        env = sway.env(runtime)
        proc = background_tracer("do", "anything", "--yes", "-b", "openai", "--base-url",
                                 model.url, "--model", "test-vlm", env=env)
        with model.reached():  # armed, and waiting for a model that never answers
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    deadline = time.monotonic() + 5
    while not [e for e in fresh.events("key") if e["name"] in ("k", "K")]:
        assert time.monotonic() < deadline, "the binding outlived the killed tracer"
        sway.chord(*KILL)
        time.sleep(0.1)
