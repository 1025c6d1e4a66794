"""What the user watches: the Rich live panel and the plain log lines."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from rich.console import Console

from tests.fakes import DONE, GEOMETRY, FakeBackend, click, make_agent, make_settings, step_plan
from tracer_cli.agent.backends import CallProgress, Completion, bounds
from tracer_cli.agent.outcome import Outcome
from tracer_cli.agent.planner import Attempt, Forecast
from tracer_cli.agent.runloop import Listener, RunResult, StepRecord
from tracer_cli.cli.panel import LivePanel, LogLines
from tracer_cli.plan import parse_plan

MARKUP = "[/bold] [red]x"


def forecast(data: dict[str, Any], seconds: float = 0.25, attempts: int = 1) -> Forecast:
    text = json.dumps(data)
    tries = [Attempt("bad", "bad answer", 0.0)] * (attempts - 1) + [Attempt(text, "", seconds)]
    return Forecast(parse_plan(text, 5), tries)


def console() -> Console:
    return Console(record=True, width=120, file=io.StringIO(), color_system=None)


def shown(panel: LivePanel) -> str:
    panel.console.print(panel.render())
    return panel.console.export_text()


@pytest.fixture
def panel() -> Any:
    panel = LivePanel(console())
    panel.on_start("fill [bold]the[/] form", make_settings(max_steps=9), GEOMETRY)
    yield panel
    panel.live.stop()


def play_two_steps(panel: LivePanel, thought: str = MARKUP) -> None:
    panel.on_phase(1, "capture")
    panel.on_phase(1, "model")
    first = forecast({"thought": "first", "trajectory": [
        {"action": "click", "x": 500, "y": 500, "target": "[b]Name[/b]"}, {"action": "done"}]})
    panel.on_plan(1, first)
    panel.on_phase(1, "act")
    panel.on_step(StepRecord(1, action=first.plan.first, points=[(640, 400)], outcome=Outcome("ok"),
                             timings={"capture": 0.01, "model": 0.5, "act": 0.02, "settle": 1.5}))
    panel.on_phase(2, "model")
    panel.on_plan(2, forecast({"thought": thought, "trajectory": [
        {"action": "type", "text": "Ada [i]Lovelace"},
        {"action": "hotkey", "keys": ["ctrl", "s"]},
        {"action": "done", "answer": "[/] saved"}]}))


def test_model_text_is_shown_literally(panel: LivePanel) -> None:
    play_two_steps(panel)
    text = shown(panel)  # a markup error would raise here
    assert f"Thought: {MARKUP}" in text
    assert "Task: fill [bold]the[/] form" in text
    assert "type 'Ada [i]Lovelace'" in text
    assert "'[b]Name[/b]'" in text
    assert "done '[/] saved'" in text


def test_done_current_and_forecast_steps_appear(panel: LivePanel) -> None:
    play_two_steps(panel)
    lines = shown(panel).splitlines()

    def row(fragment: str) -> str:
        (line,) = [line for line in lines if fragment in line]
        return line

    assert re.search(r"✓\s+1\s+click \(500,500\) '\[b\]Name\[/b\]'\s+ok", row("click (500,500)"))
    assert re.search(r"▶\s+2\s+type 'Ada \[i\]Lovelace'\s+model", row("type 'Ada"))
    assert re.search(r"·\s+\+1\s+hotkey ctrl\+s\s+forecast", row("hotkey ctrl+s"))
    assert re.search(r"·\s+\+2\s+done '\[/\] saved'\s+forecast", row("done '[/] saved'"))
    order = [i for i, line in enumerate(lines)
             for f in ("click (500,500)", "type 'Ada", "hotkey ctrl+s", "done '[/]")
             if f in line]
    assert order == sorted(order) and len(order) == 4
    assert "step 2/9" in lines[0]
    assert "· model 0s" in lines[0]
    assert any("last step: capture 10 ms · model 500 ms · act 20 ms · settle 1.50 s" in line
               for line in lines)


def test_the_panel_wraps_at_80_columns_on_a_soft_wrap_console() -> None:
    """tracer's consoles are soft_wrap (console.py); inside the panel that cropped every long
    line at the border: the thought ('to postpone i') and the totals, which also listed phases
    the run never went through ('find 0' ms in a `tracer do`). Each line wraps, whole."""
    panel = LivePanel(Console(record=True, width=80, file=io.StringIO(), color_system=None,
                              soft_wrap=True))
    panel.on_start("postpone the deploy", make_settings(max_steps=30), GEOMETRY)
    try:
        thought = ("An xmessage dialog asks about a deploy to production; the task says to "
                   "postpone it, so the Later button is the one to press.")
        panel.on_phase(1, "model")
        plan = forecast({"thought": thought, "trajectory": [
            {"action": "click", "x": 462, "y": 516,
             "target": "the Later button at the bottom of the xmessage dialog, between Deploy "
                       "and Cancel"}, {"action": "done"}]})
        panel.on_plan(1, plan)
        panel.on_step(StepRecord(1, action=plan.plan.first, points=[(591, 413)],
                                 outcome=Outcome("ok"), timings={
                                     "capture": 0.041, "verify": 0.002, "model": 0.146,
                                     "ground": 0.003, "act": 0.021, "settle": 0.317,
                                     "check": 0.03}))
        text = shown(panel)
    finally:
        panel.live.stop()
    inside = " ".join(line.strip("│╭╮╰╯─ ") for line in text.splitlines())
    flat = " ".join(inside.split())
    assert "Thought: " + thought in flat
    assert ("total: capture 41 ms · verify 2 ms · model 146 ms · ground 3 ms · act 21 ms · "
            "settle 317 ms · check 30 ms") in flat
    assert "find" not in flat  # a macro's phase: not in an agent's run
    assert "between Deploy and Cancel'" in flat  # the step's row wraps too
    assert all(len(line) <= 80 for line in text.splitlines())


def test_failed_step_is_marked(panel: LivePanel) -> None:
    step = forecast(click()).plan.first
    panel.on_step(StepRecord(1, action=step, outcome=Outcome("error", "point (1,1) falls outside monitor 2")))
    line = next(line for line in shown(panel).splitlines() if "click (500,500)" in line)
    assert "✗" in line and "error: point (1,1) falls outside monitor 2" in line


def test_totals_add_up(panel: LivePanel) -> None:
    for n in (1, 2):
        panel.on_step(StepRecord(n, timings={"model": 0.25, "settle": 0.5}))
    assert panel.totals["model"] == pytest.approx(0.5)
    assert panel.totals["settle"] == pytest.approx(1.0)
    assert panel.done == []  # steps without an action (a failed forecast) are not listed


def test_end_shows_the_result(panel: LivePanel) -> None:
    """How the run ended; why it was not done is the command's last line, said once."""
    play_two_steps(panel)
    panel.on_end(RunResult("failed", "the [red]dialog[/] is gone", steps=2, seconds=3.0))
    text = panel.console.export_text()
    assert "failed" in text.splitlines()[-2]
    assert "dialog" not in text


def test_panel_through_a_real_run() -> None:
    panel = LivePanel(console())
    backend = FakeBackend(step_plan({"action": "click", "x": 1, "y": 2, "target": MARKUP},
                                    thought=MARKUP), DONE)
    agent, _, _ = make_agent(backend)
    agent.listeners.append(panel)
    assert agent.run("task").status == "done"
    text = panel.console.export_text()
    assert f"click (1,2) '{MARKUP}'" in text
    assert "done: all set" in text


def run_with_lines(backend: FakeBackend) -> list[str]:
    stream = io.StringIO()
    agent, _, _ = make_agent(backend, make_settings(max_steps=10))
    agent.listeners.append(LogLines(stream))
    agent.run("press OK")
    return stream.getvalue().splitlines()


def test_log_lines() -> None:
    lines = run_with_lines(FakeBackend("nope", click(500, 500), DONE))
    assert all(line.startswith("tracer: ") for line in lines)
    assert lines[0] == "tracer: task: 'press OK' on monitor 2 (1280x800+1920+0), at most 10 steps"
    assert re.fullmatch(r"tracer: step 1/10: forecast in \d+ ms after 2 attempts: "
                        r"click \(500,500\) 'OK' \| then: done", lines[1])
    assert re.fullmatch(r"tracer: step 1/10: click \(500,500\) 'OK' at \(2560,400\) -> "
                        r"ok \(no visible effect\) \[capture \d+ ms · model \d+ ms · act \d+ ms · "
                        r"settle \d+ ms · check \d+ ms\]", lines[2])
    assert re.fullmatch(r"tracer: step 2/10: forecast in \d+ ms: done 'all set'", lines[3])
    assert re.fullmatch(r"tracer: done after 2 steps in \d+\.\ds \(3 model calls, 0 steps from "
                        r"the forecast\): all set", lines[4])
    assert len(lines) == 5


def test_log_lines_count_one_step_as_one() -> None:
    stream = io.StringIO()
    agent, _, _ = make_agent(FakeBackend(DONE), make_settings(max_steps=1))
    agent.listeners.append(LogLines(stream))
    agent.run("press OK")
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(", at most 1 step")  # not "1 steps" (a one-step macro says so too)
    assert re.match(r"tracer: done after 1 step in", lines[-1])


def test_log_lines_keep_model_text_on_one_line() -> None:
    lines = run_with_lines(FakeBackend(step_plan({"action": "type", "text": "a\nb"}), DONE))
    assert any("type 'a\\nb'" in line for line in lines)
    assert all(line.startswith("tracer: ") for line in lines)


def test_log_lines_error_end() -> None:
    lines = run_with_lines(FakeBackend("x", "y", "z"))
    assert re.fullmatch(r"tracer: error after 1 step in \d+\.\ds \(3 model calls, 0 steps from "
                        r"the forecast\)", lines[-1])
    assert not any("no valid plan" in line for line in lines)  # the command's last line says it


def test_log_lines_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO(" Yes \n"))
    assert LogLines(stream).ask("run it? ") == "yes"
    assert stream.getvalue() == "run it? "


def test_the_title_ticks_while_the_model_answers(panel: LivePanel) -> None:
    """A planning call on a CPU takes a minute or more: the title counts its seconds."""
    panel.on_phase(1, "model")
    panel.phase_started -= 42.4  # as if the model had been answering for 42 s
    title = shown(panel).splitlines()[0]
    assert "step 1/9" in title and "· model 42s" in title


# --- how far the model call got ------------------------------------------------------------------

CALL = [CallProgress("waiting"), CallProgress("prompt"), CallProgress("prompt", 38, 1_430),
        CallProgress("image", 38, 1_430), CallProgress("prompt", 1_430, 1_430),
        CallProgress("answering", 1), CallProgress("answering", 57)]
def title(panel: LivePanel) -> str:
    """The panel's top line as the user's terminal shows it now (at the console's width)."""
    out = Console(record=True, width=panel.console.width, file=io.StringIO(), color_system=None)
    out.print(panel.render())
    return out.export_text().splitlines()[0]


SAID = ["waiting for the first token", "reading the prompt", "reading the prompt 38/1,430",
        "encoding the screenshot", "reading the prompt 1,430/1,430", "answering: 1 token",
        "answering: 57 tokens"]


@pytest.mark.parametrize("width", [80, 100, 120])
def test_the_title_says_how_far_the_model_call_got(width: int) -> None:
    """A long run, at its widest (many steps, a four-digit time, a five-digit prompt): the
    title keeps the whole of what the call is doing, at 80 columns too."""
    panel = LivePanel(Console(record=True, width=width, file=io.StringIO(), color_system=None))
    panel.on_start("fill the form " * 40, make_settings(max_steps=100), GEOMETRY)
    panel.started -= 1234
    panel.on_phase(100, "ground")  # a zoom's call, the longest phase name a call happens in
    panel.phase_started -= 141
    try:
        for progress, said in [*zip(CALL, SAID, strict=True),
                               (CallProgress("prompt", 12_345, 23_456),
                                "reading the prompt 12,345/23,456")]:
            panel.on_model_progress(progress)
            top = title(panel)
            assert f"╭─ step 100/100 · 1234s · ground 141s · {said} ─" in top, (width, top)
            assert len(top) == width
    finally:
        panel.live.stop()


def test_a_new_phase_forgets_the_last_call(panel: LivePanel) -> None:
    panel.on_phase(1, "model")
    panel.on_model_progress(CallProgress("answering", 57))
    assert "· model 0s · answering: 57 tokens ─" in title(panel)
    panel.on_phase(1, "act")
    assert title(panel).startswith("╭─ step 1/9 · 0s · act 0s ─")


class TellingBackend(FakeBackend):
    """A fake that tells how far its call got, as the llama backend does, and notes the panel's
    title at each stage (what the user would see then)."""

    def __init__(self, panel: LivePanel | None, *answers: str | dict[str, Any]) -> None:
        super().__init__(*answers)
        self.panel = panel
        self.titles: list[str] = []

    def complete(self, messages: list[dict[str, Any]],
                 schema: dict[str, Any] | None = None) -> Completion:
        limits = bounds.current()
        for progress in CALL[1:]:
            limits.report(progress.stage, progress.done, progress.total)
            if self.panel is not None:
                self.titles.append(str(self.panel.render().title))
        return super().complete(messages, schema)


class Heard(Listener):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_phase(self, number: int, phase: str) -> None:
        self.events.append(("phase", number, phase))

    def on_model_progress(self, progress: CallProgress) -> None:
        self.events.append(("call", progress))

    def on_plan(self, number: int, forecast: Forecast) -> None:
        self.events.append(("plan", number))


def test_a_run_tells_its_listeners_how_far_each_model_call_got() -> None:
    """Through a real run: each planning call's progress reaches every listener between the
    model phase and its plan, and the panel's title shows it while the call runs."""
    panel, heard = LivePanel(console()), Heard()
    backend = TellingBackend(panel, click(), DONE)
    agent, _, _ = make_agent(backend)
    agent.listeners += [panel, heard]
    assert agent.run("press OK").status == "done"
    calls = [e[1] for e in heard.events if e[0] == "call"]
    assert calls == CALL[1:] * 2
    for number in (1, 2):
        model = heard.events.index(("phase", number, "model"))
        plan = heard.events.index(("plan", number))
        assert heard.events[model + 1:plan] == [("call", p) for p in CALL[1:]]
    assert [re.sub(r"\d+s", "Ns", t.split(" · ", 1)[1]) for t in backend.titles[:len(SAID) - 1]] == \
        [f"Ns · model Ns · {said}" for said in SAID[1:]]
    assert "answering" not in panel.console.export_text()  # the final panel: the run is over


def test_log_lines_do_not_tell_each_token() -> None:
    """Plain log lines stay one per event: a call's progress is the panel's only."""
    assert len(run_with_lines(TellingBackend(None, "nope", click(500, 500), DONE))) == 5


def test_a_step_started_while_the_forecast_streams_shows_at_once(panel: LivePanel) -> None:
    from tracer_cli.plan import parse_step

    panel.on_phase(1, "model")
    panel.on_early(1, parse_step({"action": "click", "x": 10, "y": 20, "target": "[b]OK"}))
    text = shown(panel)  # model text escaped here too
    assert re.search(r"▶\s+1\s+click \(10,20\) '\[b\]OK'", text)
    stream = io.StringIO()
    lines = LogLines(stream)
    lines.on_start("t", make_settings(max_steps=3), GEOMETRY)
    lines.on_early(1, parse_step({"action": "type", "text": "hi"}))
    assert "step 1/3: started while the model writes the rest of its forecast: type 'hi'" \
        in stream.getvalue()
