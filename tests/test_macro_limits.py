"""Hostile macro files: nested aliases that stand for 10^18 steps, aliases inside their own
anchor, nesting past any real macro, include fan-outs, huge values from variables. Each is
refused in one line (file:line, which limit) before it can eat the machine, and no error quotes
a value in full; a real data-entry macro still loads. And random bytes, aliased YAML and nested
data never take more than a second or 64 MB, nor raise anything but a one-line error."""

from __future__ import annotations

import gc
import json
import resource
import string
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.fakes import examples
from tracer_cli.errors import ConfigError
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


# -- any input: bounded time and memory, one-line errors only ----------------------------------

KEYS = st.sampled_from(["steps", "repeat", "for", "in", "type", "click", "include", "vars",
                        "secrets", "name", "wait", "hotkey", "text", "point", "x", "<<"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(string.printable, max_size=20), st.just("{v}"), st.just("{{x}}"))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=5), max_leaves=30)


@st.composite
def aliased_yaml(draw: st.DrawFn) -> str:
    """Flow YAML whose nodes anchor themselves and alias earlier ones (mostly complete ones,
    sometimes one still open: an alias inside its own anchor), around repeat blocks: billion
    laughs and its cousins."""
    done: list[str] = []  # anchors of complete nodes
    opened: list[str] = []  # anchors of nodes being written
    wild = draw(st.booleans())  # any YAML, or only steps and repeats (which load, or hit a limit)

    def node(depth: int) -> str:
        if not wild:
            kinds = ["alias", "repeat", "step"] if depth < 6 else ["alias", "step"]
        else:
            kinds = ["scalar", "alias", "list", "map", "repeat", "step"] if depth < 6 else ["scalar", "alias"]
        kind = draw(st.sampled_from(kinds))
        if kind == "alias" and (done or opened):
            pool = done if done and draw(st.integers(0, 9)) else done + opened
            return "*" + draw(st.sampled_from(pool))
        name = f"a{len(done) + len(opened)}" if draw(st.booleans()) else ""
        if name:
            opened.append(name)
        anchor = f"&{name} " if name else ""
        if kind == "list":
            text = "[" + ", ".join(node(depth + 1) for _ in range(draw(st.integers(0, 4)))) + "]"
        elif kind == "map":
            keys = draw(st.lists(KEYS, max_size=4, unique=True))
            text = "{" + ", ".join(f"{k}: {node(depth + 1)}" for k in keys) + "}"
        elif kind == "repeat":
            values = ", ".join(map(str, range(draw(st.integers(1, 10)))))
            steps = ", ".join(node(depth + 1) for _ in range(draw(st.integers(1, 6))))
            text = f"{{repeat: {{for: v, in: [{values}], steps: [{steps}]}}}}"
        elif kind == "step":
            text = draw(st.sampled_from(["{type: '{v}'}", "{hotkey: tab}", "{click: [1, 2]}",
                                         "{wait: 0}", "{type: x}"]))
        else:
            text = json.dumps(draw(SCALARS))
        if name:
            opened.remove(name)
            done.append(name)
        return anchor + text

    steps = [node(0) for _ in range(draw(st.integers(1, 8)))]
    return "steps:\n" + "".join(f"  - {s}\n" for s in steps)


def load_within_bounds(path: Path) -> None:
    """load and unroll ``path`` within bounds (in CPU time: the machine may be shared): loading
    under a second, unrolling under a second
    plus 50 us a step made (at most limits.MAX_STEPS: 18 us each here), 64 MB at the peak
    (traced in a second pass: tracemalloc slows Python down 4 times); only a one-line MacroError
    (or ConfigError) may come out."""
    def once() -> tuple[float, float, int]:
        started = time.process_time()
        try:
            macro = load(path)
        except ConfigError as exc:  # MacroError is one
            assert "\n" not in str(exc) and len(str(exc)) < 1000, str(exc)[:300]
            return time.process_time() - started, 0.0, 0
        loaded = time.process_time()
        try:
            steps = len(unroll(macro, environ={}))
        except ConfigError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 1000, str(exc)[:300]
            steps = 0
        return loaded - started, time.process_time() - loaded, steps

    gc.collect()  # (not a collection of what earlier examples left, timed as this one's)
    load_seconds, unroll_seconds, steps = once()
    assert load_seconds < 1.0, f"load: {load_seconds:.2f} s"
    assert unroll_seconds < 1.0 + 50e-6 * steps, f"unroll: {unroll_seconds:.2f} s for {steps} steps"
    tracemalloc.start()
    try:
        once()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MB"


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=400).map(lambda b: ("bytes", b)),
                      aliased_yaml().map(lambda t: ("aliases", t)),
                      JSONISH.map(lambda d: ("json", d))))
def test_any_input_is_loaded_or_refused_in_bounded_time_and_memory(tmp_path: Path,
                                                                    data: tuple[str, object]) -> None:
    kind, value = data
    path = tmp_path / "any.yaml"
    if kind == "bytes":
        path.write_bytes(value)  # type: ignore[arg-type]
    elif kind == "aliases":
        path.write_text(value, encoding="utf-8")  # type: ignore[arg-type]
    else:
        path.write_text(json.dumps({"steps": value}) if not isinstance(value, dict) else json.dumps(value),
                        encoding="utf-8")
    load_within_bounds(path)
