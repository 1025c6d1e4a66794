"""Macro files: YAML lists of desktop steps, typed, validated, and traced back to their lines.

A file is either a list of steps or a mapping with ``steps`` (and optional ``name``,
``description``, ``vars`` and ``secrets``). Each step is a mapping with one action key
(``click: Save``) and optional ``monitor``, ``region`` and ``timeout``. Loading checks
everything that can be checked without a screen: unknown steps, wrong types, missing images,
unknown variables, include cycles. Every error names the file, the line and the fix.

``unroll`` turns a loaded macro into the flat list of steps a run executes, with variables
filled in (repeat and include expanded), so that a run can show what comes next.

Why one module of this size: it is the file format, every step type next to its checks and the
loader that traces an error to its line; split, a step's type and its checks would drift apart.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from tracer_cli import redact
from tracer_cli.errors import MacroError, cut, quote
from tracer_cli.macro import limits
from tracer_cli.plan import normalize_key, wheel_clicks

SCHEMA_FILE = Path(__file__).with_name("macro.schema.json")
DEFAULT_TIMEOUT = 5.0  # seconds a step looks for its text or image before it fails
VARIABLE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Pixel = Annotated[int, Field(ge=0, le=100_000)]
Point = tuple[Pixel, Pixel]


class ElementSpec(_Model):
    """An element of the accessibility tree, named exactly as the tree names it."""

    role: str = Field(min_length=1, max_length=100, description="its role as AT-SPI names it: "
                      "push button, menu item, check box, entry, link, ...")
    name: str = Field(min_length=1, max_length=300, description="its accessible name, matched "
                      "whole and exactly (case included): '+' never matches 'M+'")
    window: str | None = Field(None, min_length=1, max_length=300, description="the title of "
                               "its top-level window, matched exactly (default: any window)")

    def describe(self) -> str:
        where = f" in {self.window!r}" if self.window else ""
        return f"{self.role} {self.name!r}{where}"


class Target(_Model):
    """Where a pointer step goes: an element of the accessibility tree, visible text, a template
    image, or a point on the monitor. An element is looked for first (where the desktop has a
    tree), then the text or image beside it.

    With text or image, ``point`` (where it was when recorded) picks the nearest of several
    matches; ``nth`` (1 = first in reading order) picks one explicitly. ``offset`` moves the
    click from the centre of what was found, in pixels."""

    element: ElementSpec | None = Field(None, description="an element of the accessibility "
                                        "tree (role, name, optional window), tried first")
    text: str | None = Field(None, min_length=1, max_length=300,
                             description="text on the screen, found by OCR (case and small "
                             "OCR errors do not matter unless exact is true; one or two "
                             "characters must be a whole word of their own)")
    image: str | None = Field(None, min_length=1, description="a PNG file, relative to the "
                              "macro file, found on the screen")
    point: Point | None = Field(None, description="[x, y] in pixels of the monitor; alone: "
                                "click there; with text or image: prefer the match nearest it")
    nth: int | None = Field(None, ge=1, le=100, description="which match, in reading order")
    exact: bool = Field(False, description="text must match exactly, case included")
    confidence: float = Field(0.9, ge=0.5, le=1.0, description="how alike an image must be")
    offset: tuple[int, int] = Field((0, 0), description="[dx, dy] pixels from the centre found")

    @model_validator(mode="after")
    def _one_anchor(self) -> Target:
        if self.text is not None and self.image is not None:
            raise ValueError("give text or image, not both")
        if self.text is None and self.image is None and self.point is None and self.element is None:
            raise ValueError("give element, text, image or point")
        return self

    @property
    def anchored(self) -> bool:
        return self.text is not None or self.image is not None or self.element is not None

    def describe(self) -> str:
        if self.element is not None:
            what = f"element {self.element.describe()}"
        elif self.text is not None:
            what = f"text {self.text!r}"
        elif self.image is not None:
            what = f"image {self.image}"
        else:
            return "({},{})".format(*self.point)  # type: ignore[str-format]
        if self.nth:
            what += f" #{self.nth}"
        return what


def _target(value: Any) -> Any:
    """Short forms: ``click: Save`` is text, ``click: [120, 40]`` a point."""
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, list):
        return {"point": value}
    return value


class MacroStep(_Model):
    monitor: int | None = Field(None, ge=1, description="monitor to look in and act on "
                                "(1 = the primary; default: the run's --monitor)")
    region: tuple[Pixel, Pixel, Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = \
        Field(None, description="[left, top, width, height] in pixels of the monitor to look in")
    timeout: float | None = Field(None, ge=0, le=3600, description="seconds to look for the "
                                  f"target before failing (default {DEFAULT_TIMEOUT:g})")

    @property
    def action(self) -> str:
        return next(k for k in ACTION_KEYS if k in type(self).model_fields)

    def targets(self) -> list[Target]:
        return []


class ClickStep(MacroStep):
    click: Target

    _short = field_validator("click", mode="before")(lambda cls, v: _target(v))

    def targets(self) -> list[Target]:
        return [self.click]


class DoubleClickStep(MacroStep):
    double_click: Target

    _short = field_validator("double_click", mode="before")(lambda cls, v: _target(v))

    def targets(self) -> list[Target]:
        return [self.double_click]


class RightClickStep(MacroStep):
    right_click: Target

    _short = field_validator("right_click", mode="before")(lambda cls, v: _target(v))

    def targets(self) -> list[Target]:
        return [self.right_click]


class TypeStep(MacroStep):
    type: str = Field(min_length=1, max_length=20_000, description="text to type; {name} "
                      "inserts a variable or secret, {{ and }} are literal braces")

    @field_validator("type", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("type")
    @classmethod
    def _typable(cls, value: str) -> str:
        bad = sorted({c for c in value if (ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) < 160})
        if bad:
            raise ValueError("no keyboard types control characters "
                             f"({', '.join(repr(c) for c in bad)}); remove them")
        return value


class HotkeyStep(MacroStep):
    hotkey: list[str] = Field(min_length=1, max_length=5, description="keys pressed together: "
                              "'ctrl+s' or [ctrl, s]")

    @field_validator("hotkey", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [k for k in value.replace(" ", "").split("+") if k] or [value]
        return value

    @field_validator("hotkey")
    @classmethod
    def _known(cls, keys: list[str]) -> list[str]:
        return [normalize_key(k) for k in keys]


class ScrollSpec(_Model):
    dy: int = Field(ge=-100, le=100, description="wheel clicks: negative down, positive up")
    at: Target | None = Field(None, description="where to scroll (default: the middle of the "
                              "region or monitor)")

    _short = field_validator("at", mode="before")(lambda cls, v: _target(v))

    _nonzero = field_validator("dy")(lambda cls, dy: wheel_clicks(dy))


class ScrollStep(MacroStep):
    scroll: ScrollSpec

    @field_validator("scroll", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"dy": value} if isinstance(value, int) and not isinstance(value, bool) else value

    def targets(self) -> list[Target]:
        return [self.scroll.at] if self.scroll.at else []


class DragSpec(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: Target = Field(alias="from")
    end: Target = Field(alias="to")

    _short = field_validator("start", "end", mode="before")(lambda cls, v: _target(v))


class DragStep(MacroStep):
    drag: DragSpec

    def targets(self) -> list[Target]:
        return [self.drag.start, self.drag.end]


class WaitStep(MacroStep):
    wait: float = Field(ge=0, le=3600, description="seconds to wait")


class ElementCondition(ElementSpec):
    """An element to wait for or assert: its role and name (and window) as a click names it,
    and optionally a state it must be in and the text it must hold."""

    state: str | None = Field(None, min_length=1, max_length=40, description="a state it must "
                              "be in ('checked', 'expanded', 'selected', 'focused', 'sensitive', "
                              "...), or not be in: 'not checked'")
    text: str | None = Field(None, max_length=2000, description="the text it must hold (an "
                             "entry's content), exactly")

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str | None) -> str | None:
        from tracer_cli.desktop.elements import STATES

        if value is None:
            return None
        value = " ".join(value.split())
        name = value.removeprefix("not ")
        if name not in STATES:
            raise ValueError(f"unknown state {name!r}: use one of AT-SPI's, such as checked, "
                             "expanded, selected, focused, sensitive, editable")
        return value

    def describe(self) -> str:
        out = super().describe()
        if self.state:
            out += f" {self.state}"
        if self.text is not None:
            out += f" holding {self.text!r}"
        return out


class Condition(_Model):
    """An element of the accessibility tree, text or an image to look for, for wait_for and
    assert. With an element, a text or image beside it is looked for where the tree has no
    element of that role and name (a desktop or program without a tree)."""

    element: ElementCondition | None = Field(None, description="an element of the "
                                             "accessibility tree (role, name, optional window, "
                                             "state and text), tried first")
    text: str | None = Field(None, min_length=1, max_length=300)
    image: str | None = Field(None, min_length=1)
    exact: bool = False
    confidence: float = Field(0.9, ge=0.5, le=1.0)
    gone: bool = Field(False, description="wait until it is NOT on the screen / assert absent")
    message: str = Field("", max_length=500, description="what a failure says")

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if self.text is not None and self.image is not None:
            raise ValueError("give text or image, not both")
        if self.element is None and self.text is None and self.image is None:
            raise ValueError("give element, text or image")
        return self

    def as_target(self) -> Target:
        element = None if self.element is None else ElementSpec(
            role=self.element.role, name=self.element.name, window=self.element.window)
        return Target(element=element, text=self.text, image=self.image, exact=self.exact,
                      confidence=self.confidence)

    def describe(self) -> str:
        if self.element is not None:
            what = f"element {self.element.describe()}"
        else:
            what = f"text {self.text!r}" if self.text is not None else f"image {self.image}"
        return f"{what} gone" if self.gone else what


def _condition(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class WaitForStep(MacroStep):
    wait_for: Condition

    _short = field_validator("wait_for", mode="before")(lambda cls, v: _condition(v))


class AssertStep(MacroStep):
    assert_: Condition = Field(alias="assert")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _short = field_validator("assert_", mode="before")(lambda cls, v: _condition(v))


class DoSpec(_Model):
    task: str = Field(min_length=1, max_length=2000)
    max_steps: int = Field(10, ge=1, le=200, description="actions before the sub-task gives up")


class DoStep(MacroStep):
    do: DoSpec

    @field_validator("do", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"task": value} if isinstance(value, str) else value


Scalar = str | int | float | bool


class RepeatSpec(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    var: str = Field(alias="for", pattern=NAME, description="the variable each value is bound to")
    values: list[Scalar | dict[str, Scalar]] = Field(alias="in", min_length=1, max_length=10_000,
                                                     description="values; a mapping binds "
                                                     "{var_key} for each of its keys")
    steps: list[Any] = Field(min_length=1)


class RepeatStep(MacroStep):
    repeat: RepeatSpec


class IncludeSpec(_Model):
    file: str = Field(min_length=1)
    vars: dict[Annotated[str, Field(pattern=NAME)], Scalar] = Field(default_factory=dict)


class IncludeStep(MacroStep):
    include: IncludeSpec

    @field_validator("include", mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return {"file": value} if isinstance(value, str) else value


STEP_TYPES: dict[str, type[MacroStep]] = {
    "click": ClickStep, "double_click": DoubleClickStep, "right_click": RightClickStep,
    "type": TypeStep, "hotkey": HotkeyStep, "scroll": ScrollStep, "drag": DragStep,
    "wait": WaitStep, "wait_for": WaitForStep, "assert": AssertStep, "do": DoStep,
    "repeat": RepeatStep, "include": IncludeStep,
}
ACTION_KEYS = (*STEP_TYPES, "assert_")
COMMON_KEYS = ("monitor", "region", "timeout")
# Field names as pydantic reports them -> as the file spells them.
ALIASES = {"assert_": "assert", "start": "from", "end": "to", "var": "for", "values": "in"}


class MacroFile(_Model):
    """The top of a macro file (the schema's root)."""

    name: str = ""
    description: str = ""
    vars: dict[Annotated[str, Field(pattern=NAME)], Scalar] = Field(
        default_factory=dict, description="variables and their defaults (--var key=value overrides)")
    secrets: dict[Annotated[str, Field(pattern=NAME)], Annotated[str, Field(pattern=NAME)]] = Field(
        default_factory=dict, description="name: ENVIRONMENT_VARIABLE; the value is typed but "
        "never logged or shown")
    steps: list[Any] = Field(min_length=1)


# -- loaded form --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Where:
    file: Path
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Node:
    """One step as written, with where it came from and, for repeat/include, its body."""

    step: MacroStep
    where: Where
    body: list[Node] = field(default_factory=list)
    macro: Macro | None = None  # an include's macro


@dataclass
class Macro:
    path: Path
    name: str
    description: str
    vars: dict[str, str]
    secrets: dict[str, str]  # name -> environment variable
    steps: list[Node]


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fail(where: Where | Path, message: str, fix: str = "") -> MacroError:
    return MacroError(f"{where}: {message}", fix)


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """The line of the innermost YAML node a pydantic error location points into."""
    import yaml

    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _compose(path: Path, budget: limits.Budget) -> tuple[Any, Any]:
    """The file's data and its YAML node tree (for line numbers), read within the limits."""
    import yaml

    try:
        limits.check_size(path, path.stat().st_size)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MacroError(f"{path}: no such macro file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MacroError(f"{path}: cannot read it: {cut(str(exc), 200)}",
                         "give a UTF-8 YAML file") from None
    try:
        return limits.compose(text, path, budget)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise MacroError(f"{path}:{line}: YAML syntax error: {cut(problem, 200)}",
                         "check indentation, colons and quotes on that line") from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)  # (libyaml's: a code)
        raise MacroError(f"{path}:{line}: character {char!r} is not allowed in YAML",
                         "remove it (control characters must be written as escapes in quotes)") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MacroError(f"{path}: YAML error: {cut(first, 200)}", "fix the YAML") from None


def _validate(model: type[_Model], data: Any, node: Any, path: Path, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, message, fix = _explain(model, exc, what)
        raise _fail(Where(path, _line_of(node, loc)), message, fix) from None


def _explain(model: type[_Model], exc: ValidationError, what: str) -> tuple[tuple[Any, ...], str, str]:
    """pydantic's first error as (where in the data, the message, the fix); what it quotes
    of the data (a key, a value) is cut short."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(ALIASES.get(p, p) if isinstance(p, str) else p for p in error["loc"])
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{cut(str(p), 40)}" for p in loc).lstrip(".")
    message = cut(error["msg"].removeprefix("Value error, "), 200)
    got = error.get("input")
    if not isinstance(got, dict | list) and got is not None and error["type"] != "missing":
        message += f" (got {quote(got)})"
    return loc, f"{where or what}: {message}", _fix_for(model, error)


def _fix_for(model: type[_Model], error: Any) -> str:
    if error["type"] == "extra_forbidden" and len(error["loc"]) > 1 and error["loc"][-1] in COMMON_KEYS:
        key, action = error["loc"][-1], ALIASES.get(error["loc"][0], error["loc"][0])
        return f"{key} belongs to the step: write it on its own line beside {action}:, not inside it"
    if error["type"] == "extra_forbidden":
        allowed = [n for n, f in model.model_fields.items() if n not in ACTION_KEYS]
        allowed = [model.model_fields[n].alias or n for n in allowed]
        return "allowed here: " + ", ".join(allowed) if allowed else "remove it"
    return "see `tracer run --help` and the README's macro reference"


def _step(item: Any, node: Any, path: Path, index: int) -> MacroStep:
    where = Where(path, node.start_mark.line + 1)
    if not isinstance(item, dict):
        raise _fail(where, f"step {index} is {type(item).__name__ if item is not None else 'empty'}, "
                    "not a mapping", "write steps as '- click: Save' (one action key per step)")
    actions = [k for k in item if k in STEP_TYPES]
    unknown = [k for k in item if k not in STEP_TYPES and k not in COMMON_KEYS]
    if unknown and not actions:
        raise _fail(where, f"unknown step {quote(unknown[0])}",
                    "use one of: " + ", ".join(STEP_TYPES))
    if len(actions) != 1:
        found = ", ".join(actions) or "none"
        raise _fail(where, f"a step needs exactly one action (found: {found})",
                    "split it into one step per action")
    action = actions[0]
    return _validate(STEP_TYPES[action], item, node, path, action)


def _nodes(items: list[Any], nodes: Any, path: Path, stack: tuple[Path, ...],
           budget: limits.Budget, shared: dict[int, Node]) -> list[Node]:
    """The steps as loaded. A step an alias repeats is loaded once (``shared``: by its YAML
    node) and shared, so the tree costs what the file is, not what it stands for."""
    out = []
    for index, (item, node) in enumerate(zip(items, nodes.value, strict=True), 1):
        if id(node) in shared:
            out.append(shared[id(node)])
            continue
        step = _step(item, node, path, index)
        loaded = Node(step, Where(path, node.start_mark.line + 1))
        if isinstance(step, RepeatStep):
            body_node = _child(node, "repeat", "steps")
            loaded.body = _nodes(step.repeat.steps, body_node, path, stack, budget, shared)
        elif isinstance(step, IncludeStep):
            loaded.macro = load(_relative(path, step.include.file, loaded.where, "include"), stack,
                                budget)
        for target in step.targets() + _conditions(step):
            if target.image is not None:
                _relative(path, target.image, loaded.where, "image")
        shared[id(node)] = loaded
        out.append(loaded)
    return out


def _conditions(step: MacroStep) -> list[Target]:
    if isinstance(step, WaitForStep):
        return [step.wait_for.as_target()]
    if isinstance(step, AssertStep):
        return [step.assert_.as_target()]
    return []


def _child(node: Any, *keys: str) -> Any:
    for key in keys:
        node = next(v for k, v in node.value if k.value == key)
    return node


def _relative(path: Path, name: str, where: Where, what: str) -> Path:
    """A file named in a macro, relative to the macro's folder; it must exist."""
    try:
        target = (path.parent / os.path.expanduser(name)).resolve()
        found = target.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL
        target, found = path.parent / name, False
    if not found:
        raise _fail(where, f"{what} file {quote(name)} not found (looked for {cut(str(target), 200)})",
                    "put it next to the macro or fix the path")
    return target


def load(path: Path | str, stack: tuple[Path, ...] = (), budget: limits.Budget | None = None) -> Macro:
    """Read and check a macro file (and the files it includes, each read once), within the
    limits (limits.py)."""
    path = Path(path).resolve()
    if path in stack:
        chain = " -> ".join(p.name for p in (*stack, path))
        raise MacroError(f"{stack[-1]}: include cycle: {chain}", "remove one of the includes")
    budget = budget or limits.Budget()
    if path in budget.loaded:
        return budget.loaded[path]
    data, node = _compose(path, budget)
    if data is None:
        raise MacroError(f"{path}: the file is empty", "add a list of steps (see examples/macros/)")
    if isinstance(data, list):
        data = {"steps": data}
        node_steps = node
        top_node = None
    elif isinstance(data, dict):
        top_node = node
        node_steps = next((v for k, v in node.value if k.value == "steps"), None)
    else:
        raise MacroError(f"{path}:1: a macro is a list of steps or a mapping with steps:",
                         "see examples/macros/")
    top = _validate(MacroFile, data, top_node or node, path, "macro")
    if not hasattr(node_steps, "value") or not isinstance(top.steps, list):
        raise MacroError(f"{path}: steps must be a list", "write each step as '- action: ...'")
    steps = _nodes(top.steps, node_steps, path, (*stack, path), budget, {})
    macro = Macro(path, top.name or path.stem, top.description,
                  {k: _str(v) for k, v in top.vars.items()}, dict(top.secrets), steps)
    _check_names(macro)
    count_steps(macro.steps)
    budget.loaded[path] = macro
    return macro


def count_steps(nodes: list[Node], memo: dict[int, int] | None = None) -> int:
    """How many steps ``nodes`` unroll to, by arithmetic: nothing is unrolled to count them.
    Past limits.MAX_STEPS it is refused at the step that goes over."""
    memo = {} if memo is None else memo  # a repeat's or an included macro's count, by id
    total = 0
    for node in nodes:
        step = node.step
        if isinstance(step, RepeatStep):
            if id(node) not in memo:  # (a shared step: counted once)
                memo[id(node)] = len(step.repeat.values) * count_steps(node.body, memo)
            steps = memo[id(node)]
        elif isinstance(step, IncludeStep) and node.macro is not None:
            if id(node.macro) not in memo:
                memo[id(node.macro)] = count_steps(node.macro.steps, memo)
            steps = memo[id(node.macro)]
        else:
            steps = 1
        total += steps
        if steps > limits.MAX_STEPS:
            raise _fail(node.where, f"this {step.action} unrolls to {_amount(steps)} steps, over "
                        f"the limit of {limits.MAX_STEPS:,}", limits.STEPS_HELP)
        if total > limits.MAX_STEPS:
            raise _fail(node.where, f"the steps up to here unroll to {_amount(total)} steps, over "
                        f"the limit of {limits.MAX_STEPS:,}", limits.STEPS_HELP)
    return total


def _amount(n: int) -> str:
    digits = len(str(n)) if n < 10 ** 4000 else 4000  # (str() of a longer int is refused)
    return f"{n:,}" if digits <= 15 else f"about 10^{digits - 1}"


def _check_names(macro: Macro) -> None:
    """Every {name} used is a variable or secret of this macro (or a repeat's), and secrets
    go only into type steps: never into what is searched for or sent to a model."""
    known = set(macro.vars) | set(macro.secrets)
    seen: set[tuple[int, frozenset[str]]] = set()  # a shared step is checked once per scope

    def visit(nodes: list[Node], scope: set[str]) -> None:
        for node in nodes:
            if (id(node), frozenset(scope)) in seen:
                continue
            seen.add((id(node), frozenset(scope)))
            for name, text, typed in _texts(node.step):
                for used in _names(text):
                    if used not in scope:
                        raise _fail(node.where, f"unknown variable {{{cut(used, 40)}}} in {name}",
                                    f"define it under vars: or pass --var {cut(used, 40)}=VALUE")
                    if used in macro.secrets and not typed:
                        raise _fail(node.where, f"secret {{{used}}} used in {name}",
                                    "secrets can only be typed (type: steps)")
            if isinstance(node.step, RepeatStep):
                spec = node.step.repeat
                keys = {f"{spec.var}_{k}" for v in spec.values if isinstance(v, dict) for k in v}
                visit(node.body, scope | {spec.var} | keys)

    visit(macro.steps, known)


def _texts(step: MacroStep) -> list[tuple[str, str, bool]]:
    """(field, text, typed) for every field of a step where {variables} are filled in."""
    out = [(f"{step.action}.text", t.text, False) for t in step.targets() + _conditions(step)
           if t.text is not None]
    if isinstance(step, TypeStep):
        out.append(("type", step.type, True))
    if isinstance(step, DoStep):
        out.append(("do", step.do.task, False))
    return out


def _names(text: str) -> list[str]:
    return [m.group(1) for m in VARIABLE.finditer(text) if m.group(1)]


# -- unrolled form: what a run executes ----------------------------------------------------------

@dataclass(frozen=True)
class Instance:
    """One step to execute, with its variables filled in.

    ``secret_text``: what a type step really types (secrets included); ``step`` shows secrets as
    ``{name}`` and is what is displayed and logged."""

    step: MacroStep
    where: Where
    base: Path  # the folder images are relative to
    secret_text: str | None = None

    def describe(self) -> str:
        return describe(self.step)

    @property
    def is_terminal(self) -> bool:
        return False


def substitute(text: str, values: dict[str, str], keep: frozenset[str] = frozenset()) -> str:
    """Fill in {name}; names in ``keep`` stay as written; {{ and }} become braces."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        if name in keep:
            return match.group(0)
        return values[name]

    return VARIABLE.sub(one, text)


def _fill(step: MacroStep, values: dict[str, str], secrets: frozenset[str], where: Where) -> MacroStep:
    """The step with its variables filled in, checked again: a value can make a text too long."""
    if not any("{" in text or "}" in text for _, text, _ in _texts(step)):
        return step  # nothing to fill in (most steps of a long macro)
    data = step.model_dump(by_alias=True, exclude_none=True)

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str) and key in ("text", "type", "task"):
            return substitute(value, values, secrets)
        return value

    try:
        return type(step).model_validate(walk(data))
    except ValidationError as exc:
        _, message, _ = _explain(type(step), exc, step.action)
        raise _fail(where, f"once its variables are filled in, {message}",
                    "give the variable a shorter value (vars: or --var)") from None


def unroll(macro: Macro, overrides: dict[str, str] | None = None,
           environ: dict[str, str] | None = None) -> list[Instance]:
    """The flat list of steps to run. ``overrides``: --var values; secrets come from
    ``environ`` (os.environ by default)."""
    environ = dict(os.environ) if environ is None else environ
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(macro.vars))
    if unknown:
        raise MacroError(f"{macro.path}: --var {cut(unknown[0], 40)} is not a variable of this macro",
                         "its variables: " + cut(", ".join(macro.vars) or "none", 200))
    return _unroll(macro, {**macro.vars, **overrides}, environ)


def _unroll(macro: Macro, values: dict[str, str], environ: dict[str, str]) -> list[Instance]:
    secrets: dict[str, str] = {}
    for name, env in macro.secrets.items():
        if env not in environ:
            raise MacroError(f"{macro.path}: secret {name!r} needs the environment variable {env}",
                             f"set it: export {env}=...")
        secrets[name] = environ[env]
        redact.register(name, secrets[name])  # from now on it never leaves the process
    keep = frozenset(secrets)
    out: list[Instance] = []

    def walk(nodes: list[Node], scope: dict[str, str]) -> None:
        for node in nodes:
            step = node.step
            if isinstance(step, RepeatStep):
                for value in step.repeat.values:
                    inner = dict(scope)
                    if isinstance(value, dict):
                        inner.update({f"{step.repeat.var}_{k}": _str(v) for k, v in value.items()})
                    inner[step.repeat.var] = _str(value) if not isinstance(value, dict) else \
                        json.dumps(value, ensure_ascii=False)
                    walk(node.body, inner)
                continue
            if isinstance(step, IncludeStep):
                assert node.macro is not None
                sub = {**node.macro.vars,
                       **{k: substitute(_str(v), scope, keep) for k, v in step.include.vars.items()}}
                out.extend(_unroll(node.macro, sub, environ))
                continue
            _check_bound(node, scope, keep)
            shown = _fill(step, scope, keep, node.where)
            typed = None
            if isinstance(step, TypeStep) and keep & set(_names(step.type)):
                typed = substitute(step.type, {**scope, **secrets})
            out.append(Instance(shown, node.where, macro.path.parent, typed))

    walk(macro.steps, values)
    return out


def _check_bound(node: Node, scope: dict[str, str], secrets: frozenset[str]) -> None:
    for name, text, _typed in _texts(node.step):
        for used in _names(text):
            if used not in scope and used not in secrets:
                raise _fail(node.where, f"variable {{{cut(used, 40)}}} in {name} has no value here",
                            f"pass --var {cut(used, 40)}=VALUE")


def typed_text(instance: Instance) -> str:
    """What a type step really types (its shown text, unless it holds secrets)."""
    assert isinstance(instance.step, TypeStep)
    return instance.secret_text if instance.secret_text is not None else instance.step.type


def describe(step: MacroStep) -> str:
    match step:
        case ClickStep() | DoubleClickStep() | RightClickStep():
            return f"{step.action} {step.targets()[0].describe()}"
        case TypeStep():
            shown = step.type if len(step.type) <= 60 else step.type[:57] + "..."
            return f"type {shown!r}"
        case HotkeyStep():
            return "hotkey " + "+".join(step.hotkey)
        case ScrollStep():
            where = f" at {step.scroll.at.describe()}" if step.scroll.at else ""
            return f"scroll dy={step.scroll.dy}{where}"
        case DragStep():
            return f"drag {step.drag.start.describe()} -> {step.drag.end.describe()}"
        case WaitStep():
            return f"wait {step.wait:g}s"
        case WaitForStep():
            return f"wait_for {step.wait_for.describe()}"
        case AssertStep():
            return f"assert {step.assert_.describe()}"
        case DoStep():
            return f"do {step.do.task!r}"
    return step.action


# -- the JSON schema shipped with the package -----------------------------------------------------

def json_schema() -> dict[str, Any]:
    """The JSON schema of a macro file (for editors: yaml-language-server and the like)."""
    steps = TypeAdapter(Annotated[ClickStep | DoubleClickStep | RightClickStep | TypeStep
                                  | HotkeyStep | ScrollStep | DragStep | WaitStep | WaitForStep
                                  | AssertStep | DoStep | RepeatStep | IncludeStep,
                                  Field()]).json_schema(by_alias=True, mode="validation")
    root = MacroFile.model_json_schema(by_alias=True, mode="validation")
    defs = {**steps.pop("$defs", {}), **root.pop("$defs", {})}
    step_ref = {"$ref": "#/$defs/Step"}
    defs["Step"] = steps
    _relax_short_forms(defs)
    for name in ("RepeatSpec",):
        defs[name]["properties"]["steps"] = {"type": "array", "items": step_ref, "minItems": 1}
    root["properties"]["steps"] = {"type": "array", "items": step_ref, "minItems": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tracer macro",
        "description": "A tracer macro file: a list of steps, or a mapping with steps.",
        "anyOf": [root, {"type": "array", "items": step_ref, "minItems": 1}],
        "$defs": defs,
    }


def _relax_short_forms(defs: dict[str, Any]) -> None:
    """The schema of the short forms the loader accepts (click: Save, wait_for: Saved, ...)."""
    target_short = [{"$ref": "#/$defs/Target"}, {"type": "string", "minLength": 1},
                    {"type": "array", "items": {"type": "integer", "minimum": 0},
                     "minItems": 2, "maxItems": 2}]
    for name, key in (("ClickStep", "click"), ("DoubleClickStep", "double_click"),
                      ("RightClickStep", "right_click")):
        defs[name]["properties"][key] = {"anyOf": target_short}
    for name, key in (("DragSpec", "from"), ("DragSpec", "to")):
        defs[name]["properties"][key] = {"anyOf": target_short}
    defs["ScrollSpec"]["properties"]["at"] = {"anyOf": [*target_short, {"type": "null"}]}
    defs["ScrollStep"]["properties"]["scroll"] = {"anyOf": [{"$ref": "#/$defs/ScrollSpec"},
                                                            {"type": "integer"}]}
    condition = {"anyOf": [{"$ref": "#/$defs/Condition"}, {"type": "string", "minLength": 1}]}
    defs["WaitForStep"]["properties"]["wait_for"] = condition
    defs["AssertStep"]["properties"]["assert"] = condition
    defs["DoStep"]["properties"]["do"] = {"anyOf": [{"$ref": "#/$defs/DoSpec"},
                                                    {"type": "string", "minLength": 1}]}
    defs["IncludeStep"]["properties"]["include"] = {"anyOf": [{"$ref": "#/$defs/IncludeSpec"},
                                                              {"type": "string", "minLength": 1}]}
    defs["HotkeyStep"]["properties"]["hotkey"] = {"anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}]}
    defs["TypeStep"]["properties"]["type"] = {"anyOf": [{"type": "string", "minLength": 1},
                                                        {"type": "number"}]}


def write_schema(path: Path = SCHEMA_FILE) -> None:
    path.write_text(json.dumps(json_schema(), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":  # python -m tracer_cli.macro.load: regenerate the shipped schema
    write_schema()
