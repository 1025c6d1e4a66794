"""Writing macro files: recorded or exported steps as YAML a person can read and edit.

Block style, one step per list item, each step on one line where it fits (``- click: Save``,
``- click: {text: Save, point: [412, 388]}``), short forms where they say the same. Anchor
images handed over as PIL images are saved into a folder next to the macro (``NAME_images/``)
and named relative to the macro file. What is written is loaded back with ``macro.load``
before it replaces the file: a writer bug never leaves a macro that cannot run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tracer_cli import private
from tracer_cli.errors import ConfigError
from tracer_cli.macro.load import SCHEMA_FILE, MacroError, load

WIDTH = 100  # a step longer than this on one line is written in block style
# A string YAML reads back as itself when written bare (no quotes), in flow and block context.
_PLAIN = re.compile(r"[A-Za-z_(][A-Za-z0-9 _.()'/@&+-]*[A-Za-z0-9_.()'/@&+-]|[A-Za-z_]")


def assets_dir(path: Path) -> Path:
    """The folder a macro's anchor images go into: ``login.yaml`` -> ``login_images/``."""
    return path.with_name(f"{path.stem}_images")


def literal(text: str) -> str:
    """``text`` as a macro writes it to mean exactly that text: braces doubled, so that
    ``{name}`` is not taken for a variable."""
    return text.replace("{", "{{").replace("}", "}}")


def anchor_target(target: dict[str, Any]) -> dict[str, Any]:
    """An anchor's target (vision/anchors.py) as a macro step writes it: its text literal."""
    return {**target, "text": literal(target["text"])} if "text" in target else dict(target)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, int) else f"{value:g}"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in ("yes", "no", "on", "off", "true", "false",
                                                       "null", "y", "n", "nan", "inf"):
        import yaml

        if yaml.safe_load(text) == text:
            return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted string


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _block(key: str, value: Any, indent: int) -> list[str]:
    """``key: value`` at ``indent`` spaces, one line when it fits, else nested block style."""
    pad = " " * indent
    line = f"{pad}{key}: {_flow(value)}"
    if len(line) <= WIDTH or not isinstance(value, dict):
        return [line]
    out = [f"{pad}{key}:"]
    for k, v in value.items():
        out.extend(_block(k, v, indent + 2))
    return out


def _short(step: dict[str, Any]) -> dict[str, Any]:
    """The step with its short forms: ``click: Save``, ``click: [x, y]``, ``scroll: -3``."""
    out = dict(step)
    for key in ("click", "double_click", "right_click"):
        if isinstance(out.get(key), dict):
            out[key] = _short_target(out[key])
    if isinstance(out.get("drag"), dict):
        out["drag"] = {k: _short_target(v) if isinstance(v, dict) else v
                       for k, v in out["drag"].items()}
    scroll = out.get("scroll")
    if isinstance(scroll, dict):
        if scroll.get("at") is None:
            out["scroll"] = scroll["dy"]
        elif isinstance(scroll["at"], dict):
            out["scroll"] = {**scroll, "at": _short_target(scroll["at"])}
    keys = out.get("hotkey")
    if isinstance(keys, list) and not any("+" in k or " " in k for k in keys):
        out["hotkey"] = "+".join(keys)
    return out


def _short_target(target: dict[str, Any]) -> Any:
    target = {k: v for k, v in target.items() if v is not None and not (k == "offset" and
                                                                          tuple(v) == (0, 0))}
    if set(target) == {"text"}:
        return target["text"]
    if set(target) == {"point"}:
        return list(target["point"])
    return target


def _save_images(steps: list[dict[str, Any]], folder: Path, base: Path) -> list[dict[str, Any]]:
    """Save every target image given as a PIL image; name it relative to ``base``."""
    count = 0

    def walk(value: Any, number: int, action: str) -> Any:
        nonlocal count
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "image" and hasattr(item, "save"):
                    count += 1
                    private.make_dir(folder)  # cut from screenshots of the desktop: private
                    file = folder / f"{number:03d}-{action.replace('_', '-')}-{count}.png"
                    private.save_image(item, file)
                    out[key] = os.path.relpath(file, base).replace(os.sep, "/")
                else:
                    out[key] = walk(item, number, action)
            return out
        if isinstance(value, list):
            return [walk(v, number, action) for v in value]
        return value

    out = []
    for number, step in enumerate(steps, 1):
        action = next(iter(step), "step")
        out.append(walk(step, number, action))
    return out


def render(steps: list[dict[str, Any]], name: str = "", description: str = "",
           header: list[str] | tuple[str, ...] = (), schema: str | None = None) -> str:
    """The macro file's text. Image targets must be file names by now."""
    lines: list[str] = []
    if schema:
        lines.append(f"# yaml-language-server: $schema={schema}")
    lines.extend(f"# {h}".rstrip() for h in header)
    if lines:
        lines.append("")
    if name:
        lines.append(f"name: {_scalar(name)}")
    if description:
        lines.append(f"description: {_scalar(description)}")
    lines.append("steps:")
    for step in steps:
        step = _short(step)
        first, *rest = list(step.items())
        block = _block(first[0], first[1], 2)
        block[0] = "- " + block[0][2:]
        for key, value in rest:
            block.extend(_block(key, value, 2))
        lines.extend(block)
    return "\n".join(lines) + "\n"


def write_macro(path: Path, steps: list[dict[str, Any]], name: str = "", description: str = "",
                header_comment_lines: list[str] | tuple[str, ...] = ()) -> Path:
    """Write ``steps`` (macro steps as mappings, in the file's long or short form; a target's
    ``image`` may be a PIL image, saved into ``assets_dir(path)``) as a macro file that
    ``macro.load`` accepts. Returns the path written."""
    path = Path(path)
    if not steps:
        raise ConfigError(f"nothing to write to {path}: no steps",
                          "record or export at least one action")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        steps = _save_images(steps, assets_dir(path), path.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write the macro's images next to {path}: {exc}",
                          "choose a writable place for the macro") from None
    schema = SCHEMA_FILE.as_uri() if SCHEMA_FILE.exists() else None
    text = render(steps, name, description, header_comment_lines, schema)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        try:
            load(tmp)
        except MacroError as exc:  # a bug here, not the user's: keep the text to look at
            raise MacroError(f"the macro written for {path} does not load: {exc.message}",
                             f"please report this; the text is in {tmp}") from None
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}", "choose a writable place for the macro") from None
    return path
