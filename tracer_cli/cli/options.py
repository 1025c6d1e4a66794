"""The options that `do`, `plan`, `run` and `doctor` share, declared once and grouped into help
panels. Each defaults to None: a flag left out does not override the environment or the config
file (`tracer config` shows every setting, its value and where it comes from)."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

MODEL, LOCAL, SCREEN, SAFETY = ("Model", "Local model (llama)", "Screen", "Safety")


def _option(*names: str, help: str, panel: str) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help, rich_help_panel=panel)


# Model: what answers, and how it is asked
Backend = Annotated[Optional[str], _option(  # noqa: UP045
    "--backend", "-b", help="llama (local GGUF), openai (a server) or script.", panel=MODEL)]
BaseUrl = Annotated[Optional[str], _option(  # noqa: UP045
    "--base-url", help="An OpenAI-compatible server (http://127.0.0.1:8080/v1).", panel=MODEL)]
Model = Annotated[Optional[str], _option(  # noqa: UP045
    "--model", "-m", help="A catalogue name, a .gguf path, or the server's model.",
    panel=MODEL)]
Mmproj = Annotated[Optional[str], _option(  # noqa: UP045
    "--mmproj", help="The vision projector .gguf, with a --model path.", panel=MODEL)]
Script = Annotated[Optional[Path], _option(  # noqa: UP045
    "--script", help="JSONL of answers, one per model call (script backend).", panel=MODEL)]
Profile = Annotated[Optional[str], _option(  # noqa: UP045
    "--profile", help="Answer format: tracer1, qwen3-vl, ui-tars, gui-owl, ...",
    panel=MODEL)]
Horizon = Annotated[Optional[int], _option(  # noqa: UP045
    "--horizon", "-k", help="Steps forecast per model call (default 5).", panel=MODEL)]
Subgoals = Annotated[Optional[bool], _option(  # noqa: UP045
    "--subgoals", help="Keep a checklist of the task's sub-goals (tracer1).",
    panel=MODEL)]
ElementsOpt = Annotated[Optional[bool], _option(  # noqa: UP045
    "--elements", help="List the active window's elements for the model (off).",
    panel=MODEL)]
MaxTokens = Annotated[Optional[int], _option(  # noqa: UP045
    "--max-tokens", help="Longest answer (default: the model's or the profile's).", panel=MODEL)]
ReqTimeout = Annotated[Optional[float], _option(  # noqa: UP045
    "--request-timeout", help="Seconds to wait for a model answer to start (120).",
    panel=MODEL)]
GrounderOpt = Annotated[Optional[str], _option(  # noqa: UP045
    "--grounder", help="A second model placing each click: name, .gguf or URL.", panel=MODEL)]
GrounderProfile = Annotated[Optional[str], _option(  # noqa: UP045
    "--grounder-profile", help="The grounder's profile (default: its model's).", panel=MODEL)]
GrounderMmproj = Annotated[Optional[str], _option(  # noqa: UP045
    "--grounder-mmproj", help="The grounder's projector, with a --grounder path.", panel=MODEL)]
GrounderModel = Annotated[Optional[str], _option(  # noqa: UP045
    "--grounder-model", help="The grounder's model name on its server.",
    panel=MODEL)]

# Local model: how llama.cpp runs it
GpuLayers = Annotated[Optional[str], _option(  # noqa: UP045
    "--gpu-layers", help="Layers on the GPU: a number, all or auto.", panel=LOCAL)]
Threads = Annotated[Optional[int], _option(  # noqa: UP045
    "--threads", help="CPU threads (default: automatic).", panel=LOCAL)]
Context = Annotated[Optional[int], _option(  # noqa: UP045
    "--context", help="Context size in tokens (default: the model's).", panel=LOCAL)]
FlashAttn = Annotated[Optional[bool], _option(  # noqa: UP045
    "--flash-attn/--no-flash-attn", help="Flash attention in model and encoder (on).",
    panel=LOCAL)]
ProjectorQ8 = Annotated[Optional[bool], _option(  # noqa: UP045
    "--projector-q8/--no-projector-q8",
    help="CPU: encode on a Q8_0 copy of the projector (on).", panel=LOCAL)]
Grammar = Annotated[Optional[bool], _option(  # noqa: UP045
    "--grammar/--no-grammar", help="Constrain decoding to the plan's schema.", panel=LOCAL)]

# Screen: which one, and how the model sees it
Monitor = Annotated[Optional[int], _option(  # noqa: UP045
    "--monitor", help="Monitor to see and act on (1 = primary).", panel=SCREEN)]
Display = Annotated[Optional[str], _option(  # noqa: UP045
    "--display", help="The desktop (:1, wayland-1); default: the session's.", panel=SCREEN)]
Platform = Annotated[Optional[str], _option(  # noqa: UP045
    "--platform", help="x11, gnome, wlroots, kde or generic (default: auto).",
    panel=SCREEN)]
MaxPixels = Annotated[Optional[int], _option(  # noqa: UP045
    "--max-pixels", help="Screenshot budget (default: the model family's).", panel=SCREEN)]
Zoom = Annotated[Optional[bool], _option(  # noqa: UP045
    "--zoom/--no-zoom", help="Place clicks again on a full-size crop (on).",
    panel=SCREEN)]
Ocr = Annotated[Optional[str], _option(  # noqa: UP045
    "--ocr", help="OCR engine for text targets: auto, rapidocr or tesseract.", panel=SCREEN)]

# Safety: asking, stopping, giving up
Yes = Annotated[bool, _option("--yes", "-y", help="Never ask before a step (--confirm never).",
                              panel=SAFETY)]
Confirm = Annotated[Optional[str], _option(  # noqa: UP045
    "--confirm", help="Ask before: always, risky (default; tracer's rules) or never.", panel=SAFETY)]
KillHotkey = Annotated[Optional[str], _option(  # noqa: UP045
    "--kill-hotkey", help="Stops tracer from anywhere (pynput syntax; '' off).", panel=SAFETY)]
PauseHotkey = Annotated[Optional[str], _option(  # noqa: UP045
    "--pause-hotkey", help="Pauses tracer, again resumes it (pynput syntax; '' off).",
    panel=SAFETY)]
Events = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--events", help="jsonl: each event of the run as a JSON line on stdout.")]
MaxSteps = Annotated[Optional[int], _option(  # noqa: UP045
    "--max-steps", help="Give up after this many actions (default 30).", panel=SAFETY)]
Timeout = Annotated[Optional[float], _option(  # noqa: UP045
    "--timeout", help="Give up after this many seconds (default 900).", panel=SAFETY)]
Wait = Annotated[bool, _option(
    "--wait", help="Start when the run holding the desktop ends (default: refuse).",
    panel=SAFETY)]

# Sandbox: a private desktop for the run (tracer do), in the Screen panel
InSandbox = Annotated[bool, _option(
    "--sandbox", help="Act in a new private desktop (removed after).", panel=SCREEN)]
SandboxApps = Annotated[Optional[list[str]], _option(  # noqa: UP045
    "--app", help="Start this program in the sandbox (repeatable).", panel=SCREEN)]
SandboxSize = Annotated[str, _option("--sandbox-size", help="The sandbox's WxH.", panel=SCREEN)]

# Adaptive re-planning: fewer model calls (in the Model panel: when the model is asked; a panel
# of its own would cost `tracer do --help` two lines more than a screen)
Replan = Annotated[Optional[str], _option(  # noqa: UP045
    "--replan", help="adaptive (default: checked forecast steps run) or always.",
    panel=MODEL)]
SpeculativeSteps = Annotated[Optional[int], _option(  # noqa: UP045
    "--speculative-steps", help="Forecast steps in a row without a model call (4).",
    panel=MODEL)]


# The options of every command that runs a model (do, plan, run): added by one decorator.
MODEL_OPTIONS = {
    "backend": Backend, "base_url": BaseUrl, "model": Model, "mmproj": Mmproj, "script": Script,
    "profile": Profile, "horizon": Horizon, "subgoals": Subgoals, "elements": ElementsOpt,
    "max_tokens": MaxTokens,
    "request_timeout": ReqTimeout, "grounder": GrounderOpt, "grounder_profile": GrounderProfile,
    "grounder_mmproj": GrounderMmproj, "grounder_model": GrounderModel, "gpu_layers": GpuLayers,
    "threads": Threads, "context": Context, "flash_attn": FlashAttn, "projector_q8": ProjectorQ8,
    "grammar": Grammar, "monitor": Monitor,
    "display": Display, "platform": Platform, "max_pixels": MaxPixels, "zoom": Zoom,
}


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the model and screen options: Typer sees them as parameters after the
    command's own; the command receives those given as one dict, ``model_flags`` (setting name
    -> value), to pass on explicitly."""
    hints = typing.get_type_hints(command, include_extras=True)  # the annotations, not strings
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values() if p.name != "model_flags"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
             for name, kind in MODEL_OPTIONS.items()]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in MODEL_OPTIONS if name in kwargs}
        return command(*args, model_flags={k: v for k, v in flags.items() if v is not None},
                       **kwargs)

    run.__signature__ = inspect.signature(command).replace(parameters=own + added)  # type: ignore[attr-defined]
    return run


def check_events(events: str | None) -> bool:
    """Whether an event stream was asked for; a format other than jsonl is a usage error."""
    if events is None or events == "":
        return False
    if events != "jsonl":
        from tracer_cli.errors import ConfigError

        raise ConfigError(f"--events {events!r} is not a format tracer writes",
                          "use --events jsonl (one JSON object per line)")
    return True
