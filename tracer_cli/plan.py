"""The plan contract: what a planner must answer, typed, validated and described.

A plan is ``{"thought": "...", "trajectory": [STEP, ...]}`` with 1..K steps. Points are numbers
0..1000 relative to the width and height of the screenshot the model was shown (integers in the
prompt; fractions kept when a profile converts a family's absolute pixels, so no precision is lost).

Fields a model adds that only describe a step (a drag's ``target``, a ``description``, a
``confidence``) are accepted and kept in the step's ``notes``; a field the contract does not know
is refused with the reason, since tracer cannot tell what it would change.

Why one module of this size: the contract every part speaks; each step type with its validation.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from tracer_cli.errors import PlanError, quote

COORD_MAX = 1000
# Integers in the schema that prompts and grammars teach; fractions accepted as well.
Coord = Annotated[int | float, Field(ge=0, le=COORD_MAX, allow_inf_nan=False),
                  WithJsonSchema({"type": "integer", "minimum": 0, "maximum": COORD_MAX})]

# Field names that describe a step (or a plan) without changing what it does. A model that adds
# one is not wrong; its value is kept in ``notes`` for the run record.
DESCRIPTIVE = frozenset({
    "target", "description", "desc", "element", "label", "confidence", "reason", "reasoning",
    "note", "comment", "explanation", "why", "purpose", "intent", "goal", "expected",
    "expectation", "expected_result", "thought", "thoughts", "observation", "summary", "id",
    "step", "analysis",
})
NOTE_LIMIT = 300


def _note(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= NOTE_LIMIT else text[:NOTE_LIMIT - 3] + "..."


def _collect_notes(fields: Any, data: Any) -> Any:
    """Move the descriptive fields a model added (those the model class lacks) into ``notes``."""
    if not isinstance(data, dict):
        return data
    extra = {k: v for k, v in data.items() if k not in fields and k in DESCRIPTIVE}
    given = data.get("notes")
    if not extra and (given is None or isinstance(given, dict)):
        return data
    notes = dict(given) if isinstance(given, dict) else ({} if given is None else {"notes": given})
    notes.update(extra)
    rest = {k: v for k, v in data.items() if k not in extra}
    rest["notes"] = {str(k): _note(v) for k, v in notes.items()}
    return rest


def fmt(value: float) -> str:
    """A coordinate as people read it: 250, or 392.5 when a profile kept a fraction."""
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"

# Key names the actuator understands (pyautogui's names), plus common aliases models write.
_NAMED_KEYS = {
    "enter", "tab", "space", "backspace", "delete", "escape", "insert", "home", "end",
    "pageup", "pagedown", "up", "down", "left", "right", "ctrl", "ctrlleft", "ctrlright",
    "shift", "shiftleft", "shiftright", "alt", "altleft", "altright", "win", "winleft",
    "winright", "command", "option", "fn", "capslock", "numlock", "scrolllock", "printscreen",
    "pause", "apps", "volumeup", "volumedown", "volumemute", "playpause",
    "nexttrack", "prevtrack",
} | {f"f{n}" for n in range(1, 25)}
KEY_ALIASES = {
    "control": "ctrl", "return": "enter", "esc": "escape", "del": "delete", "ins": "insert",
    "pgup": "pageup", "pgdn": "pagedown", "page_up": "pageup", "page_down": "pagedown",
    "arrowup": "up", "arrowdown": "down", "arrowleft": "left", "arrowright": "right",
    "cmd": "command", "super": "win", "meta": "win", "windows": "win", "opt": "option",
    "prtsc": "printscreen", "bksp": "backspace", "spacebar": "space", "menu": "apps",
    "contextmenu": "apps",
}
KNOWN_KEYS = frozenset(_NAMED_KEYS | {chr(c) for c in range(33, 127) if not chr(c).isupper()})


def normalize_key(name: str) -> str:
    """Return pyautogui's name for a key a model wrote, or raise ValueError."""
    key = name.strip().lower() if len(name.strip()) > 1 else name.strip()
    key = KEY_ALIASES.get(key, key)
    if len(key) == 1 and key.isupper():
        key = key.lower()
    if key not in KNOWN_KEYS:
        raise ValueError(f"unknown key {quote(name)}")
    return key


class BaseStep(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    notes: dict[str, str] = Field(default_factory=dict)  # descriptive fields the model added

    @model_validator(mode="before")
    @classmethod
    def _notes(cls, data: Any) -> Any:
        return _collect_notes(cls.model_fields, data)

    @property
    def is_terminal(self) -> bool:
        return False

    def points(self) -> list[tuple[float, float]]:
        """Model-space points this step acts on, in order."""
        return []

    def describe(self) -> str:
        return str(getattr(self, "action", "step"))


class PointStep(BaseStep):
    """A click of some kind. Without x and y, a grounder finds the target on the screen."""

    x: Coord | None = None
    y: Coord | None = None
    target: str = Field(max_length=300)

    @model_validator(mode="after")
    def _point_or_target(self) -> PointStep:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither (then the target is located)")
        if self.x is None and not self.target.strip():
            raise ValueError("a click without x and y needs a target to locate")
        return self

    @property
    def needs_grounding(self) -> bool:
        return self.x is None

    def points(self) -> list[tuple[float, float]]:
        return [] if self.x is None or self.y is None else [(self.x, self.y)]

    def at(self, x: float, y: float) -> PointStep:
        """The same step at another point (where a grounder found its target)."""
        return self.model_copy(update={"x": x, "y": y})

    def describe(self) -> str:
        where = "" if self.x is None or self.y is None else f" ({fmt(self.x)},{fmt(self.y)})"
        return f"{self.action}{where} {self.target!r}"  # type: ignore[attr-defined]


class Click(PointStep):
    action: Literal["click"]


class DoubleClick(PointStep):
    action: Literal["double_click"]


class RightClick(PointStep):
    action: Literal["right_click"]


class Type(BaseStep):
    action: Literal["type"]
    text: str = Field(min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _printable(cls, value: str) -> str:
        bad = sorted({c for c in value if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127})
        if bad:
            raise ValueError(f"text contains control characters {[hex(ord(c)) for c in bad]}")
        return value

    def describe(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"type {shown!r}"


class Hotkey(BaseStep):
    action: Literal["hotkey"]
    keys: list[str] = Field(min_length=1, max_length=4)

    @field_validator("keys")
    @classmethod
    def _known(cls, keys: list[str]) -> list[str]:
        return [normalize_key(k) for k in keys]

    def describe(self) -> str:
        return "hotkey " + "+".join(self.keys)


def wheel_clicks(dy: int) -> int:
    """A scroll's wheel clicks (plan steps and macro steps alike): never zero."""
    if dy == 0:
        raise ValueError("dy must not be 0 (negative scrolls down, positive up)")
    return dy


class Scroll(BaseStep):
    """Turn the wheel at (x, y), or where the pointer is when the step has no point."""

    action: Literal["scroll"]
    x: Coord | None = None
    y: Coord | None = None
    dy: int = Field(ge=-50, le=50)

    @model_validator(mode="after")
    def _both_or_neither(self) -> Scroll:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither (then the wheel turns at the pointer)")
        return self

    _nonzero = field_validator("dy")(lambda cls, dy: wheel_clicks(dy))

    def points(self) -> list[tuple[float, float]]:
        return [] if self.x is None or self.y is None else [(self.x, self.y)]

    def describe(self) -> str:
        where = "at the pointer" if self.x is None or self.y is None else f"({fmt(self.x)},{fmt(self.y)})"
        return f"scroll {where} dy={self.dy}"


class Drag(BaseStep):
    action: Literal["drag"]
    x: Coord
    y: Coord
    x2: Coord
    y2: Coord

    def points(self) -> list[tuple[float, float]]:
        return [(self.x, self.y), (self.x2, self.y2)]

    def describe(self) -> str:
        return f"drag ({fmt(self.x)},{fmt(self.y)})->({fmt(self.x2)},{fmt(self.y2)})"


class Wait(BaseStep):
    action: Literal["wait"]
    seconds: float = Field(ge=0, le=60)

    def describe(self) -> str:
        return f"wait {self.seconds:g}s"


class Done(BaseStep):
    action: Literal["done"]
    answer: str = Field(default="", max_length=4000)

    @property
    def is_terminal(self) -> bool:
        return True

    def describe(self) -> str:
        return f"done {self.answer!r}" if self.answer else "done"


class Fail(BaseStep):
    action: Literal["fail"]
    reason: str = Field(min_length=1, max_length=4000)

    @property
    def is_terminal(self) -> bool:
        return True

    def describe(self) -> str:
        return f"fail {self.reason!r}"


Step = Annotated[
    Click | DoubleClick | RightClick | Type | Hotkey | Scroll | Drag | Wait | Done | Fail,
    Field(discriminator="action"),
]
STEP_ADAPTER: TypeAdapter[Step] = TypeAdapter(Step)
ACTIONS = ("click", "double_click", "right_click", "type", "hotkey", "scroll", "drag", "wait",
           "done", "fail")


SUBGOALS_MAX = 8
SUBGOAL_LENGTH = 200


class Subgoal(BaseModel):
    """One item of the checklist of the whole task a plan may carry beside its forecast (a
    hierarchical plan). Nothing in it is executed: it is shown, recorded and given back to the
    model, so a model's extra fields in it are dropped rather than refused."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    goal: str = Field(min_length=1, max_length=SUBGOAL_LENGTH)
    done: bool = False

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, data: Any) -> Any:
        if isinstance(data, str):  # a bare list of strings: nothing done yet
            data = {"goal": data}
        if isinstance(data, dict) and isinstance(data.get("goal"), str):
            goal = " ".join(data["goal"].split())
            data = {**data, "goal": goal if len(goal) <= SUBGOAL_LENGTH
                    else goal[:SUBGOAL_LENGTH - 3] + "..."}
        return data


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    thought: str = Field(default="", max_length=2000)
    trajectory: list[Step] = Field(min_length=1)
    subgoals: list[Subgoal] = Field(default_factory=list, max_length=SUBGOALS_MAX)
    notes: dict[str, str] = Field(default_factory=dict)  # descriptive fields the model added

    @field_validator("subgoals", mode="before")
    @classmethod
    def _few_subgoals(cls, value: Any) -> Any:
        # a longer checklist is cut, not refused: the steps beside it are what matters
        return value[:SUBGOALS_MAX] if isinstance(value, list) else value

    @property
    def current_subgoal(self) -> int | None:
        """The index of the sub-goal the forecast works on: the first not done."""
        return next((i for i, g in enumerate(self.subgoals) if not g.done), None)

    @model_validator(mode="before")
    @classmethod
    def _notes(cls, data: Any) -> Any:
        return _collect_notes(cls.model_fields, data)

    @field_validator("trajectory")
    @classmethod
    def _terminal_last(cls, steps: list[BaseStep]) -> list[BaseStep]:
        for i, step in enumerate(steps[:-1]):
            if step.is_terminal:
                raise ValueError(f"step {i} is {step.action!r} but more steps follow it")  # type: ignore[attr-defined]
        return steps

    @property
    def first(self) -> BaseStep:
        return self.trajectory[0]

    def to_dict(self) -> dict[str, Any]:
        """The plan as contract JSON: each step's action first, unset optional fields left out."""
        steps = [step_dict(s) for s in self.trajectory]
        out: dict[str, Any] = {"thought": self.thought, "trajectory": steps}
        if self.subgoals:
            out["subgoals"] = [g.model_dump() for g in self.subgoals]
        return {**out, "notes": dict(self.notes)} if self.notes else out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def step_dict(step: BaseStep) -> dict[str, Any]:
    data = step.model_dump(mode="json", exclude_defaults=True)
    return {"action": data.pop("action"), **data}


def plan_schema(horizon: int) -> dict[str, Any]:
    """The JSON schema of a plan with at most ``horizon`` steps (for grammars and prompts).
    A new dict every call (callers may change it); pydantic builds it once per horizon."""
    return json.loads(_plan_schema(horizon))


@functools.cache
def _plan_schema(horizon: int) -> str:  # pydantic takes ~10 ms to build it: once per horizon
    schema = Plan.model_json_schema()
    schema["properties"].pop("notes", None)
    for step in schema.get("$defs", {}).values():
        step.get("properties", {}).pop("notes", None)
    schema["properties"]["trajectory"]["maxItems"] = horizon
    schema["required"] = ["thought", "trajectory"]
    return json.dumps(schema)


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


MAX_STARTS = 200  # "{" tried per text: each one that fails costs its position in the text


def object_starts(text: str, pos: int = 0) -> Iterator[int]:
    """Where a JSON object may start in ``text`` from ``pos`` (each "{"), at most MAX_STARTS of
    them: a decoder that fails at a start costs time in proportion to where it is (its error
    counts the lines before), so trying every "{" of a long junk answer took quadratic time
    (minutes for a megabyte of "{")."""
    start = text.find("{", pos)
    for _ in range(MAX_STARTS):
        if start < 0:
            return
        yield start
        start = text.find("{", start + 1)


def extract_json(text: str) -> Any:
    """Find the JSON object in a model answer: bare, in a code fence, or amid other text."""
    stripped = text.strip()
    if not stripped:
        raise PlanError("the answer is empty; expected a JSON object")
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)] + [stripped]
    decoder = json.JSONDecoder()
    first_error: str | None = None
    for candidate in candidates:
        for start in object_starts(candidate):
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except RecursionError:
                raise PlanError("the answer nests JSON too deeply to be a plan") from None
            except json.JSONDecodeError as exc:
                first_error = first_error or f"{exc.msg} at line {exc.lineno} column {exc.colno}"
                continue
            if isinstance(value, dict):
                return value
    if first_error:
        raise PlanError(f"the answer holds no valid JSON object ({first_error})")
    raise PlanError("the answer holds no JSON object; expected {\"thought\": ..., \"trajectory\": [...]}")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    previous: Any = None
    for part in loc:
        # pydantic puts the union tag after a step's index; the index says enough.
        tag = (isinstance(previous, int) and part in ACTIONS) or str(part).startswith("function-")
        if isinstance(part, int):
            out += f"[{part}]"
        elif not tag:
            out += f".{part}" if out else str(part)
        previous = part
    return out or "plan"


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = _loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = ("not a field of this action, refused because tracer cannot tell what it "
                   "would change; leave it out (fields that only describe the step, such as "
                   "target or description, are kept as notes)")
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        parts.append(f"{where}: {msg}{shown}")
    return "; ".join(parts)


def parse_plan(text: str, horizon: int) -> Plan:
    """Parse and validate a model answer. Longer forecasts are cut to ``horizon`` steps."""
    data = extract_json(text)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(f"the plan does not match the contract: {format_validation_error(exc)}") from None
    if len(plan.trajectory) > horizon:
        plan = plan.model_copy(update={"trajectory": plan.trajectory[:horizon]})
    return plan


def parse_step(data: dict[str, Any]) -> BaseStep:
    try:
        return STEP_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise PlanError(f"the step does not match the contract: {format_validation_error(exc)}") from None
