"""The batch file format: what loads, and the one-line errors (file:line, what to fix) of what
does not; task options turned into `tracer do` arguments; the bench suite as batch tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_tracer
from tracer_cli.batch.tasks import load, option_args
from tracer_cli.bench import suite
from tracer_cli.errors import ConfigError

ALLOWED = {"model", "backend", "base_url", "replan", "grammar", "max_tokens"}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_full_task_line_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "# a comment", "",
                 json.dumps({"id": "form", "task": "fill it in", "apps": ["xterm -T a"],
                             "check": "true", "max_steps": 7, "size": "800x600", "timeout": 60,
                             "options": {"model": "m", "max-tokens": 64, "grammar": False}}),
                 json.dumps({"task": "second"}))
    first, second = load(path, ALLOWED)
    assert (first.id, first.task, first.apps, first.check, first.max_steps, first.size,
            first.timeout) == ("form", "fill it in", ["xterm -T a"], "true", 7, "800x600", 60.0)
    assert option_args(first.options) == ["--model", "m", "--max-tokens", "64", "--no-grammar"]
    assert (second.id, second.apps, second.check, second.options) == ("task2", [], None, {})


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "tasks.jsonl:1: not JSON"),
    ('{"text": "x"}', "tasks.jsonl:1: unknown key 'text'"),
    ('{"task": ""}', 'tasks.jsonl:1: "task" must be'),
    ('{"task": "x", "apps": [1]}', 'tasks.jsonl:1: "apps" must be'),
    ('{"task": "x", "max_steps": 0}', 'tasks.jsonl:1: "max_steps" must be'),
    ('{"task": "x", "options": {"yes": true}}', "tasks.jsonl:1: unknown option 'yes'"),
    ('{"task": "x", "options": {"model": null}}', "tasks.jsonl:1: option 'model' must be"),
    ('{"task": "x", "id": "a b"}', 'tasks.jsonl:1: "id" must be'),
    ('{"task": "x", "size": "big"}', 'tasks.jsonl:1: "size" must be'),
    ('[1, 2]', "tasks.jsonl:1: a task is a JSON object"),
])
def test_bad_lines_say_where_and_what(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, line), ALLOWED)
    assert message in str(caught.value)


def test_ids_are_unique_and_a_file_needs_tasks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task id 'a' is used twice"):
        load(write(tmp_path, '{"task": "x", "id": "a"}', '{"task": "y", "id": "a"}'), ALLOWED)
    with pytest.raises(ConfigError, match="holds no tasks"):
        load(write(tmp_path, "# nothing"), ALLOWED)


def test_the_command_says_one_line_for_a_bad_file(tmp_path: Path) -> None:
    result = run_tracer("batch", str(write(tmp_path, '{"task": "x", "options": {"colour": 1}}')))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown option 'colour'" in result.stderr
    missing = run_tracer("batch", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 2 and "cannot read the batch file" in missing.stderr


def test_the_bench_has_twenty_tasks_or_more_each_checked() -> None:
    tasks = suite.tasks()
    assert len(tasks) >= 20
    assert len({t.task for t in tasks}) == len(tasks)  # each instruction its own
    assert all(t.check and "{dir}/state.json" in t.check and len(t.apps) == 1 for t in tasks)
    repeated = suite.tasks(["button", "menu"], repeat=2)
    assert [t.id for t in repeated] == ["button.1", "menu.1", "button.2", "menu.2"]
    with pytest.raises(ConfigError, match="no bench task 'nope'"):
        suite.tasks(["nope"])


def test_the_live_rows_show_each_running_task_and_escape_its_text() -> None:
    from rich.console import Console

    from tracer_cli.batch.runner import TaskResult
    from tracer_cli.cli.batch import LiveRows

    first, second = suite.tasks(["button", "menu"])
    rows = LiveRows(2)
    rows.started(first)
    rows.started(second)
    rows.progress(first, "step 2/12: click (5,5) '[/bad] OK'")
    rows.ended(second, TaskResult(second.id, second.task, success=True, steps=3, seconds=1.5))
    console = Console(record=True, width=120)
    console.print(rows._render())
    text = console.export_text()
    assert "1/2 finished, 1 succeeded" in text
    assert "button" in text and "step 2/12: click (5,5) '[/bad] OK'" in text
    assert "menu" not in text  # finished: no longer a running row


def test_the_bench_score_sums_up_tasks_and_presses(tmp_path: Path) -> None:
    from tracer_cli.batch.runner import TaskResult

    def result(ident: str, success: bool, steps: int, errors: list[float | None]) -> TaskResult:
        folder = tmp_path / ident
        folder.mkdir()
        presses = [{"x": 0, "y": 0, "button": 1, **({"error": e} if e is not None else {})}
                   for e in errors]
        (folder / "state.json").write_text(json.dumps({"name": ident, "presses": presses}))
        return TaskResult(ident, "t", status="done", success=success, steps=steps,
                          model_calls=steps, seconds=10.0, run_seconds=2.0 * steps,
                          folder=str(folder))

    skipped = TaskResult("later", "t", status="skipped", folder=str(tmp_path / "none"))
    score = suite.score([result("a", True, 2, [0.0, 4.0]), result("b", False, 4, [30.0, None]),
                         skipped])
    assert score["tasks_run"] == 2 and score["success_rate"] == 0.5
    assert score["model_calls_per_task"] == 3.0 and score["run_seconds_per_step"] == 2.0
    assert score["grounding_error"] == {"presses": 3, "mean": 11.3, "median": 4.0, "p90": 30.0,
                                        "max": 30.0, "within_5px": 0.667, "within_20px": 0.667}
    b = score["per_task"][1]
    assert (b["presses"], b["measured_presses"], b["grounding_error_mean"]) == (2, 1, 30.0)
