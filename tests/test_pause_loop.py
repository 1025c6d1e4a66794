"""The run loop's pause, its event stream and the needs-a-human exit code, with the fakes: a
paused step is recorded with how far it got, the loop holds until the hand-back, and every
profile's next prompt says the user took over; the event stream writes one JSON line per event."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from tests.fakes import DONE, FakeBackend, make_agent, make_settings, request, step_plan
from tracer_cli.agent.events import EventStream
from tracer_cli.agent.profiles import PROFILES, HistoryEntry
from tracer_cli.agent.runloop import Listener
from tracer_cli.desktop.actuator import RecordingActuator
from tracer_cli.desktop.killswitch import Paused, PauseRequest, StopRequest
from tracer_cli.errors import EXIT_NEEDS_HUMAN

TAKE_OVER = "the user paused tracer and took over the mouse and keyboard"
TEXT = "a long text typed by tracer"
CLICK = {"action": "click", "x": 100, "y": 200, "target": "OK"}


class PausingActuator(RecordingActuator):
    """Stops typing after 5 characters when a pause is requested, as the real one does at a key
    boundary."""

    def __init__(self, pause: PauseRequest) -> None:
        super().__init__()
        self.pause = pause

    def type_text(self, text: str) -> None:
        if self.pause.requested.is_set():
            self.calls.append(("type", text[:5]))
            raise Paused(5, len(text))
        super().type_text(text)


class HandBack(Listener):
    """The user: pauses during the first type step, leaves a note, hands back."""

    def __init__(self, pause: PauseRequest, note: str = "") -> None:
        self.pause, self.note = pause, note
        self.seen: list[tuple[Any, ...]] = []

    def on_action(self, number: int, step: Any, points: list[tuple[int, int]]) -> None:
        if step.action == "type" and not self.seen:
            self.pause.toggle()

    def on_pause(self, number: int, interrupted: str) -> None:
        self.seen.append(("pause", number, interrupted))
        self.pause.add_note(self.note)
        threading.Timer(0.05, self.pause.toggle).start()

    def on_resume(self, number: int, seconds: float, note: str) -> None:
        self.seen.append(("resume", number, note))


def paused_agent(backend: FakeBackend, note: str = "", stop: StopRequest | None = None,
                 ) -> tuple[Any, PausingActuator, HandBack]:
    agent, _, _ = make_agent(backend, stop=stop)
    pause = PauseRequest()
    agent.actuator = actuator = PausingActuator(pause)
    agent.pause = pause
    user = HandBack(pause, note)
    agent.listeners.append(user)
    return agent, actuator, user


def test_a_pause_mid_text_holds_then_the_model_hears_of_the_take_over() -> None:
    backend = FakeBackend(step_plan({"action": "type", "text": TEXT}, CLICK),
                          DONE)
    agent, actuator, user = paused_agent(backend, note="I filled it in myself")
    result = agent.run("fill in the name")

    assert result.status == "done" and result.exit_code == 0
    assert user.seen == [("pause", 1, f"after typing 5 of {len(TEXT)} characters"),
                         ("resume", 1, "I filled it in myself")]
    assert ("release_all",) in actuator.calls  # let go of everything before the user's turn
    told = json.dumps(backend.requests[1])
    assert f"1. type '{TEXT}' -> interrupted (the user paused tracer after typing 5 of" in told
    assert TAKE_OVER in told and "with this note for you: I filled it in myself" in told
    assert len(backend.requests) == 2  # the rest of the forecast was dropped: asked again


def test_a_pause_between_steps_holds_before_the_next_one() -> None:
    backend = FakeBackend(DONE)
    agent, _, user = paused_agent(backend)
    assert agent.pause is not None
    agent.pause.toggle()  # pressed while nothing was acting
    assert agent.run("press OK").status == "done"
    assert user.seen == [("pause", 1, ""), ("resume", 1, "")]
    assert TAKE_OVER in json.dumps(backend.requests[0])


def test_the_kill_switch_ends_a_paused_run() -> None:
    stop = StopRequest()
    backend = FakeBackend(DONE)
    agent, actuator, user = paused_agent(backend, stop=stop)
    assert agent.pause is not None
    agent.pause.toggle()
    user.on_pause = lambda number, interrupted: stop.request("stopped by the kill switch")  # type: ignore[method-assign]
    result = agent.run("press OK")
    assert result.status == "interrupted" and result.reason == "stopped by the kill switch"
    assert backend.requests == [] and actuator.calls[-1] == ("release_all",)


@pytest.mark.parametrize("name", sorted(PROFILES.names()))
def test_every_profile_tells_its_model_of_the_take_over(name: str) -> None:
    history = [HistoryEntry(1, f"type '{TEXT}'", "interrupted (the user paused tracer after "
                            "typing 5 of 27 characters)"),
               HistoryEntry(1, TAKE_OVER, "the user handed the mouse and keyboard back, with "
                            "this note for you: done by hand.")]
    messages = PROFILES.get(name)().messages(request(history=history))
    text = json.dumps(messages)
    assert TAKE_OVER in text and "done by hand" in text


def test_a_risky_step_nobody_could_confirm_makes_exit_code_3() -> None:
    backend = FakeBackend(step_plan({"action": "click", "x": 5, "y": 5, "target": "Delete everything"}),
                          step_plan({"action": "fail", "reason": "needs the user"}))
    agent, actuator, _ = make_agent(backend, make_settings(confirm="risky"))
    result = agent.run("delete everything")
    assert result.status == "failed" and result.exit_code == EXIT_NEEDS_HUMAN == 3
    assert "step 1 (click (5,5) 'Delete everything')" in result.needed_human
    assert [c for c in actuator.calls if c[0] == "click"] == []

    backend = FakeBackend(step_plan({"action": "click", "x": 5, "y": 5, "target": "Delete everything"}), DONE)
    agent, _, _ = make_agent(backend, make_settings(confirm="risky"))
    assert agent.run("delete everything").exit_code == 0  # done anyway: no human was missing


def test_the_event_stream_writes_one_json_line_per_event() -> None:
    out = io.StringIO()
    backend = FakeBackend(step_plan({"action": "type", "text": TEXT}, CLICK), DONE)
    agent, _, user = paused_agent(backend)
    agent.listeners.append(EventStream(out, "do"))
    agent.run("press OK")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["start", "plan", "action", "pause", "pause", "step",
                                            "plan", "step", "end"]
    assert events[5]["status"] == "interrupted" and events[5]["action"]["text"] == TEXT
    paused, resumed = [e for e in events if e["event"] == "pause"]
    assert paused["state"] == "paused" and resumed["state"] == "resumed"
    assert events[-1]["status"] == "done" and events[-1]["exit_code"] == 0
    assert all("time" in e for e in events)


def test_a_closed_reader_does_not_stop_the_run() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    stream = EventStream(Closed(), "do")
    agent, _, _ = make_agent(FakeBackend(DONE))
    agent.listeners.append(stream)
    assert agent.run("press OK").status == "done"
    assert stream.closed


def test_the_panel_and_the_log_lines_say_who_has_the_mouse() -> None:
    from rich.console import Console

    from tracer_cli.cli.panel import LivePanel, LogLines

    console = Console(record=True, width=160, file=io.StringIO(), color_system=None)
    panel = LivePanel(console)
    panel.resume_hint = "press ctrl+alt+shift+p to hand back"
    panel.on_pause(3, "after typing 11 of 400 characters")  # printed once, standing still
    shown = console.export_text()
    assert ("paused: you have the mouse (step 3 stopped after typing 11 of 400 characters); "
            "press ctrl+alt+shift+p to hand back") in shown
    panel.on_resume(3, 2.0, "")
    panel.live.stop()
    console.print(panel.render())
    assert "paused" not in console.export_text()

    panel.pause_toggled(True)  # pressed while the model is still answering
    console.print(panel.render())
    assert "pausing: tracer stops before its next key" in console.export_text()
    panel.pause_toggled(False)  # pressed again before the run got there: cancelled
    assert panel.paused == ""

    out = io.StringIO()
    lines = LogLines(out)
    lines.pause_toggled(True)
    lines.on_pause(4, "")
    lines.on_resume(4, 1.5, "closed the dialog")
    assert out.getvalue().splitlines() == [
        "tracer: pausing: tracer stops before its next key (the hotkey again cancels)",
        "tracer: paused: you have the mouse (before step 4)",
        "tracer: resumed after 1.5s: looking at the screen afresh; note for the model: closed the dialog"]


def test_the_run_record_and_the_report_keep_the_pause(tmp_path: Any) -> None:
    from tracer_cli.agent.runlog import RunLog, find_run
    from tracer_cli.report.model import build
    from tracer_cli.report.render import render

    backend = FakeBackend(step_plan({"action": "type", "text": TEXT}, CLICK), DONE)
    agent, _, _ = paused_agent(backend, note="saved <it> by hand")
    agent.listeners.append(RunLog(tmp_path / "runs", "do", "fill in the name"))
    assert agent.run("fill in the name").status == "done"

    summary = find_run(tmp_path / "runs", "last")
    [pause] = summary.meta["pauses"]
    assert pause["step"] == 1 and pause["interrupted"] == f"after typing 5 of {len(TEXT)} characters"
    assert pause["note"] == "saved <it> by hand" and pause["seconds"] > 0
    assert summary.steps()[0]["outcome"].startswith("interrupted (the user paused tracer")
    page = render(build(summary))
    assert f"by the user at step 1 (after typing 5 of {len(TEXT)} characters) for" in page
    assert "note: saved &lt;it&gt; by hand" in page  # escaped
