"""The options that `do`, `plan`, `run` and `doctor` share, declared once. Each defaults to None:
a flag left out does not override the environment or the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Backend = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--backend", "-b", help="Planner backend: llama (a local GGUF model), openai (any "
    "OpenAI-compatible server) or script (plans from a file).")]


BaseUrl = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--base-url", help="URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")]


Model = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--model", "-m", help="llama: a catalogue or registered name, or a .gguf path; openai: the "
    "model's name on the server (default: its only model).")]


Mmproj = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--mmproj", help="The vision projector .gguf, when --model is a path.")]


GpuLayers = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--gpu-layers", help="Layers offloaded to the GPU: a number, all or auto.")]


Threads = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--threads", help="CPU threads for llama.cpp (default: automatic).")]


Context = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--context", help="Context size in tokens (default: the model's).")]


FlashAttn = Annotated[Optional[bool], typer.Option(  # noqa: UP045
    "--flash-attn/--no-flash-attn", help="Flash attention where supported.")]


Grammar = Annotated[Optional[bool], typer.Option(  # noqa: UP045
    "--grammar/--no-grammar", help="Constrain decoding to the plan's JSON schema.")]


GrounderOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--grounder", help="A second model that places each click: a model name, a .gguf path "
    "(with --grounder-mmproj) or a server URL. Default: the planner's own model.")]


GrounderProfile = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--grounder-profile", help="The grounder's profile (default: its model's, else tracer1).")]


GrounderMmproj = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--grounder-mmproj", help="The grounder's vision projector, when --grounder is a path.")]


Script = Annotated[Optional[Path], typer.Option(  # noqa: UP045
    "--script", help="JSONL file of plans, one per model call (script backend).")]


Profile = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--profile", help="How the model is prompted and read: tracer1, qwen3-vl or ui-tars "
    "(default: the model's).")]


Horizon = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--horizon", "-k", help="Steps the model forecasts per call (default 5).")]


Monitor = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--monitor", help="Monitor to see and act on, mss numbering: 1 = primary.")]


Display = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--display", help="X display to use, e.g. :1 (default: $DISPLAY).")]


MaxPixels = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--max-pixels", help="Pixel budget of the screenshot sent to the model.")]


MaxTokens = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--max-tokens", help="Longest answer accepted from the model (default: the model's or "
    "profile's; thinking models need several thousand).")]


ReqTimeout = Annotated[Optional[float], typer.Option(  # noqa: UP045
    "--request-timeout", help="Seconds to wait for one model answer.")]

