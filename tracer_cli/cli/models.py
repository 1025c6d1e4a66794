"""`tracer models ...`: list, pull, add, info, rm, path. Thin, like cli.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from tracer_cli import models as m
from tracer_cli.cli.console import err, guard, out

app = typer.Typer(help="Local models: the catalogue, downloads and your own GGUF files.",
                  no_args_is_help=True)


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e9:.2f} GB"


@app.command("list")
def list_models() -> None:
    """The catalogue and your registered models, with what is installed."""
    with guard():
        from rich.text import Text

        specs = sorted(m.known().items())
        names = {name: name + (" (default)" if name == m.DEFAULT_MODEL else "") for name, _ in specs}
        table = Table(title=f"Models (downloads in {m.models_dir()})", title_justify="left")
        # a name never wraps or truncates; the description under it wraps instead
        table.add_column("name / description", min_width=max(map(len, names.values()), default=4))
        for col in ("source", "profile", "size", "installed"):
            table.add_column(col, no_wrap=True)
        for name, spec in specs:
            cell = Text(names[name], style="bold")
            if spec.description:
                cell.append("\n" + spec.description, style="dim")
            table.add_row(cell, spec.source, spec.profile, _size(spec.size()),
                          "yes" if spec.installed() else "no")
        out.print(table)


def _bars(progress: Progress) -> Callable[[str, int, int], Callable[[int], None]]:
    def start(label: str, total: int, done: int) -> Callable[[int], None]:
        task = progress.add_task(label, total=total or None, completed=done)
        return lambda n: progress.advance(task, n)

    return start


@app.command()
def pull(
    name: Annotated[str, typer.Argument(help="Catalogue name (see `tracer models list`).")],
    force: Annotated[bool, typer.Option("--force", help="Download again even if present.")] = False,
    endpoint: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--endpoint", help="Hub mirror URL (default: $HF_ENDPOINT or huggingface.co).")] = None,
) -> None:
    """Download a catalogue model (language model + vision projector) and verify its checksums.

    Stopped or cut off, a download continues where it stopped when you run the command again."""
    from tracer_cli.download import pull as do_pull

    with guard():
        spec = m.resolve(name)
        if spec.source != "catalogue":
            raise m.ModelError(f"{name} is a registered model, not one to download",
                               "see `tracer models info " + name + "`")
        err.print(f"pulling {spec.name} from {spec.repo} ({_size(spec.size())}) into "
                  f"{spec.local_dir()}")
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn())
        with Progress(*columns, console=err, transient=True) as progress:
            paths = do_pull(spec, endpoint=endpoint, force=force, progress=_bars(progress))
        for path in paths:
            out.print(str(path))
        err.print(f"{spec.name} is ready: tracer do \"...\" --model {spec.name}")


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="A name for it, e.g. my-ui-tars.")],
    model: Annotated[Path, typer.Option("--model", help="The language model .gguf.")],
    mmproj: Annotated[Path, typer.Option("--mmproj", help="Its vision projector .gguf.")],
    profile: Annotated[str, typer.Option("--profile", help=(
        "tracer1, qwen3-vl, ui-tars, ui-tars-v1, gui-owl, ui-venus, opencua or holo."))] = "tracer1",
    max_pixels: Annotated[int, typer.Option(help="Pixel budget of the screenshot (0: the "
                                            "profile's default).")] = 0,
    context: Annotated[int, typer.Option(help="Context size in tokens.")] = 0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer (0: the profile's; thinking "
                                            "models need several thousand).")] = 0,
) -> None:
    """Register GGUF files you already have under a name (they stay where they are)."""
    with guard():
        from tracer_cli.agent.profiles import PROFILES

        PROFILES.get(profile)  # an unknown profile: one line that names the profiles there are
        spec = m.add(name, model.expanduser(), mmproj.expanduser(), profile, max_pixels,
                     context, max_tokens)
        err.print(f"registered {spec.name}: tracer do \"...\" --model {spec.name}")


@app.command()
def info(name: Annotated[str, typer.Argument(help="Model name.")]) -> None:
    """Everything tracer knows about one model."""
    with guard():
        from tracer_cli.agent.profiles import PROFILES

        spec = m.resolve(name)
        rows = [("name", spec.name), ("source", spec.source), ("description", spec.description),
                ("repository", spec.repo and f"{spec.repo}@{spec.revision}"),
                ("profile", spec.profile), *_image_rows(spec),
                ("context", str(spec.context)),
                ("answer budget", f"{spec.max_tokens or PROFILES.get(spec.profile).max_tokens} tokens"
                 + (" (a thinking model)" if spec.thinking else "")),
                ("installed", "yes" if spec.installed() else "no")]
        for which in ("model", "mmproj"):
            f: m.ModelFile = getattr(spec, which)
            rows += [(which, f.file), ("  path", str(spec.local_path(which))),
                     ("  size", _size(f.size)), ("  sha256", f.sha256 or "(from the hub)")]
        table = Table(show_header=False)
        for key, value in rows:
            if value:
                table.add_row(key, escape(value))
        out.print(table)


def _image_rows(spec: m.ModelSpec) -> list[tuple[str, str]]:
    """What the model's screenshots look like and what its coordinates mean."""
    from tracer_cli.agent.profiles import PROFILES

    geometry = PROFILES.get(spec.profile).geometry
    sizes = ", ".join(f"{w}x{h} -> {'x'.join(map(str, geometry.size(w, h, spec.max_pixels)))}"
                      for w, h in ((1920, 1080), (2560, 1440), (1366, 768)))
    budget = geometry.budget(spec.max_pixels)
    return [("image", f"{geometry.family}: {geometry.describe()}"),
            ("image budget", f"{budget} pixels ({budget // geometry.token_pixels} image tokens); "
                             f"screens are sent as {sizes}")]


@app.command("rm")
def remove(
    name: Annotated[str, typer.Argument(help="Model name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a downloaded model, or forget a registered one (its files are kept)."""
    with guard():
        if not yes and sys.stdin.isatty():
            if not typer.confirm(f"remove {name}?", default=False, err=True):
                raise typer.Exit(1)
        for path in m.remove(name):
            err.print(f"removed {path}")


@app.command()
def path(name: Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="Model name; none prints the downloads directory.")] = None) -> None:
    """Print where a model's files are (model, then mmproj)."""
    with guard():
        if name is None:
            out.print(str(m.models_dir()))
            return
        spec = m.resolve(name)
        out.print(str(spec.local_path("model")))
        out.print(str(spec.local_path("mmproj")))
