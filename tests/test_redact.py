"""The redaction rule (a registered secret, and what OCR read of it, reads {name}) and the
places text leaves tracer through it: the run record, the event stream, the consoles, the log
lines, the MCP server's results. The end-to-end check is in tests/e2e/test_macros.py."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from tracer_cli import redact
from tracer_cli.redact import redact_data

SECRET = "s3cr3t-Token-4242"


@pytest.fixture
def secret() -> str:
    redact.register("token", SECRET)
    return SECRET


@pytest.mark.parametrize(("text", "expected"), [
    ("token=s3cr3t-Token-4242", "token={token}"),
    ("the screen shows 'Name', 's3cr3t-T0ken-4Z42'", "the screen shows 'Name', '{token}'"),  # OCR
    ("S3CR3T - TOKEN - 4242!", "{token}!"),  # case and spaces
    ("xx s3cr3tToken4242yy zz", "xx {token} zz"),  # with the word it is in
    ("'s3cr3t-Token-4242', 's3cr3t-Token-4242'", "'{token}', '{token}'"),
    ("nothing here: Save, Clear, Token, 4242, s3cr3t", "nothing here: Save, Clear, Token, 4242, s3cr3t"),
    ("token={token}", "token={token}"),  # already redacted
])
def test_a_secret_and_what_ocr_read_of_it_read_its_name(secret: str, text: str, expected: str) -> None:
    assert redact.redact(text) == expected
    assert redact.redact(expected) == expected


def test_nothing_is_redacted_without_secrets() -> None:
    assert redact.redact(SECRET) == SECRET
    data = {"a": [SECRET]}
    assert redact_data(data) is data


def test_short_secrets_only_as_whole_words_and_a_name_inside_its_marker() -> None:
    redact.register("pin", "ab1")
    assert redact.redact("x ab1 y cab1 ab1.") == "x {pin} y cab1 {pin}."
    redact.register("tok", "tokn")
    assert redact.redact("tokn {tok} {pin} toknx") == "{tok} {tok} {pin} {tok}"


def test_data_keys_and_values_nested(secret: str) -> None:
    data = {"outcome": f"shows '{secret}'", secret: [1, {"x": f"a {secret}"}], "n": 3}
    assert redact_data(data) == {"outcome": "shows '{token}'", "{token}": [1, {"x": "a {token}"}],
                                 "n": 3}


def test_redacting_a_long_record_stays_fast(secret: str) -> None:
    line = {"step": 5, "where": "/tmp/macro.yaml:5", "describe": "type 'row 55'",
            "outcome": "keyboard", "points": [], "timings": {"capture": 0.1}}
    started = time.monotonic()
    for _ in range(10_000):
        redact_data(line)
    assert time.monotonic() - started < 3  # (about 0.2 s here)


def test_the_run_record_and_the_event_stream_are_redacted(secret: str, tmp_path: Path) -> None:
    from tracer_cli.agent.events import EventStream
    from tracer_cli.agent.runlog import RunLog

    log = RunLog(tmp_path / "runs", "run", f"type {secret}")
    log.write_step({"step": 1, "outcome": f"failed: the screen shows '{secret}'"})
    log.finish("failed", f"it shows {secret}")
    for path in log.dir.iterdir():
        text = path.read_text()
        assert secret not in text and "{token}" in text, path.name
    stream = io.StringIO()
    EventStream(stream, "run").emit("step", outcome=f"shows {secret}")
    assert secret not in stream.getvalue() and "shows {token}" in stream.getvalue()


def test_the_consoles_and_log_lines_are_redacted(secret: str) -> None:
    from tracer_cli.cli.console import _Console
    from tracer_cli.cli.panel import LogLines

    file = io.StringIO()
    console = _Console(file=file, width=60, soft_wrap=True)
    console.print(f"[bold]tracer: failed:[/] the screen shows '{secret}'")
    assert "the screen shows '{token}'" in file.getvalue() and secret not in file.getvalue()
    lines = io.StringIO()
    LogLines(lines)._say(f"step 3: failed: '{secret}'")
    assert lines.getvalue() == "tracer: step 3: failed: '{token}'\n"


def test_mcp_results_and_tool_errors_are_redacted(secret: str) -> None:
    from tracer_cli.errors import TracerError
    from tracer_cli.serve.tools import _tool_error, as_text

    assert json.loads(as_text({"reason": f"shows {secret}"})) == {"reason": "shows {token}"}
    assert str(_tool_error(TracerError(f"failed: shows {secret}"))) == "tracer: failed: shows {token}"


def test_resolving_a_macros_secrets_registers_them(tmp_path: Path) -> None:
    from tracer_cli.macro.load import load, unroll

    path = tmp_path / "m.yaml"
    path.write_text("secrets: {pw: APP_PASSWORD}\nsteps:\n  - type: '{pw}'\n")
    assert redact.redact("hunter22") == "hunter22"
    unroll(load(path), environ={"APP_PASSWORD": "hunter22"})
    assert redact.redact("the field shows hunter22") == "the field shows {pw}"
