"""A stop signal at the worst moment: while python-xlib waits for the X server's reply.

python-xlib takes its locks and sets its "a thread is receiving" flag without try/finally; an
exception raised there (a KeyboardInterrupt from a signal handler) leaves them set, and the next
request on that connection waits forever: tracer, stopped by SIGTERM mid-text, then hung while
letting go of the keys. Each case runs tracer's own run wiring (``live_input``) in a child
process on Xvfb, with a SIGTERM sent from inside python-xlib's reply parsing on the main thread;
a hang is the child running into its timeout. And a second signal, while the run ends, does not
cut the ending short."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import Display
from tests.e2e.conftest import ClickLog, tracer_env

pytestmark = pytest.mark.display

# The child: arms a SIGTERM sent from python-xlib's reply parsing on the main thread (the
# reply number given as argv[2]), then runs the case named argv[1] inside live_input.
CHILD = textwrap.dedent('''
    import os, signal, sys, threading
    from Xlib.protocol import display as xproto
    from tracer_cli.cli.wiring import live_input, settings_from
    from tracer_cli.errors import Interrupted

    case, at = sys.argv[1], int(sys.argv[2])
    replies = 0
    parse = xproto.Display.parse_response

    def parse_response(self, request):
        global replies
        if threading.current_thread() is threading.main_thread():
            replies += 1
            if replies == at:
                os.kill(os.getpid(), signal.SIGTERM)  # handled here: inside python-xlib
        return parse(self, request)

    with live_input(settings_from({"kill_hotkey": ""})) as live:
        replies = 0  # count from here: the set-up's replies are not the case's
        xproto.Display.parse_response = parse_response
        if case == "typing":
            try:
                live.actuator.type_text("abcdefghij" * 20)
                print("typed all")
            except Interrupted:
                print("interrupted:", live.stop.reason)
            live.actuator.release_all()
            print("let go")
        elif case == "query":  # python-xlib outside the actuator (a window's place, say)
            from Xlib.display import Display
            conn = Display()
            conn.screen().root.query_pointer()
            print("stop requested:", live.stop.reason)
            conn.screen().root.query_pointer()  # the connection still answers
            conn.close()
            print("answered again")
        elif case == "twice":  # the first ends a wait at once; the second, the run's ending
            import time
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            except KeyboardInterrupt:
                print("first: interrupted")
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the record being written, say
            print("second: not interrupted;", live.stop.reason)
    print("closed")
''')


def run_child(display: Display, case: str, at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, case, str(at)], env=tracer_env(display),
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("at", range(1, 9))
def test_sigterm_inside_a_reply_while_typing_stops_between_keys_and_lets_go(
        display: Display, clicklog: ClickLog, at: int) -> None:
    """Each character typed takes two or three round trips (which modifiers are held, before
    the key and with it; a sync after it): the signal comes in one of the first eight replies,
    so in each kind of round trip."""
    done = run_child(display, "typing", at)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines() == ["interrupted: terminated by SIGTERM", "let go", "closed"]
    typed = "".join(e["char"] for e in clicklog.keys())
    assert typed == ("abcdefghij" * 20)[:len(typed)]
    assert len(typed) < 100  # stopped within a few keys (none: the signal came before the first)


def test_sigterm_inside_a_reply_outside_the_actuator_stops_the_run_without_breaking_the_link(
        display: Display) -> None:
    done = run_child(display, "query", 1)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines() == ["stop requested: terminated by SIGTERM",
                                        "answered again", "closed"]


def test_a_second_signal_does_not_cut_short_the_runs_ending(display: Display) -> None:
    done = run_child(display, "twice", 0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["first: interrupted",
                                        "second: not interrupted; terminated by SIGTERM", "closed"]
