"""Hostile macro files: nested aliases that stand for 10^18 steps, aliases inside their own
anchor, nesting past any real macro, include fan-outs, huge values from variables. Each is
refused in one line (file:line, which limit) before it can eat the machine, and no error quotes
a value in full; a real data-entry macro still loads."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tracer_cli.macro import limits
from tracer_cli.macro.load import MacroError, count_steps, load, unroll


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(MacroError) as info:
        unroll(load(path), **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def bomb(levels: int = 9, fan: int = 10) -> str:
    """The "billion laughs" shape: each level a repeat of ``fan`` values whose steps are
    ``fan`` aliases of the level below."""
    lines = ["steps:", "  - &l0 {type: x}"]
    values = ", ".join(str(n) for n in range(fan))
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * fan)
        lines.append(f"  - &l{level} {{repeat: {{for: v{level}, in: [{values}], steps: [{refs}]}}}}")
    return "\n".join(lines) + "\n"


def tracer_bounded(*args: str, timeout: float = 60,
                   memory: int = 2 << 30) -> subprocess.CompletedProcess[str]:
    """The real `tracer`, as run_tracer runs it, but with its address space capped at
    ``memory`` bytes, so that a loader without bounds fails the test instead of the machine."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "tracer_cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, preexec_fn=cap)


def test_a_billion_laughs_macro_is_refused_at_once_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, bomb(), "bomb.yaml")
    assert path.stat().st_size < 4096
    started = time.monotonic()
    proc = tracer_bounded("run", str(path), "--dry-run", timeout=60)
    seconds = time.monotonic() - started
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}:" in proc.stderr and "YAML nodes" in proc.stderr
    assert f"{limits.MAX_NODES:,}" in proc.stderr
    assert seconds < 20


def test_nested_repeats_past_the_step_limit_are_counted_not_unrolled(tmp_path: Path) -> None:
    values = ", ".join(str(n) for n in range(10_000))
    path = write(tmp_path, f"""\
steps:
  - click: Start
  - repeat:
      for: a
      in: [{values}]
      steps:
        - repeat:
            for: b
            in: [{values}]
            steps: [{{type: "{{a}}{{b}}"}}]
""")
    started = time.monotonic()
    message = error_of(path)
    assert time.monotonic() - started < 5
    assert message.startswith(f"{path}:3: this repeat unrolls to 100,000,000 steps, over the limit "
                              f"of {limits.MAX_STEPS:,}"), message


def test_steps_that_add_up_past_the_limit_are_refused_where_they_do(tmp_path: Path) -> None:
    values = ", ".join(str(n) for n in range(10_000))
    body = "\n".join(f"  - repeat: {{for: r{n}, in: [{values}], steps: [{{hotkey: tab}}]}}"
                     for n in range(11))
    path = write(tmp_path, "steps:\n" + body + "\n")
    message = error_of(path)
    assert message.startswith(f"{path}:12: the steps up to here unroll to 110,000 steps"), message


def test_an_include_fan_out_is_read_once_per_file_and_counted(tmp_path: Path) -> None:
    write(tmp_path, "- type: x\n", "f0.yaml")
    for level in range(1, 10):
        write(tmp_path, "".join(f"- include: f{level - 1}.yaml\n" for _ in range(10)),
              f"f{level}.yaml")
    started = time.monotonic()
    message = error_of(tmp_path / "f9.yaml")
    assert time.monotonic() - started < 5
    assert "unroll to" in message and "over the limit" in message
    five = load(tmp_path / "f4.yaml")  # 10^4 steps: fine
    assert count_steps(five.steps) == 10_000 and len(unroll(five)) == 10_000


@pytest.mark.parametrize(("text", "line", "message"), [
    ("- click: &a [*a]\n", 1, "alias *a is inside its own anchor"),
    ("- type: x\n  timeout: " + "[" * 100 + "]" * 100 + "\n", 2, "nested more than 64 levels deep"),
    ("steps:\n" + "".join(f"  - &a{i} {{x: *a{i - 1}}}\n" if i else "  - &a0 {x: 1}\n"
                          for i in range(80)), 63, "nested more than 64 levels deep"),
])
def test_aliases_into_themselves_and_deep_nesting_are_refused(tmp_path: Path, text: str, line: int,
                                                              message: str) -> None:
    path = write(tmp_path, text)
    error = error_of(path)
    assert error.startswith(f"{path}:{line}: {message}"), error


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(limits.MAX_FILE_BYTES + 1)  # sparse: no disk used, and it is never read
    assert error_of(path).startswith(f"{path}: the file is {limits.MAX_FILE_BYTES + 1:,} bytes")


def test_a_5000_row_data_entry_macro_still_loads(tmp_path: Path) -> None:
    rows = "\n".join(f"        - {{name: Person {i}, email: p{i}@example.com, phone: '555-{i:04d}'}}"
                     for i in range(5000))
    path = write(tmp_path, f"""\
steps:
  - repeat:
      for: row
      in:
{rows}
      steps:
        - click: {{text: Name, offset: [180, 0]}}
        - type: "{{row_name}}"
        - hotkey: tab
        - type: "{{row_email}}, {{row_phone}}"
        - click: Save
""")
    steps = unroll(load(path))
    assert len(steps) == 25_000
    assert steps[-2].describe() == "type 'p4999@example.com, 555-4999'"


# -- values too long for the step they fill --------------------------------------------------

BIG = "A" * (1 << 20)


def test_a_1_mb_variable_in_a_type_step_is_one_short_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, f"vars:\n  x: {BIG}\nsteps:\n  - click: Name\n  - type: 'say {{x}}'\n")
    proc = tracer_bounded("run", str(path), "--dry-run")
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr.count("\n") == 1 and len(proc.stderr) < 400, proc.stderr[:500]
    assert f"{path}:5: once its variables are filled in, type: String should have at most 20000 " \
           "characters" in proc.stderr
    assert "(1,048,580 characters)" in proc.stderr  # the length, not the value


def test_a_30_kb_var_from_the_command_line_is_one_short_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "vars:\n  name: Ada\nsteps:\n  - type: '{name}'\n")
    proc = tracer_bounded("run", str(path), "--dry-run", "--var", "name=" + "B" * 30_000)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr.count("\n") == 1 and len(proc.stderr) < 400, proc.stderr[:500]
    assert f"{path}:4: once its variables are filled in, type:" in proc.stderr
    assert "(30,000 characters)" in proc.stderr


@pytest.mark.parametrize("text", [
    f"- type: {BIG}\n",  # too long as written
    f"- {BIG}: x\n",  # an unknown step
    f"- hotkey: {BIG}\n",  # an unknown key
    f"- wait: {BIG}\n",  # not a number
    f"vars: {{{BIG}: 1}}\nsteps: [{{type: x}}]\n",  # a bad variable name
    f"- type: '{{{BIG}}}'\n",  # an unknown variable
    f"- click: {{image: {BIG}.png}}\n",  # a missing image
    f"- !{BIG} x\n",  # an unknown tag
])
def test_no_error_quotes_a_value_in_full(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    error = error_of(path)
    assert len(error) < 500, error[:600]
