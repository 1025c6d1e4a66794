"""Acting while the forecast streams (agent/early.py through the real Agent loop): the script
backend sends its answer in pieces, the recording actuator and a listener tell what ran when."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from tests.fakes import DONE, make_agent, make_settings
from tracer_cli.agent.backends import Completion
from tracer_cli.agent.backends.script import ScriptBackend
from tracer_cli.agent.runlog import step_line
from tracer_cli.agent.runloop import Listener

FIRST = '{"thought": "open it", "trajectory": [{"action": "click", "x": 500, "y": 500, "target": "OK"}'
REST = ', {"action": "type", "text": "hello"}, {"action": "done"}]}'


class Recording(ScriptBackend):
    """The script backend, keeping what it was asked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.requests: list[list[dict[str, Any]]] = []

    def complete(self, messages: list[dict[str, Any]], schema: Any = None,
                 on_text: Any = None) -> Completion:
        self.requests.append(messages)
        return super().complete(messages, schema, on_text)


def backend(tmp_path: Path, *answers: Any) -> Recording:
    path = tmp_path / "plans.jsonl"
    path.write_text("\n".join(json.dumps(a) for a in answers) + "\n", encoding="utf-8")
    return Recording(path)


class WhenActed(Listener):
    """Notes how many pieces of the answer were sent when each action started."""

    def __init__(self, script: ScriptBackend, stop: threading.Event | None = None) -> None:
        self.script, self.stop = script, stop
        self.sent: list[int] = []
        self.early: list[int] = []

    def on_action(self, number: int, step: Any, points: Any) -> None:
        self.sent.append(self.script.sent)

    def on_early(self, number: int, step: Any) -> None:
        self.early.append(number)
        if self.stop is not None:
            self.stop.set()


def run(script: Recording, stop: threading.Event | None = None, **settings: Any) -> Any:
    agent, actuator, events = make_agent(script, make_settings(zoom=False, **settings), stop=stop)
    heard = WhenActed(script, stop)
    agent.listeners.append(heard)
    return agent.run("the task"), actuator, events, heard


def text_of(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages)


def test_the_first_step_runs_before_the_answer_ends(tmp_path: Path) -> None:
    script = backend(tmp_path, {"chunks": [FIRST, REST], "seconds": 1.5}, DONE)
    result, actuator, events, heard = run(script)
    assert result.status == "done"
    assert heard.early == [1]
    assert heard.sent[0] == 1  # the click started while the second piece was still to come
    first = events.records[0]
    assert first.streamed and first.first_input is not None
    line = step_line(first)
    assert line["streamed"] is True and line["first_input_ms"] >= 0
    # the rest of the forecast came and is the run's forecast (its next steps run only under
    # the checks of speculate: on this still screen the click changed nothing, so the model
    # is asked again)
    assert first.forecast is not None and len(first.forecast.plan.trajectory) == 3
    assert not first.rest and script.calls == 2


def test_a_malformed_rest_keeps_the_step_that_ran_and_asks_anew(tmp_path: Path) -> None:
    script = backend(tmp_path, {"chunks": [FIRST, ', {"action": "fly"}]}'], "seconds": 0.5},
                     DONE)
    result, actuator, events, heard = run(script)
    assert result.status == "done"
    assert heard.early == [1]
    first = events.records[0]
    assert first.outcome.status == "ok" and "not used" in first.rest
    assert first.attempts and first.attempts[0].error  # the whole answer was still validated
    # the next question is a new plan on the new screen, not a re-ask of the malformed answer
    assert "rejected" not in text_of(script.requests[1])
    assert "click" in text_of(script.requests[1])


def test_a_step_that_needs_confirmation_waits_for_the_whole_answer(tmp_path: Path) -> None:
    risky = FIRST.replace('"target": "OK"', '"target": "Delete all"')
    script = backend(tmp_path, {"chunks": [risky, REST], "seconds": 0.2}, DONE)
    result, actuator, events, heard = run(script, confirm="risky")
    assert heard.early == []
    assert not events.records[0].streamed
    assert events.records[0].outcome.status == "skipped"  # no one to confirm it: not run at all


def test_streaming_off_waits_for_the_whole_answer(tmp_path: Path) -> None:
    script = backend(tmp_path, {"chunks": [FIRST, REST], "seconds": 0.2}, DONE)
    result, actuator, events, heard = run(script, stream_first=False)
    assert result.status == "done" and heard.early == [] and heard.sent[0] == 2


def test_a_stop_ends_the_step_and_the_model_call_together(tmp_path: Path) -> None:
    stop = threading.Event()
    script = backend(tmp_path, {"chunks": [FIRST, REST], "seconds": 600}, DONE)
    result, actuator, events, heard = run(script, stop=stop)
    assert result.status == "interrupted"
    assert script.sent == 1  # the rest never came: the call was stopped with the run
    assert not [t for t in threading.enumerate() if t.name == "tracer-forecast"]


def test_a_terminal_first_step_is_read_with_the_whole_answer(tmp_path: Path) -> None:
    done = '{"thought": "all set", "trajectory": [{"action": "done"}'
    script = backend(tmp_path, {"chunks": [done, "]}"], "seconds": 0.2})
    result, actuator, events, heard = run(script)
    assert result.status == "done" and heard.early == []
