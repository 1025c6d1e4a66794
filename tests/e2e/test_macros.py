"""`tracer run` on a real display: macros that click by text and by image after the window
moved, wait for text that appears later, fail with their line number, type variables and secrets
(never logged), hand a sub-task to the agent (served by a local OpenAI-compatible server), and
dry runs that send no input at all."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import Notes, grab, park_pointer, plan, pointer, run_dir, tracer_env

pytestmark = pytest.mark.display

SAVE_NOTE = """\
name: save a note
vars:
  who: Ada Lovelace
steps:
  - click: Clear
  - click: {text: Name, offset: [180, 0]}   # the field right of the label
  - type: "{who}"
  - click: Save
  - wait_for: "Saved {who}"
"""


def write(tmp_path: Path, text: str, name: str = "macro.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_text_targets_follow_a_moved_window(display: Display, start_notes: Callable[..., Notes],
                                            tmp_path: Path) -> None:
    notes = start_notes(display, "640x420+60+60")
    macro = write(tmp_path, SAVE_NOTE)
    env = tracer_env(display)
    first = run_tracer("run", str(macro), env=env)
    assert first.returncode == 0, first.stderr
    assert notes.state()["saved"] == [["Ada Lovelace", ""]]

    notes.move(560, 330)  # the same macro, the window elsewhere
    second = run_tracer("run", str(macro), "--var", "who=Grace Hopper", env=env)
    assert second.returncode == 0, second.stderr
    state = notes.wait_state(lambda s: len(s["saved"]) == 2)
    assert state["saved"][1] == ["Grace Hopper", ""]
    steps = [json.loads(line) for line in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    save = steps[3]
    assert save["where"].endswith("macro.yaml:8")
    # The Save button was found inside the moved window, and clicked there.
    x, y = save["points"][0]
    assert 560 < x < 560 + 640 and 330 < y < 330 + 420
    assert save["found"][0]["text"] == "Save"


def test_image_target_found_after_the_window_moved(display: Display,
                                                   start_notes: Callable[..., Notes],
                                                   tmp_path: Path) -> None:
    notes = start_notes(display, "640x420+40+40")
    # Cut the Load button out of a screenshot, as a user (or the recorder) would.
    macro = write(tmp_path, "- click: {text: Load}\n")
    found = run_tracer("run", str(macro), "--dry-run", env=tracer_env(display))
    assert found.returncode == 0, found.stderr
    [line] = [json.loads(x) for x in (run_dir(tracer_env(display)) / "steps.jsonl").read_text().splitlines()]
    cx, cy = line["points"][0]
    grab(display).crop((cx - 30, cy - 12, cx + 30, cy + 12)).save(tmp_path / "load-button.png")

    notes.move(500, 300)
    macro = write(tmp_path, "# Press Load by its picture\n- click: {image: load-button.png}\n"
                  "- wait_for: Loaded 3 notes\n", "image.yaml")
    done = run_tracer("run", str(macro), env=tracer_env(display))
    assert done.returncode == 0, done.stderr
    assert notes.state()["clicks"] == ["Load"]
    assert notes.state()["status"] == "Loaded 3 notes"


def test_wait_for_text_that_appears_later_and_its_timeout(display: Display,
                                                          start_notes: Callable[..., Notes],
                                                          tmp_path: Path) -> None:
    notes = start_notes(display, load_delay=3)
    macro = write(tmp_path, "- click: Load\n- wait_for: Loaded 3 notes\n  timeout: 15\n"
                  "- assert: Loaded 3 notes\n")
    started = time.monotonic()
    done = run_tracer("run", str(macro), env=tracer_env(display))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started > 3  # it did wait for the text
    assert notes.state()["status"] == "Loaded 3 notes"

    short = write(tmp_path, "- click: Clear\n- click: Load\n- wait_for: {text: Loaded 3 notes, "
                  "message: the notes did not load}\n  timeout: 1\n", "short.yaml")
    failed = run_tracer("run", str(short), env=tracer_env(display))
    assert failed.returncode == 1
    assert f"{short}:3: wait_for text 'Loaded 3 notes': the notes did not load" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_failing_assert_stops_with_line_screen_text_and_screenshot(
        display: Display, start_notes: Callable[..., Notes], tmp_path: Path) -> None:
    notes = start_notes(display)
    macro = write(tmp_path, "- assert: Name\n- assert: {text: Welcome back}\n- click: Save\n")
    env = tracer_env(display)
    failed = run_tracer("run", str(macro), env=env)
    assert failed.returncode == 1
    stderr = " ".join(failed.stderr.split())
    assert f"{macro}:2: assert text 'Welcome back': assertion failed: it is not on the screen" in stderr
    assert "the screen shows" in stderr and "'Save'" in stderr  # what was there instead
    assert notes.state()["clicks"] == []  # the step after the failure did not run
    record = run_dir(env)
    assert json.loads((record / "run.json").read_text())["status"] == "failed"
    with Image.open(record / "step-002.png") as shot:
        assert shot.size == (display.width, display.height)


def test_variables_and_secrets_never_reach_a_log(display: Display,
                                                 start_notes: Callable[..., Notes],
                                                 tmp_path: Path) -> None:
    notes = start_notes(display)
    secret = "s3cr3t-Token-4242"
    macro = write(tmp_path, """\
vars:
  who: nobody
secrets:
  token: NOTES_TOKEN
steps:
  - click: {text: Name, offset: [180, 0]}
  - type: "{who}"
  - click: {text: Note, offset: [180, 20]}
  - type: "token={token}"
  - click: Save
""")
    env = tracer_env(display, NOTES_TOKEN=secret)
    missing = run_tracer("run", str(macro), env=tracer_env(display))
    assert missing.returncode == 2
    assert "needs the environment variable NOTES_TOKEN" in missing.stderr

    done = run_tracer("run", str(macro), "--var", "who=Ada", env=env)
    assert done.returncode == 0, done.stderr
    assert notes.state()["saved"] == [["Ada", f"token={secret}"]]
    assert secret not in done.stdout + done.stderr
    home = Path(env["TRACER_HOME"])
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
    assert "type 'token={token}'" in (run_dir(env) / "steps.jsonl").read_text()


def test_do_step_is_run_by_the_agent_through_an_openai_server(
        display: Display, start_notes: Callable[..., Notes], tmp_path: Path, chat_server: Any) -> None:
    notes = start_notes(display)
    chat_server.queue(plan({"action": "type", "text": "Grace"}, thought="type the name"),
                      plan({"action": "done", "answer": "typed it"}))
    macro = write(tmp_path, "- click: {text: Name, offset: [180, 0]}\n"
                  "- do: {task: type the name Grace, max_steps: 4}\n- click: Save\n"
                  "- wait_for: Saved Grace\n")
    env = tracer_env(display)
    done = run_tracer("run", str(macro), "--backend", "openai", "--base-url", chat_server.base_url,
                      env=env)
    assert done.returncode == 0, done.stderr
    assert notes.state()["saved"] == [["Grace", ""]]
    assert len(chat_server.requests) == 2
    assert "type the name Grace" in json.dumps(chat_server.requests[0]["messages"])


def test_dry_run_finds_targets_and_sends_no_input(display: Display,
                                                  start_notes: Callable[..., Notes],
                                                  tmp_path: Path) -> None:
    notes = start_notes(display)
    before = park_pointer(display)
    macro = write(tmp_path, SAVE_NOTE + "  - click: Nowhere to be seen\n  - do: tidy up\n")
    out_png = tmp_path / "dry.png"
    env = tracer_env(display)
    dry = run_tracer("run", str(macro), "--dry-run", "--out", str(out_png), env=env)
    assert dry.returncode == 0, dry.stderr
    assert pointer(display) == before
    assert notes.state()["clicks"] == [] and notes.state()["name"] == ""
    assert "not on the screen now" in dry.stdout and "agent sub-task" in dry.stdout
    assert "3 of 4 pointer targets found" in " ".join(dry.stderr.split())
    lines = [json.loads(x) for x in (run_dir(env) / "steps.jsonl").read_text().splitlines()]
    save = lines[3]["points"][0]
    assert 100 < save[0] < 740 and 80 < save[1] < 500  # inside the window
    with Image.open(out_png) as png:
        image = png.convert("RGB")
    assert image.size == (display.width, display.height)
    around = (save[0] - 20, save[1] - 20, save[0] + 21, save[1] + 21)
    assert ImageChops.difference(image.crop(around), grab(display).crop(around)).getbbox()  # a marker


def test_risky_step_without_a_terminal_stops_unless_yes(display: Display,
                                                        start_notes: Callable[..., Notes],
                                                        tmp_path: Path) -> None:
    notes = start_notes(display)
    macro = write(tmp_path, "- click: Save\n- click: Delete\n")
    stopped = run_tracer("run", str(macro), env=tracer_env(display))
    assert stopped.returncode == 3  # a step needed a human
    stderr = " ".join(stopped.stderr.split())
    assert f"{macro}:2: click text 'Delete': needs confirmation: it is risky" in stderr
    assert notes.state()["clicks"] == ["Save"]
    done = run_tracer("run", str(macro), "--yes", env=tracer_env(display))
    assert done.returncode == 0, done.stderr
    assert notes.wait_state(lambda s: s["clicks"][-1:] == ["Delete"])["status"] == "Deleted all notes"


@pytest.mark.parametrize(("text", "expected"), [
    ("- clack: Save\n", ":1: unknown step 'clack'"),
    ("- wait: soon\n", ":1: wait: Input should be a valid number"),
    ("- click: {image: missing.png}\n", ":1: image file 'missing.png' not found"),
    ("- click: Save\n  - type: x\n", ":2: YAML syntax error"),
])
def test_bad_macro_files_give_one_line_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    macro = write(tmp_path, text)
    proc = run_tracer("run", str(macro))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{macro}{expected}" in proc.stderr


def test_a_50000_step_dry_run_and_its_record_print_bounded_tables(display: Display,
                                                                   tmp_path: Path) -> None:
    """A 10,000-row repeat of 5 steps: the dry run and `tracer logs last` print the first and
    last rows with "... N more" between (all of it was 3 MB and took 30 to 55 s to print);
    `tracer logs RUN --all` prints every row."""
    rows = ", ".join(str(n) for n in range(10_000))
    macro = write(tmp_path, f"steps:\n  - repeat:\n      for: r\n      in: [{rows}]\n      steps:\n"
                  "        - type: 'row {r}'\n        - hotkey: tab\n        - type: x\n"
                  "        - hotkey: enter\n        - wait: 0\n", "long.yaml")
    env = tracer_env(display)
    started = time.monotonic()
    dry = run_tracer("run", str(macro), "--dry-run", env=env, timeout=120)
    dry_seconds = time.monotonic() - started
    assert dry.returncode == 0, dry.stderr
    assert len(dry.stdout) < 10_000, len(dry.stdout)
    assert "'row 0'" in dry.stdout and "'row 9999'" in dry.stdout and "'row 5000'" not in dry.stdout
    run_id = run_dir(env).name
    assert "49,975 more steps" in dry.stdout
    assert f"all 50,000 steps: tracer logs {run_id} --all" in dry.stderr
    lines = (run_dir(env) / "steps.jsonl").read_text().splitlines()
    assert len(lines) == 50_000  # the record has them all

    started = time.monotonic()
    shown = run_tracer("logs", "last", env=env, timeout=120)
    logs_seconds = time.monotonic() - started
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout) < 10_000 and "49,975 more steps" in shown.stdout
    print(f"50,000-step dry run {dry_seconds:.1f} s, tracer logs last {logs_seconds:.1f} s")
    assert dry_seconds < 25 and logs_seconds < 10  # (were 30-55 s and 24-29 s)

    few = write(tmp_path, "- repeat: {for: r, in: [" + ", ".join(map(str, range(40))) + "], "
                "steps: [{type: 'n{r}'}]}\n", "few.yaml")
    assert run_tracer("run", str(few), "--dry-run", env=env).returncode == 0
    every = run_tracer("logs", "last", "--all", env=env)
    assert every.returncode == 0 and "more steps" not in every.stdout
    assert all(f"'n{n}'" in every.stdout for n in range(40))


def test_a_secret_on_the_screen_never_leaves_tracer(display: Display,
                                                    start_notes: Callable[..., Notes],
                                                    tmp_path: Path) -> None:
    """A macro types a secret, then a wait_for times out: the failure line lists what OCR read
    on the screen, the typed secret among it. It reads {token} on stderr, in the event stream,
    in every file of the run record and in the report."""
    notes = start_notes(display)
    secret = "s3cr3t-Token-4242"
    macro = write(tmp_path, """\
secrets:
  token: NOTES_TOKEN
steps:
  - click: {text: Note, offset: [180, 20]}
  - type: "{token}"
  - wait_for: {text: Never shown anywhere}
    timeout: 1
""")
    env = tracer_env(display, NOTES_TOKEN=secret)
    failed = run_tracer("run", str(macro), "--events", "jsonl", env=env)
    assert failed.returncode == 1, failed.stderr
    assert notes.wait_state(lambda s: s["note"].strip() == secret)  # it was typed, and shown
    stderr = " ".join(failed.stderr.split())
    assert f"{macro}:6: wait_for text 'Never shown anywhere': it did not appear within 1s; the " \
           "screen shows" in stderr and "'{token}'" in stderr  # what OCR read, redacted
    report = run_tracer("logs", "report", "last", env=env, timeout=60)
    assert report.returncode == 0, report.stderr
    shown = run_tracer("logs", "last", env=env)
    as_json = run_tracer("logs", "last", "--json", env=env)
    outputs = {"stdout": failed.stdout, "stderr": failed.stderr, "report": report.stdout + report.stderr,
               "logs last": shown.stdout + as_json.stdout}
    assert '"event": "end"' in failed.stdout and "{token}" in as_json.stdout
    files = [p for p in run_dir(env).iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"run.json", "steps.jsonl", "report.html", "step-003.png"}
    for name, text in outputs.items():
        assert secret not in text, name
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
    # nor in pixels: every screenshot kept (and so the report's pictures, made from them) has
    # the field that shows the secret painted over
    from PIL import Image

    from tracer_cli.vision.ocr import find_text, get_engine

    engine = get_engine("auto")
    shots = [p for p in files if p.suffix in (".png", ".jpg")]
    assert shots
    for path in shots:
        with Image.open(path) as shot:
            lines = engine.read(shot.convert("RGB"))
        assert find_text(lines, "Note"), path  # the rest of the screen is still there
        assert not find_text(lines, secret), (path, [line.text for line in lines])
