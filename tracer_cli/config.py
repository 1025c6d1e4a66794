"""Settings: defaults < config file (TOML) < environment (TRACER_*) < command-line flags.
Where the config file is: paths.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracer_cli.errors import ConfigError
from tracer_cli.paths import config_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_PREFIX = "TRACER_"


class Settings(BaseModel):
    """Everything a run can be configured with. Field descriptions show in `tracer config`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: str = Field("llama", description="planner backend: llama (local GGUF), openai (a "
                         "server; chosen by default when base_url is set), script")
    base_url: str = Field("http://127.0.0.1:8080/v1", description="OpenAI-compatible server URL")
    model: str = Field("", description="llama: a catalogue name or a .gguf path (empty: "
                       "`tracer models default`); a server: its model name (empty: its only "
                       "model)")
    script: str = Field("", description="JSONL file of plans for the script backend")
    profile: str = Field("tracer1", description="how the model is prompted and read")
    horizon: int = Field(5, ge=1, le=20, description="steps forecast per model call")
    max_steps: int = Field(30, ge=1, le=1000, description="actions before giving up")
    timeout: float = Field(900.0, gt=0, description="seconds before giving up on the task")
    monitor: int = Field(1, ge=1, description="monitor to see and act on (1 = the primary)")
    display: str = Field("", description="the desktop to see and act on: an X display (:1) or a "
                         "Wayland display (wayland-1); empty: the session's")
    platform: str = Field("auto", pattern=r"^[a-z][a-z0-9_-]*$", description="the kind of "
                          "desktop: x11, gnome (Wayland), wlroots (sway, Hyprland), kde (Plasma on "
                          "Wayland), generic (macOS, Windows: untested) or auto (found from the "
                          "session)")
    confirm: Literal["always", "risky", "never"] = Field(
        "risky", description="ask before: every action, risky ones (tracer's own rules), none "
        "(--yes)")
    kill_hotkey: str = Field("<ctrl>+<alt>+<shift>+k", description="global hotkey that stops "
                             "tracer at once from anywhere (pynput syntax; empty: off)")
    pause_hotkey: str = Field("<ctrl>+<alt>+<shift>+p", description="global hotkey that pauses "
                              "tracer between two keys so you can take the mouse, and resumes it "
                              "(pynput syntax; empty: off)")
    replan: Literal["always", "adaptive"] = Field(
        "adaptive", description="after each step ask the model again (always), or run the next "
        "forecast step without a model call while cheap checks say it still holds (adaptive)")
    speculative_steps: int = Field(4, ge=1, le=19, description="adaptive: forecast steps run "
                                   "in a row without a model call, at most")
    prefix_cache_mb: int = Field(1024, ge=0, description="llama: MiB of the cache folder's "
                                 "prefix/ kept for the KV cache of prompts' instructions, "
                                 "loaded by the next run instead of evaluated (0: off)")
    stream_first: bool = Field(True, description="run a forecast's first step as soon as the "
                               "streamed answer holds it whole, while the model writes the rest")
    loop_replan: int = Field(2, ge=1, le=50, description="the same action with no visible "
                             "effect this many times in a row: tell the model to re-plan")
    loop_stop: int = Field(4, ge=1, le=100, description="the same action with no visible effect "
                           "this many times in a row: stop the run")
    max_pixels: int = Field(0, ge=0, description="pixel budget of the model's screenshot (0: the "
                            "model family's default, just over its grounding minimum)")
    zoom: bool = Field(True, description="with a screenshot under the model family's grounding "
                       "minimum, place each click again on a full-resolution crop around the "
                       "model's point (a follow-up turn, or the grounder's prompt)")
    ground_on_screen: bool = Field(True, description="a click whose target the screen shows at "
                                   "the model's point (the accessibility tree's element there, or "
                                   "its text read there) goes to that element or text without a "
                                   "zoom turn or grounder call")
    image_format: Literal["png", "jpeg"] = Field("png", description="screenshot encoding")
    temperature: float = Field(0.0, ge=0, le=2, description="sampling temperature")
    max_tokens: int = Field(0, ge=0, description="longest answer accepted from the model (0: the "
                            "model's or profile's; thinking models need several thousand)")
    answer_retries: int = Field(2, ge=0, le=10, description="re-asks after a malformed answer")
    request_timeout: float = Field(120.0, gt=0, description="seconds to wait for a model's "
                                   "answer to start (its first token; the whole answer from a "
                                   "server that does not stream)")
    stall_timeout: float = Field(30.0, gt=0, description="seconds without a new token, once an "
                                 "answer started streaming, before the server counts as stalled")
    request_retries: int = Field(2, ge=0, le=10, description="retries of a request that a retry "
                                 "can fix: connection refused, 429 with Retry-After, 5xx (never "
                                 "a timeout)")
    settle_quiet: float = Field(0.3, ge=0, description="seconds without change = screen settled")
    settle_timeout: float = Field(3.0, ge=0, description="longest wait for the screen to settle")
    history: int = Field(10, ge=0, le=100, description="past steps shown to the model")
    history_images: int = Field(-1, ge=-1, le=8, description="earlier screenshots sent with the "
                                "model's replies made on them (-1: the profile's: 4 for ui-tars, "
                                "as it was trained; 0 for the others)")
    mmproj: str = Field("", description="vision projector .gguf, with a model given as a path")
    gpu_layers: str = Field("auto", pattern=r"^(auto|all|-1|[0-9]+)$",
                            description="layers offloaded to the GPU: a number, all or auto")
    threads: int = Field(0, ge=0, le=512, description="CPU threads for llama.cpp (0: automatic)")
    context: int = Field(0, ge=0, le=262144, description="context size in tokens (0: the model's)")
    flash_attn: bool = Field(True, description="flash attention in the language model and the "
                             "vision encoder (on a CPU it cuts the encoder's time by about a third)")
    projector_q8: bool = Field(True, description="on a CPU, run the vision encoder on a Q8_0 "
                               "copy of an F16 projector, made once in the cache folder (about a "
                               "tenth faster, 0.4 GB less memory)")
    grammar: bool = Field(False, description="constrain decoding to the plan's JSON schema")
    subgoals: bool = Field(False, description="ask the model (tracer1 profile) to keep a short "
                           "checklist of the task's sub-goals beside each forecast, shown in the "
                           "panel, the run record and the events (costs some answer tokens)")
    elements: bool = Field(False, description="list the active window's interactive elements "
                           "(accessibility tree: role, name, box in the model's coordinates) "
                           "after the screenshot in each request; off unless measured to help")
    grounder: str = Field("", description="a second model that places clicks: a model name, "
                          ".gguf path or server URL (empty: the planner's own model)")
    grounder_profile: str = Field("", description="the grounder's profile (empty: its model's)")
    grounder_mmproj: str = Field("", description="the grounder's projector, for a .gguf path")
    grounder_model: str = Field("", description="the model name on a grounder server")
    runs_max_mb: int = Field(2000, ge=0, description="run records kept under this many MB in all: "
                             "the oldest are removed when a run starts and ends (0: no cap)")
    ocr: Literal["auto", "rapidocr", "tesseract"] = Field(
        "auto", description="OCR engine that finds macro text targets (auto: rapidocr if "
        "installed, else tesseract)")

    @property
    def api_key(self) -> str:
        """Taken from the environment only, so it is never written into a config file."""
        return os.environ.get("TRACER_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        if os.environ.get("TRACER_CONFIG"):
            raise ConfigError(f"config file {path} (from TRACER_CONFIG) does not exist",
                              "create it or unset TRACER_CONFIG")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}",
                          "fix the line named, or move the file away") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}",
                          "see `tracer config` for the settings there are")
    return data


def _read_env() -> dict[str, str]:
    out = {}
    for name in Settings.model_fields:
        value = os.environ.get(ENV_PREFIX + name.upper())
        if value is not None:
            out[name] = value
    return out


def _check(layer: dict[str, Any], where: str) -> None:
    for name, value in layer.items():
        try:
            Settings.__pydantic_validator__.validate_assignment(Settings.model_construct(), name,
                                                                value)
        except ValidationError as exc:
            msg = exc.errors(include_url=False)[0]["msg"]
            label = f"{ENV_PREFIX}{name.upper()}" if where == "env" else name
            raise ConfigError(f"{where}: {label}={value!r}: {msg}",
                              "fix the value, or see `tracer config`") from None


def load(flags: dict[str, Any] | None = None) -> tuple[Settings, dict[str, str]]:
    """The effective settings and, for each, where its value came from."""
    path = config_path()
    layers = [
        ("file", _read_file(path)),
        ("env", _read_env()),
        ("flag", {k: v for k, v in (flags or {}).items() if v is not None}),
    ]
    values: dict[str, Any] = {}
    sources = dict.fromkeys(Settings.model_fields, "default")
    for where, layer in layers:
        _check(layer, f"config file {path}" if where == "file" else where)
        values.update(layer)
        sources.update(dict.fromkeys(layer, where))
    return Settings(**values), sources


def load_valid(flags: dict[str, Any] | None = None) -> tuple[Settings, dict[str, str]]:
    """Like load(), leaving out each value in error instead of refusing (for `tracer doctor`,
    which reports the error and checks the rest)."""
    from contextlib import suppress

    layers: list[tuple[str, dict[str, Any]]] = []
    with suppress(ConfigError):
        layers.append(("file", _read_file(config_path())))
    layers += [("env", _read_env()), ("flag", {k: v for k, v in (flags or {}).items() if v is not None})]
    values: dict[str, Any] = {}
    sources = dict.fromkeys(Settings.model_fields, "default")
    for where, layer in layers:
        for name, value in layer.items():
            try:
                _check({name: value}, where)
            except ConfigError:
                continue
            values[name], sources[name] = value, where
    return Settings(**values), sources


def imply_backend(settings: Settings, sources: dict[str, str]) -> None:
    """A server named (flag, variable or file) and no backend chosen: use the server."""
    if sources["backend"] == "default" and sources["base_url"] != "default":
        settings.backend = "openai"
