"""Macro files: loading, the errors bad files give (file, line, fix), variables and secrets,
repeat and include, the shipped JSON schema, and random files that must never crash the loader."""

from __future__ import annotations

import json
import string
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import examples
from tracer_cli.macro import load as macro
from tracer_cli.macro.load import MacroError, load, unroll

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "macros"


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(MacroError) as info:
        load(path)
    return str(info.value)


def test_every_step_type_loads_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "save.png").write_bytes(b"")  # only existence is checked at load time
    path = write(tmp_path, """\
name: all steps
vars:
  who: Ada
steps:
  - click: Name
  - double_click: {text: File, nth: 2}
  - right_click: [10, 20]
  - click: {image: save.png, confidence: 0.8, point: [5, 6], offset: [1, -1]}
  - type: "{who}"
  - hotkey: ctrl+s
  - hotkey: [alt, F4]
  - scroll: -3
  - scroll: {dy: 2, at: List}
  - drag: {from: [1, 2], to: {text: Trash}}
  - wait: 0.5
  - wait_for: Saved
    timeout: 3
  - wait_for: {text: Saving, gone: true}
  - assert: {image: save.png, message: the toolbar is missing}
  - do: dismiss any cookie banner
  - do: {task: close the dialog, max_steps: 3}
    monitor: 2
    region: [0, 0, 400, 300]
""")
    loaded = load(path)
    assert loaded.name == "all steps"
    lines = [node.where.line for node in loaded.steps]
    assert lines == [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21]
    steps = [node.step for node in loaded.steps]
    assert steps[0].click.text == "Name"
    assert steps[2].right_click.point == (10, 20)
    assert steps[5].hotkey == ["ctrl", "s"] and steps[6].hotkey == ["alt", "f4"]
    assert steps[7].scroll.dy == -3 and steps[8].scroll.at.text == "List"
    assert steps[9].drag.start.point == (1, 2) and steps[9].drag.end.text == "Trash"
    assert steps[11].timeout == 3 and steps[12].wait_for.gone
    assert steps[15].do.max_steps == 3 and steps[15].monitor == 2
    assert steps[15].region == (0, 0, 400, 300)
    described = [i.describe() for i in unroll(loaded)]
    assert described[0] == "click text 'Name'" and described[4] == "type 'Ada'"


@pytest.mark.parametrize(("text", "line", "message", "fix"), [
    ("- click: Name\n- clack: Save\n", 2, "unknown step 'clack'", "use one of: click"),
    ("- click: Name\n- wait: soon\n", 2, "wait: Input should be a valid number", ""),
    ("- click: {image: nothere.png}\n", 1, "image file 'nothere.png' not found", "next to the macro"),
    ("- click: Name\n  - type: x\n", 2, "YAML syntax error", "indentation"),
    ("- click: {text: A, colour: red}\n", 1, "click.colour: Extra inputs are not permitted",
     "allowed here"),
    ("- wait_for: {text: A, timeout: 3}\n", 1, "wait_for.timeout: Extra inputs", "belongs to the step"),
    ("- type: '{nope}'\n", 1, "unknown variable {nope}", "--var nope=VALUE"),
    ("- hotkey: ctrl+foo\n", 1, "unknown key 'foo'", ""),
    ("- click: Name\n  type: x\n", 1, "exactly one action (found: click, type)", "one step per action"),
    ("steps:\n  - repeat:\n      for: r\n      in: [1]\n      steps:\n        - click: {nth: 0, text: a}\n",
     6, "click.nth: Input should be greater than or equal to 1", ""),
    ("name: x\n", 1, "steps: Field required", ""),
    ("- 42\n", 1, "step 1 is int, not a mapping", "one action key"),
    ("", 0, "the file is empty", "list of steps"),
    ("- click: {text: A, image: b.png}\n", 1, "give text or image, not both", ""),
    ("- type: true\n", 1, "type: Input should be a valid string", ""),
    ("- scroll: 0\n", 1, "dy must not be 0", ""),
    ("secrets: {pw: PW}\nsteps:\n  - click: '{pw}'\n", 3, "secret {pw} used in click.text",
     "only be typed"),
    ("secrets: {pw: PW}\nsteps:\n  - do: 'log in with {pw}'\n", 3, "secret {pw} used in do", ""),
    ("- include: other.yaml\n", 1, "include file 'other.yaml' not found", ""),
])
def test_bad_files_name_file_line_and_fix(tmp_path: Path, text: str, line: int, message: str,
                                          fix: str) -> None:
    path = write(tmp_path, text)
    error = error_of(path)
    assert error.startswith(f"{path}:{line}: " if line else f"{path}: "), error
    assert message in error
    assert fix in error
    assert "\n" not in error


def test_include_cycle_and_include_vars(tmp_path: Path) -> None:
    write(tmp_path, "- include: b.yaml\n", "a.yaml")
    write(tmp_path, "- include: a.yaml\n", "b.yaml")
    assert "include cycle: a.yaml -> b.yaml -> a.yaml" in error_of(tmp_path / "a.yaml")

    write(tmp_path, "vars: {who: nobody}\nsteps:\n  - type: 'hello {who}'\n", "greet.yaml")
    main = write(tmp_path, "vars: {name: Ada}\nsteps:\n  - include: greet.yaml\n"
                 "  - include: {file: greet.yaml, vars: {who: '{name}'}}\n")
    texts = [i.step.type for i in unroll(load(main))]
    assert texts == ["hello nobody", "hello Ada"]
    where = [i.where for i in unroll(load(main))]
    assert where[0].file.name == "greet.yaml" and where[0].line == 3


def test_repeat_binds_values_and_mapping_keys(tmp_path: Path) -> None:
    path = write(tmp_path, """\
steps:
  - repeat:
      for: row
      in: [{name: Ada, age: 36}, {name: Alan, age: 41}]
      steps:
        - type: "{row_name} is {row_age}"
        - hotkey: enter
  - repeat: {for: x, in: [a, b, c], steps: [{type: "{x}"}]}
""")
    steps = unroll(load(path))
    assert [s.describe() for s in steps] == [
        "type 'Ada is 36'", "hotkey enter", "type 'Alan is 41'", "hotkey enter",
        "type 'a'", "type 'b'", "type 'c'"]
    assert all(s.where.line == 6 for s in steps[0:3:2])
    bad = write(tmp_path, "- repeat: {for: x, in: [a], steps: [{type: '{y}'}]}\n", "bad.yaml")
    assert "unknown variable {y}" in error_of(bad)


def test_variables_overrides_and_braces(tmp_path: Path) -> None:
    path = write(tmp_path, "vars: {who: Ada}\nsteps:\n  - type: '{who} {{literal}}'\n"
                 "  - click: 'Hello {who}'\n")
    loaded = load(path)
    assert [s.describe() for s in unroll(loaded)] == ["type 'Ada {literal}'", "click text 'Hello Ada'"]
    assert unroll(loaded, {"who": "Alan"})[1].step.click.text == "Hello Alan"
    with pytest.raises(MacroError, match="--var nobody is not a variable of this macro"):
        unroll(loaded, {"nobody": "x"})


def test_secrets_are_typed_but_never_shown(tmp_path: Path) -> None:
    path = write(tmp_path, "secrets: {pw: APP_PASSWORD}\nvars: {user: ada}\nsteps:\n"
                 "  - type: '{user}:{pw}'\n")
    loaded = load(path)
    with pytest.raises(MacroError, match="needs the environment variable APP_PASSWORD"):
        unroll(loaded, environ={})
    [step] = unroll(loaded, environ={"APP_PASSWORD": "hunter2"})
    assert macro.typed_text(step) == "ada:hunter2"
    assert "hunter2" not in step.describe()
    assert "hunter2" not in json.dumps(step.step.model_dump(mode="json", by_alias=True))
    assert step.describe() == "type 'ada:{pw}'"


def test_shipped_schema_is_current() -> None:
    shipped = json.loads(macro.SCHEMA_FILE.read_text(encoding="utf-8"))
    assert shipped == macro.json_schema(), "regenerate it: python -m tracer_cli.macro.load"


def test_schema_accepts_the_examples_and_rejects_bad_steps() -> None:
    schema = macro.json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted(EXAMPLES.glob("*.yaml"))
    assert len(examples) >= 5
    for path in examples:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(data))
        assert not errors, f"{path.name}: {errors[0].message}"
        load(path)  # and the loader agrees
    assert list(validator.iter_errors([{"clack": "x"}]))
    assert list(validator.iter_errors([{"click": {"text": "a", "colour": 1}}]))
    assert list(validator.iter_errors({"steps": [{"wait": "soon"}]}))


KEYS = st.sampled_from(["click", "type", "hotkey", "wait", "wait_for", "assert", "scroll", "drag",
                        "do", "repeat", "include", "monitor", "region", "timeout", "text", "nth"])
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                 st.text(string.printable, max_size=12))
VALUE = st.recursive(LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(KEYS, inner, max_size=3)),
                     max_leaves=12)


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.lists(st.dictionaries(KEYS, VALUE, max_size=3), max_size=4), VALUE))
def test_random_files_load_or_fail_with_one_line(tmp_path: Path, data: object) -> None:
    path = write(tmp_path, yaml.safe_dump(data))
    try:
        loaded = load(path)
    except MacroError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        return
    try:
        unroll(loaded, environ={})
    except MacroError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=examples(200), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(string.printable, max_size=200))
def test_random_text_loads_or_fails_with_one_line(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    try:
        load(path)
    except MacroError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


def test_conditions_name_elements_with_a_state_or_text(tmp_path: Path) -> None:
    path = write(tmp_path, """\
- wait_for: {element: {role: text, name: Display, text: "12"}}
- assert: {element: {role: check box, name: Agree, window: form, state: not checked}, text: Agree}
""")
    steps = unroll(load(path))
    assert [s.describe() for s in steps] == [
        "wait_for element text 'Display' holding '12'",
        "assert element check box 'Agree' in 'form' not checked"]
    schema = jsonschema.Draft202012Validator(macro.json_schema())
    assert not list(schema.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    bad = write(tmp_path, "- assert: {element: {role: check box, name: Agree, state: ticked}}\n", "b.yaml")
    assert "unknown state 'ticked'" in error_of(bad) and "b.yaml:1" in error_of(bad)
    both = write(tmp_path, "- wait_for: {element: {role: link, name: Go}, text: Go, image: go.png}\n",
                 "c.yaml")
    assert "give text or image, not both" in error_of(both)
